"""Merges the benchmarks' results into one report per device.

Reads `<name>_<device>.json` and `<name>_<device>.md`, as each benchmark
writes them into an output directory, and writes next to them:

  - `<device>.json`: `{"device", "versions", "timestamp", "benchmarks":
    {name: the benchmark's JSON}, "failed": {name: why}, "missing": [names],
    "summary": [headline rows], "runner": the runner's record or None,
    "charts": {name: chart file}}`;
  - `<device>.md`: each benchmark's headline first, then each benchmark's
    own report;
  - `<name>_<device>.png`: one bar chart per benchmark, of its headline
    (`chart_panels`: the benchmark's own grouped panels where it gives them,
    e.g. xla's paths per model, graph = 1.0, one panel per kernel library;
    the others' key ratios on a log scale; error bars from min to max; no
    bar for a path that did not run; at most `MAX_BARS` bars a panel), when
    matplotlib is installed (`pip install -e ".[bench]"`); without it the
    report says so in one line and everything else is written. `<device>.md`
    shows each chart under its benchmark's headline.

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
import math
import os
import re
import sys

from absl import app, flags

from benchmarks import common

MODULE = "benchmarks.report"
# Headline order; also the benchmarks `python -m benchmarks` runs by default.
BENCHMARKS = ("xla", "resnet_vs_keras", "cudnn", "export", "data")
DEVICES = ("cpu", "gpu")
# Bars per chart panel, at most: a benchmark with more gets more panels.
MAX_BARS = 24
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
    """The merged markdown: context, headlines (each with its chart, from
    `merged["charts"]`), failures, then each report."""
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
    charts = merged.get("charts") or {}
    for name, result in merged["benchmarks"].items():
        headline = summary_of(name, result)
        lines += [f"### {name}: {headline['title']}", "", headline["markdown"], ""]
        if name in charts:
            lines += [f"![{name} chart]({charts[name]})", ""]
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


def _bar(values):
    """`(median, low, high)` of a bar, or None for a path with no figure
    (did not run, failed): no bar is drawn for it."""
    stats = common.stats_of({"median": values[0], "min": values[1], "max": values[2]}
                            if isinstance(values, (list, tuple)) and len(values) == 3
                            else values)
    if stats is None:
        return None
    return stats["median"], stats["min"], stats["max"]


def _chunks(keyed, limit=MAX_BARS):
    """Splits `[(key, size), ...]` into consecutive runs of at most `limit` in
    total size, keeping each key whole (a key larger than `limit` alone)."""
    runs, run, total = [], [], 0
    for key, size in keyed:
        if run and total + size > limit:
            runs.append(run)
            run, total = [], 0
        run.append(key)
        total += size
    if run:
        runs.append(run)
    # Even out the runs: n runs of about total / n each, never more than limit.
    if len(runs) > 1:
        n, sizes = len(runs), dict(keyed)
        target = math.ceil(sum(sizes.values()) / n)
        even, run, total = [], [], 0
        for key, size in keyed:
            if run and total + size > target and len(even) < n - 1:
                even.append(run)
                run, total = [], 0
            run.append(key)
            total += size
        even.append(run)
        if all(sum(sizes[k] for k in r) <= limit for r in even):
            runs = even
    return runs


def _numbered(title, i, n):
    return title if n == 1 else f"{title} ({i}/{n})"


def chart_panels(merged, max_bars=MAX_BARS):
    """What the charts plot: one figure per benchmark, one or more panels each.

    A benchmark's own grouped panels (`summary["chart"]`, one panel or a
    list: `{"title", "ylabel", "groups": {group: {bar: [median, min, max]}}}`,
    e.g. xla's paths per model, one panel per kernel library) are drawn as
    they are; any other benchmark gets its headline items as horizontal bars
    on a log scale. A path that did not run gets no bar: a bar or item with
    no finite median (failed, not measured), an item marked `"ran": False`
    (refused, skipped), and on the log scale a ratio that is not positive.
    A panel of more than `max_bars` bars is split into panels of at most
    that many (whole groups together: a model's bars, or the items that
    share the label before ":").

    Returns:
        `{name: [panel, ...]}`, benchmarks with something to plot only. A
        grouped panel: `{"kind": "grouped", "title", "ylabel", "groups":
        {group: {bar: (median, low, high)}}}`; a ratio panel: `{"kind":
        "ratios", "title", "xlabel", "rows": [(label, median, low, high)]}`.
    """
    charts = {}
    for name, result in merged["benchmarks"].items():
        headline = summary_of(name, result)
        chart = headline.get("chart")
        panels = []
        if chart:
            for panel in chart if isinstance(chart, list) else [chart]:
                groups = {}
                for group, bars in (panel.get("groups") or {}).items():
                    kept = {bar: _bar(values) for bar, values in bars.items()}
                    kept = {bar: v for bar, v in kept.items() if v is not None}
                    if kept:
                        groups[group] = kept
                runs = _chunks([(g, len(b)) for g, b in groups.items()], max_bars)
                for i, run in enumerate(runs, 1):
                    panels.append({"kind": "grouped",
                                   "title": _numbered(panel.get("title", name), i, len(runs)),
                                   "ylabel": panel.get("ylabel", ""),
                                   "groups": {g: groups[g] for g in run}})
        else:
            rows = []
            for item in headline["items"]:
                bar = _bar(item)
                if item.get("ran") is False or bar is None or bar[0] <= 0 or bar[1] <= 0:
                    continue
                rows.append((item["label"], *bar))
            prefix = [label.split(":")[0] for label, *_ in rows]
            runs = _chunks([(p, prefix.count(p)) for p in dict.fromkeys(prefix)], max_bars)
            for i, run in enumerate(runs, 1):
                panels.append({"kind": "ratios",
                               "title": _numbered(headline.get("title", name), i, len(runs)),
                               "xlabel": "ratio (log scale); each row's meaning: see the report",
                               "rows": [r for r, p in zip(rows, prefix) if p in run]})
        if panels:
            charts[name] = panels
    return charts


def chart_path(output_dir, name, device):
    """Where benchmark `name`'s chart goes: `<name>_<device>.png`, beside its results."""
    return os.path.join(output_dir, f"{name}_{device}.png")


def _draw_grouped(ax, panel):
    groups = list(panel["groups"])
    bars = list(dict.fromkeys(b for g in groups for b in panel["groups"][g]))
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]
    width = 0.8 / max(len(bars), 1)
    for i, bar in enumerate(bars):
        # Only the groups that have this bar: a path that did not run is left out.
        where = [(j, panel["groups"][g][bar]) for j, g in enumerate(groups)
                 if bar in panel["groups"][g]]
        xs = [j + (i - (len(bars) - 1) / 2) * width for j, _ in where]
        values = [v for _, v in where]
        ax.bar(xs, [v[0] for v in values], width, label=bar, color=palette[i % len(palette)],
               yerr=[[max(0.0, v[0] - v[1]) for v in values],
                     [max(0.0, v[2] - v[0]) for v in values]],
               capsize=3)
    ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=9)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(panel["ylabel"])
    ax.set_title(panel["title"], fontsize=11)
    ax.legend(fontsize=8, ncols=min(len(bars), 5), loc="upper left")
    ax.margins(y=0.15)


def _draw_ratios(ax, panel):
    rows = panel["rows"]
    ys = list(range(len(rows)))[::-1]
    prefixes = list(dict.fromkeys(r[0].split(":")[0] for r in rows))
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    ax.barh(ys, [r[1] for r in rows], xerr=[[max(0.0, r[1] - r[2]) for r in rows],
                                            [max(0.0, r[3] - r[1]) for r in rows]],
            capsize=2, color=[palette[prefixes.index(r[0].split(":")[0]) % len(palette)]
                              for r in rows])
    ax.axvline(1.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xscale("log")
    ax.set_xlabel(panel["xlabel"])
    ax.set_title(panel["title"], fontsize=11)


def _panel_size(panel):
    """(width, height) in inches that keep a panel's labels readable."""
    if panel["kind"] == "grouped":
        bars = sum(len(b) for b in panel["groups"].values())
        return max(7.0, 0.32 * bars + 2.5), 4.5
    return 10.0, 0.32 * len(panel["rows"]) + 1.4


def draw_chart(name, panels, kind):
    """One benchmark's figure, its panels (`chart_panels`) stacked: a
    matplotlib `Figure`, or None without matplotlib."""
    figure_class = _pyplot_free_figure()
    if figure_class is None:
        return None
    sizes = [_panel_size(p) for p in panels]
    fig = figure_class(figsize=(max(w for w, _ in sizes), sum(h for _, h in sizes) + 0.5),
                       layout="constrained")
    fig.suptitle(f"{name} ({kind}): median, error bars min–max; dashed line: 1.0",
                 fontsize=12)
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [h for _, h in sizes]})[:, 0]
    for ax, panel in zip(axes, panels):
        (_draw_grouped if panel["kind"] == "grouped" else _draw_ratios)(ax, panel)
    # The panels of a split benchmark on one scale, so that they compare.
    rows = [r for p in panels if p["kind"] == "ratios" for r in p["rows"]]
    if rows:
        low, high = min(min(r[2], 1.0) for r in rows), max(max(r[3], 1.0) for r in rows)
        low, high = low / 1.3, high * 1.3
        from matplotlib.ticker import FuncFormatter, NullFormatter

        plain = FuncFormatter(lambda value, _: f"{value:g}")
        for ax, panel in zip(axes, panels):
            if panel["kind"] == "ratios":
                ax.set_xlim(low, high)
                # Plain numbers (0.5, 2), not powers of ten; the 2..9 ticks
                # labelled only where the range is narrow enough for them.
                ax.xaxis.set_major_formatter(plain)
                ax.xaxis.set_minor_formatter(
                    plain if math.log10(high / low) <= 1.5 else NullFormatter())
                ax.tick_params(axis="x", which="minor", labelsize=7)
    return fig


def write_chart(name, panels, path, kind):
    """Writes one benchmark's figure (`draw_chart`) to `path` (PNG, atomically)."""
    fig = draw_chart(name, panels, kind)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    common.write_bytes_atomic(path, buffer.getvalue())
    return path


def write_charts(merged, output_dir, device):
    """Writes one chart per benchmark with something to plot (`chart_panels`).

    Returns:
        `(charts, line)`: `{name: path}` of the PNGs written, and the one
        markdown line saying what was written (or why not).
    """
    if _pyplot_free_figure() is None:
        return {}, NO_MATPLOTLIB
    kind = (merged.get("device") or {}).get("kind", device)
    charts, errors = {}, []
    for name, panels in chart_panels(merged).items():
        try:
            charts[name] = write_chart(name, panels, chart_path(output_dir, name, device), kind)
        except Exception as exc:  # noqa: BLE001 - a chart is optional
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    if not charts and not errors:
        return {}, "chart not written: no ratios to plot"
    line = ("Charts: one per benchmark, under its headline ("
            + ", ".join(os.path.basename(p) for p in charts.values()) + ")"
            if charts else "no chart written")
    if errors:
        line += "; chart not written for " + "; ".join(errors)
    return charts, line


# --------------------------------------------------------------------------
# Writing.


def write_report(output_dir, device, names=BENCHMARKS, failed=None, runner=None,
                 log=print):
    """Writes `<device>.json`, `<device>.md` and (with matplotlib) one chart
    per benchmark, `<name>_<device>.png`.

    Args: see `merge`; `log` takes one progress line.

    Returns:
        `{"json": path, "md": path, "charts": {name: png path}}`.
    """
    merged, sections = merge(output_dir, device, names=names, failed=failed, runner=runner)
    try:
        charts, chart_line = write_charts(merged, output_dir, device)
    except Exception as exc:  # noqa: BLE001 - the charts are optional
        charts, chart_line = {}, f"chart not written: {type(exc).__name__}: {exc}"
    merged["charts"] = {name: os.path.basename(path) for name, path in charts.items()}
    if not charts or "not written" in chart_line:
        log(chart_line)
    json_path = common.write_json_atomic(os.path.join(output_dir, f"{device}.json"), merged)
    md_path = common.write_text_atomic(os.path.join(output_dir, f"{device}.md"),
                                       render_markdown(merged, sections, chart_line))
    log("wrote " + ", ".join([json_path, md_path, *charts.values()]))
    return {"json": json_path, "md": md_path, "charts": charts}


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
