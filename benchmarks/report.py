"""Merges the benchmarks' results into one report per device.

Reads `<name>_<device>.json` and `<name>_<device>.md`, as each benchmark
writes them into an output directory, and writes next to them:

  - `<device>.json`: `{"device", "versions", "timestamp", "benchmarks":
    {name: the benchmark's JSON}, "failed": {name: why}, "missing": [names],
    "summary": [headline rows], "runner": the runner's record or None}`;
  - `<device>.md`: each benchmark's headline first, then each benchmark's
    own report;
  - `<device>.png`: a bar chart of the headline ratios (a benchmark's own
    grouped panel where it gives one, e.g. xla's paths per model, graph =
    1.0; the others' key ratios on a log scale; error bars from min to max),
    when matplotlib is installed (`pip install -e ".[bench]"`); without it
    the report says so in one line and everything else is written.

The report knows no benchmark's layout: it joins the headline each one
wrote, the `summary` field of its JSON (`{"title", "markdown", "items",
"chart"}`, see `benchmarks.common.publish`). A result written before that
field existed is summarized by its module's `summary(result)`. Missing
benchmarks (not run yet, failed) leave gaps in the report, never an error.

`python -m benchmarks` calls `write_report` after running the benchmarks;
`python -m benchmarks.report --output_dir=DIR` rebuilds the report from the
files already in DIR.

Usage:
  python -m benchmarks.report                         # benchmarks/results
  python -m benchmarks.report --output_dir=/tmp/bench --device=cpu
"""

import importlib
import io
import json
import os
import re
import sys

from absl import app, flags

from benchmarks import common

MODULE = "benchmarks.report"
# Headline order; also the benchmarks `python -m benchmarks` runs by default.
BENCHMARKS = ("xla", "resnet_vs_keras", "cudnn", "export", "data")
DEVICES = ("cpu", "gpu")
NO_MATPLOTLIB = ('chart not written: matplotlib is not installed '
                 '(pip install -e ".[bench]")')


def summary_of(name, result):
    """The headline `{"title", "markdown", "items", "chart"}` of one result.

    The result's own `summary` field; for a result from before that field,
    what `benchmarks.<name>.summary(result)` makes of it. Never raises: on a
    malformed result the markdown says what went wrong.
    """
    if isinstance(result.get("summary"), dict):
        return {"title": name, "markdown": "", "items": [], "chart": None,
                **result["summary"]}
    try:
        build = getattr(importlib.import_module(f"benchmarks.{name}"), "summary", None)
    except ImportError:
        build = None
    if build is None:
        return {"title": name, "markdown": "(no summary in this result; rerun the benchmark)",
                "items": [], "chart": None}
    try:
        return build(result)
    except Exception as exc:  # noqa: BLE001 - a report never fails on one result
        return {"title": name, "markdown": f"(headline unavailable: {type(exc).__name__}: "
                                           f"{exc})", "items": [], "chart": None}


# --------------------------------------------------------------------------
# Reading and merging.


def result_paths(output_dir, names=BENCHMARKS):
    """`{device: {name: json path}}` of the results found in `output_dir`."""
    found = {}
    for device in DEVICES:
        for name in names:
            path = os.path.join(output_dir, f"{name}_{device}.json")
            if os.path.isfile(path):
                found.setdefault(device, {})[name] = path
    return found


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def demote_headings(markdown, levels=1):
    """Adds `levels` `#` to every ATX heading outside code fences, so a
    benchmark's own report nests under the merged report's headings."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def merge(output_dir, device, names=BENCHMARKS, failed=None, runner=None):
    """The merged report of `device` as a dict, plus the benchmarks' markdown.

    Args:
        output_dir: directory holding `<name>_<device>.json` and `.md`.
        device: "cpu" or "gpu".
        names: benchmarks to include, in order.
        failed: optional `{name: record}` of benchmarks that failed in the
            run that calls this (see `benchmarks.__main__`). Their result
            files, if any, are older than that run: left out, and noted.
        runner: optional JSON-ready record of that run.

    Returns:
        `(merged, sections)`: `merged` as described in the module docstring;
        `sections` `{name: markdown}` of each included benchmark.
    """
    failed = {name: dict(record) for name, record in (failed or {}).items()}
    benchmarks, sections, missing = {}, {}, []
    for name in names:
        path = os.path.join(output_dir, f"{name}_{device}.json")
        if not os.path.isfile(path):
            if name not in failed:
                missing.append(name)
            continue
        try:
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
            if not isinstance(result, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            failed.setdefault(name, {})["unreadable_result"] = f"{path}: {exc}"
            continue
        if name in failed:
            failed[name]["older_result_left_out"] = result.get("timestamp") or path
            continue
        benchmarks[name] = result
        md = _read_text(os.path.join(output_dir, f"{name}_{device}.md"))
        sections[name] = md if md is not None else f"# {name}\n\n(no {name}_{device}.md)\n"

    summary = []
    for name, result in benchmarks.items():
        summary += summary_of(name, result)["items"]
    newest = max(benchmarks.values(), key=lambda r: str(r.get("timestamp", "")), default={})
    merged = {
        "device": newest.get("device", {"kind": device}),
        "versions": newest.get("versions"),
        "timestamp": common.utc_timestamp(),
        "benchmarks": benchmarks,
        "failed": failed,
        "missing": missing,
        "summary": summary,
        "runner": runner,
    }
    return merged, sections


def render_markdown(merged, sections, chart_line):
    """The merged markdown: context, headlines, failures, then each report."""
    dev = merged.get("device") or {}
    ver = merged.get("versions") or {}
    kind = dev.get("kind", "?")
    lines = [f"# Benchmarks on {kind}: {dev.get('name', 'unknown device')}", ""]
    if ver:
        lines.append(f"- versions: TensorFlow {ver.get('tensorflow', '?')}, Keras "
                     f"{ver.get('keras', '?')}, Python {ver.get('python', '?')}")
    if dev.get("kernels"):
        lines.append(f"- kernels: {dev['kernels']}")
    lines.append(f"- report built {merged['timestamp']} from "
                 + (", ".join(f"{name} ({r.get('timestamp', '?')})"
                              for name, r in merged["benchmarks"].items()) or "no results"))
    runner = merged.get("runner") or {}
    if runner.get("wall_s"):
        times = ", ".join(f"{name} {s:.0f} s" for name, s in runner["wall_s"].items())
        lines.append(f"- run: `{runner.get('command', 'python -m benchmarks')}`: {times}; "
                     f"total {runner.get('total_s', 0):.0f} s")
    if merged["failed"]:
        lines.append("- failed: " + ", ".join(merged["failed"]))
    if merged["missing"]:
        lines.append("- not run (no result file): " + ", ".join(merged["missing"]))
    lines += ["", chart_line, "", "## Headline", ""]
    for name, result in merged["benchmarks"].items():
        headline = summary_of(name, result)
        lines += [f"### {name}: {headline['title']}", "", headline["markdown"], ""]
    if not merged["benchmarks"]:
        lines += ["No benchmark results.", ""]
    if merged["failed"]:
        lines += ["## Failed", ""]
        for name, record in merged["failed"].items():
            rc = record.get("returncode")
            what = record.get("reason") or (f"exit code {rc}" if rc is not None else "failed")
            lines.append(f"- {name}: {what}")
            for key in ("older_result_left_out", "unreadable_result"):
                if record.get(key):
                    lines.append(f"  ({key.replace('_', ' ')}: {record[key]})")
            tail = record.get("stderr_tail") or []
            if tail:
                lines += ["", "  ```", *(f"  {line}" for line in tail), "  ```"]
        lines.append("")
    for name, md in sections.items():
        lines += [demote_headings(md.strip()), ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------
# Chart.


def _pyplot_free_figure():
    """A matplotlib `Figure` class, or None when matplotlib is missing.

    Uses `matplotlib.figure.Figure` directly (no pyplot, no GUI backend):
    `savefig` to a PNG renders with Agg.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def chart_data(merged):
    """What the chart plots.

    Returns:
        `(panels, ratios)`: `panels` `{name: {"title", "ylabel", "groups":
        {group: {bar: (median, low, high)}}}}`, the grouped panels the
        benchmarks gave (`summary["chart"]`); `ratios` a list of `(label,
        median, low, high)` of the other benchmarks' headline items.
    """
    panels, ratios = {}, []
    for name, result in merged["benchmarks"].items():
        headline = summary_of(name, result)
        chart = headline.get("chart")
        if chart:
            groups = {group: {bar: tuple(values) for bar, values in bars.items()}
                      for group, bars in chart["groups"].items()}
            panels[name] = {**chart, "groups": groups}
            continue
        ratios += [(f"{name}: {item['label']}", item["median"], item["min"], item["max"])
                   for item in headline["items"]
                   if item["median"] is not None and item["median"] > 0 and item["min"] > 0]
    return panels, ratios


def write_chart(merged, path):
    """Writes the bar chart to `path` (PNG, atomically).

    Returns:
        `(written, line)`: whether a PNG was written, and the one markdown
        line saying so (or why not).
    """
    figure_class = _pyplot_free_figure()
    if figure_class is None:
        return False, NO_MATPLOTLIB
    grouped, ratios = chart_data(merged)
    if not grouped and not ratios:
        return False, "chart not written: no ratios to plot"
    heights = ([4.0] * len(grouped)
               + ([max(2.5, 0.28 * len(ratios) + 1.0)] if ratios else []))
    fig = figure_class(figsize=(11, sum(heights) + 0.6 * len(heights)),
                       layout="constrained")
    axes = fig.subplots(len(heights), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    kind = (merged.get("device") or {}).get("kind", "?")
    for ax, (name, panel) in zip(axes, grouped.items()):
        groups = list(panel["groups"])
        bars = list(dict.fromkeys(b for g in groups for b in panel["groups"][g]))
        width = 0.8 / max(len(bars), 1)
        for i, bar in enumerate(bars):
            xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(groups))]
            values = [panel["groups"][g].get(bar, (0.0, 0.0, 0.0)) for g in groups]
            ax.bar(xs, [v[0] for v in values], width, label=bar,
                   yerr=[[v[0] - v[1] for v in values], [v[2] - v[0] for v in values]],
                   capsize=3)
        ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(groups)), groups, rotation=15)
        ax.set_ylabel(panel["ylabel"])
        ax.set_title(f"{name} ({kind}): {panel['title']}")
        ax.legend()
    if ratios:
        ax = axes[-1]
        ys = list(range(len(ratios)))[::-1]
        medians = [r[1] for r in ratios]
        benchmarks = list(dict.fromkeys(r[0].split(":")[0] for r in ratios))
        palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                   "tab:brown"]
        ax.barh(ys, medians, xerr=[[r[1] - r[2] for r in ratios],
                                   [r[3] - r[1] for r in ratios]],
                capsize=2, color=[palette[benchmarks.index(r[0].split(":")[0]) % len(palette)]
                                  for r in ratios])
        ax.axvline(1.0, color="gray", linewidth=0.8, linestyle="--")
        ax.set_yticks(ys, [r[0] for r in ratios], fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("ratio (log scale; see each row's meaning in the report)")
        ax.set_title(f"key ratios ({kind}): median, error bars min–max")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    common.write_bytes_atomic(path, buffer.getvalue())
    return True, f"![benchmark ratios]({os.path.basename(path)})"


# --------------------------------------------------------------------------
# Writing.


def write_report(output_dir, device, names=BENCHMARKS, failed=None, runner=None,
                 log=print):
    """Writes `<device>.json`, `<device>.md` and (with matplotlib) `<device>.png`.

    Args: see `merge`; `log` takes one progress line.

    Returns:
        `{"json": path, "md": path, "png": path or None}`.
    """
    merged, sections = merge(output_dir, device, names=names, failed=failed, runner=runner)
    png = os.path.join(output_dir, f"{device}.png")
    try:
        written, chart_line = write_chart(merged, png)
    except Exception as exc:  # noqa: BLE001 - the chart is optional
        written, chart_line = False, f"chart not written: {type(exc).__name__}: {exc}"
    merged["chart"] = os.path.basename(png) if written else None
    if not written:
        log(chart_line)
    json_path = common.write_json_atomic(os.path.join(output_dir, f"{device}.json"), merged)
    md_path = common.write_text_atomic(os.path.join(output_dir, f"{device}.md"),
                                       render_markdown(merged, sections, chart_line))
    paths = {"json": json_path, "md": md_path, "png": png if written else None}
    log("wrote " + ", ".join(p for p in paths.values() if p))
    return paths


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values` (see `common.main`)."""
    flags.DEFINE_string("output_dir", "benchmarks/results",
                        "Directory holding the results; the report is written there.",
                        flag_values=flag_values)
    flags.DEFINE_enum("device", "all", ("all",) + DEVICES,
                      "Which device's results to merge (all: each one found).",
                      flag_values=flag_values)


def check_flags(flag_values):
    """--output_dir must be an existing, writable directory; returns its absolute path."""
    if not os.path.isdir(flag_values.output_dir):
        raise app.UsageError(f"--output_dir={flag_values.output_dir!r} is not a directory")
    return common.validate_output_dir(flag_values.output_dir)


def run_from_flags(flag_values, output_dir):
    """Writes the report of each device asked for; 1 when there are no results."""
    found = result_paths(output_dir)
    device = flag_values.device
    devices = list(found) if device == "all" else [device]
    if not any(d in found for d in devices):
        print(f"no benchmark results (<name>_<cpu|gpu>.json, name in {', '.join(BENCHMARKS)}) "
              f"in --output_dir={flag_values.output_dir!r}"
              + ("" if device == "all" else f" for --device={device}"), file=sys.stderr)
        return 1
    for device in devices:
        write_report(output_dir, device)
    return 0


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags, launch=False)
