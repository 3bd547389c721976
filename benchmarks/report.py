"""Merges the benchmarks' results into one report per device, with charts.

Usage: `python -m benchmarks.report --output_dir=DIR [--device=cpu]`.
"""

import importlib
import io
import json
import math
import os
import pathlib
import re
import sys

from absl import app

from benchmarks import common

NAME = "report"
COMMON = ("output_dir",)
FLAGS = {"device": common.flag("all", "Which device's results to merge (all: each one found).",
                               enum_values=("all",) + common.DEVICES)}
LAUNCH = False
MAX_BARS = 24  # bars per chart panel: a benchmark with more gets more panels
NO_MATPLOTLIB = 'chart not written: matplotlib is not installed (pip install -e ".[bench]")'
PALETTE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]


def summary_of(name, result):
    """The headline `{"title", "markdown", "items", "chart"}` of one result; never raises."""
    empty = {"title": name, "markdown": "", "items": [], "chart": None}
    if isinstance(result.get("summary"), dict):
        return {**empty, **result["summary"]}
    try:
        build = importlib.import_module(common.BENCHMARKS.get(name, f"benchmarks.{name}")).summary
    except (ImportError, AttributeError):
        return {**empty, "markdown": "(no summary in this result; rerun the benchmark)"}
    try:
        return build(result)
    except Exception as exc:  # noqa: BLE001 - a report never fails on one result
        return {**empty, "markdown": f"(headline unavailable: {common.first_line(exc)})"}


def demote_headings(markdown):
    """One more `#` on every heading outside code fences."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def merge(output_dir, device, names=None, failed=None, runner=None):
    """`(merged, sections)`: `device`'s merged report and each benchmark's markdown."""
    failed = {name: dict(record) for name, record in (failed or {}).items()}
    benchmarks, sections, missing = {}, {}, []
    for name in names or common.BENCHMARKS:
        path = common.result_path(output_dir, name, device)
        if not os.path.isfile(path):
            missing += [] if name in failed else [name]
            continue
        try:
            result = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
            if not isinstance(result, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            failed.setdefault(name, {})["unreadable_result"] = f"{path}: {exc}"
            continue
        if name in failed:
            failed[name]["older_result_left_out"] = result.get("timestamp") or path
            continue
        benchmarks[name] = result
        try:
            sections[name] = pathlib.Path(path[:-len(".json")] + ".md").read_text(encoding="utf-8")
        except OSError:
            sections[name] = f"# {name}\n\n(no {name}_{device}.md)\n"
    newest = max(benchmarks.values(), key=lambda r: str(r.get("timestamp", "")), default={})
    return {"device": newest.get("device", {"kind": device}), "versions": newest.get("versions"),
            "timestamp": common.utc_timestamp(), "benchmarks": benchmarks, "failed": failed,
            "missing": missing, "runner": runner,
            "summary": [item for name, result in benchmarks.items()
                        for item in summary_of(name, result)["items"]]}, sections


def render_markdown(merged, sections, chart_line):
    """Context, the headlines (each with its chart), failures, then each report."""
    dev, ver = merged.get("device") or {}, merged.get("versions") or {}
    lines = [f"# Benchmarks on {dev.get('kind', '?')}: {dev.get('name', 'unknown device')}", ""]
    if ver:
        lines.append(f"- versions: TensorFlow {ver.get('tensorflow', '?')}, Keras "
                     f"{ver.get('keras', '?')}, Python {ver.get('python', '?')}")
    lines += [f"- kernels: {dev.get('kernels')}"] * bool(dev.get("kernels"))
    lines.append(f"- report built {merged['timestamp']} from " + (", ".join(
        f"{n} ({r.get('timestamp', '?')})" for n, r in merged["benchmarks"].items())
        or "no results"))
    runner = merged.get("runner") or {}
    if runner.get("wall_s"):
        lines.append(f"- run: `{runner.get('command', 'python -m benchmarks')}`: "
                     + ", ".join(f"{n} {s:.0f} s" for n, s in runner["wall_s"].items())
                     + f"; total {runner.get('total_s', 0):.0f} s")
    lines += ["- failed: " + ", ".join(merged["failed"])] * bool(merged["failed"])
    lines += ["- not run (no result file): " + ", ".join(merged["missing"])] * bool(
        merged["missing"])
    lines += ["", chart_line, "", "## Headline", ""]
    for name, result in merged["benchmarks"].items():
        headline = summary_of(name, result)
        lines += [f"### {name}: {headline['title']}", "", headline["markdown"], ""]
        if name in (merged.get("charts") or {}):
            lines += [f"![{name} chart]({merged['charts'][name]})", ""]
    if not merged["benchmarks"]:
        lines += ["No benchmark results.", ""]
    if merged["failed"]:
        lines += ["## Failed", ""]
        for name, record in merged["failed"].items():
            rc = record.get("returncode")
            lines.append(f"- {name}: " + (record.get("reason") or (
                f"exit code {rc}" if rc is not None else "failed")))
            lines += [f"  ({key.replace('_', ' ')}: {record[key]})" for key in
                      ("older_result_left_out", "unreadable_result") if record.get(key)]
            if record.get("stderr_tail"):
                lines += ["", "  ```", *(f"  {line}" for line in record["stderr_tail"]), "  ```"]
        lines.append("")
    lines += [line for md in sections.values() for line in (demote_headings(md.strip()), "")]
    return "\n".join(lines).rstrip() + "\n"


def _figure_class():
    """matplotlib's `Figure` (no pyplot, no GUI: Agg renders the PNG), or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _bar(values):
    """`(median, low, high)`, or None for a path with no figure (no bar)."""
    if isinstance(values, (list, tuple)) and len(values) == 3:
        values = dict(zip(("median", "min", "max"), values))
    stats = common.stats_of(values)
    return stats and (stats["median"], stats["min"], stats["max"])


def _chunks(keyed, limit):
    """`[(key, size), ...]` split into runs of even total size, at most `limit` each."""
    total = sum(size for _, size in keyed)
    target = math.ceil(total / math.ceil(total / limit)) if total else limit
    runs, run, size_sum = [], [], 0
    for key, size in keyed:
        if run and size_sum + size > target:
            runs.append(run)
            run, size_sum = [], 0
        run.append(key)
        size_sum += size
    return runs + [run] if run else runs


def _numbered(title, i, n):
    return title if n == 1 else f"{title} ({i}/{n})"


def chart_panels(merged, max_bars=MAX_BARS):
    """`{name: [panel, ...]}` of the benchmarks with something to plot.

    A benchmark's `summary["chart"]` panels become "grouped" panels, any other's headline items
    one "ratios" panel (log scale); no bar for a path that did not run; more than `max_bars`
    bars are split into panels, whole groups together.
    """
    charts = {}
    for name, result in merged["benchmarks"].items():
        headline, panels = summary_of(name, result), []
        chart = headline.get("chart")
        for panel in (chart if isinstance(chart, list) else [chart]) if chart else []:
            groups = {g: {b: _bar(v) for b, v in bars.items() if _bar(v)}
                      for g, bars in (panel.get("groups") or {}).items()}
            groups = {g: bars for g, bars in groups.items() if bars}
            runs = _chunks([(g, len(b)) for g, b in groups.items()], max_bars)
            panels += [{"kind": "grouped", "title": _numbered(panel.get("title", name), i,
                                                              len(runs)),
                        "ylabel": panel.get("ylabel", ""), "groups": {g: groups[g] for g in run}}
                       for i, run in enumerate(runs, 1)]
        if not chart:
            rows = [(item["label"], *_bar(item)) for item in headline["items"]
                    if item.get("ran") is not False and _bar(item) and _bar(item)[0] > 0
                    and _bar(item)[1] > 0]
            prefix = [row[0].split(":")[0] for row in rows]
            runs = _chunks([(p, prefix.count(p)) for p in dict.fromkeys(prefix)], max_bars)
            panels += [{"kind": "ratios", "title": _numbered(headline.get("title", name), i,
                                                             len(runs)),
                        "xlabel": "ratio (log scale); each row's meaning: see the report",
                        "rows": [r for r, p in zip(rows, prefix) if p in run]}
                       for i, run in enumerate(runs, 1)]
        if panels:
            charts[name] = panels
    return charts


def _draw_grouped(ax, panel):
    groups = list(panel["groups"])
    bars = list(dict.fromkeys(b for g in groups for b in panel["groups"][g]))
    width = 0.8 / max(len(bars), 1)
    for i, bar in enumerate(bars):
        where = [(j, panel["groups"][g][bar]) for j, g in enumerate(groups)
                 if bar in panel["groups"][g]]
        ax.bar([j + (i - (len(bars) - 1) / 2) * width for j, _ in where],
               [v[0] for _, v in where], width, label=bar, color=PALETTE[i % len(PALETTE)],
               yerr=[[max(0.0, v[0] - v[1]) for _, v in where],
                     [max(0.0, v[2] - v[0]) for _, v in where]], capsize=3)
    ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right", fontsize=9)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(panel["ylabel"])
    ax.legend(fontsize=8, ncols=min(len(bars), 5), loc="upper left")
    ax.margins(y=0.15)


def _draw_ratios(ax, panel):
    rows = panel["rows"]
    ys = list(range(len(rows)))[::-1]
    prefixes = list(dict.fromkeys(r[0].split(":")[0] for r in rows))
    ax.barh(ys, [r[1] for r in rows], xerr=[[max(0.0, r[1] - r[2]) for r in rows],
                                            [max(0.0, r[3] - r[1]) for r in rows]],
            capsize=2, color=[PALETTE[prefixes.index(r[0].split(":")[0]) % 6] for r in rows])
    ax.axvline(1.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xscale("log")
    ax.set_xlabel(panel["xlabel"])


def draw_chart(name, panels, kind):
    """One benchmark's figure, its panels stacked, or None without matplotlib."""
    figure_class = _figure_class()
    if figure_class is None:
        return None
    sizes = [(max(7.0, 0.32 * sum(map(len, p["groups"].values())) + 2.5), 4.5)
             if p["kind"] == "grouped" else (10.0, 0.32 * len(p["rows"]) + 1.4) for p in panels]
    fig = figure_class(figsize=(max(w for w, _ in sizes), sum(h for _, h in sizes) + 0.5),
                       layout="constrained")
    fig.suptitle(f"{name} ({kind}): median, error bars min–max; dashed line: 1.0", fontsize=12)
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [h for _, h in sizes]})[:, 0]
    for ax, panel in zip(axes, panels):
        (_draw_grouped if panel["kind"] == "grouped" else _draw_ratios)(ax, panel)
        ax.set_title(panel["title"], fontsize=11)
    # A split benchmark's ratio panels on one scale, so that they compare.
    rows = [r for p in panels if p["kind"] == "ratios" for r in p["rows"]]
    if rows:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        low = min(min(r[2], 1.0) for r in rows) / 1.3
        high = max(max(r[3], 1.0) for r in rows) * 1.3
        plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.5, 2: not powers of ten
        for ax, panel in zip(axes, panels):
            if panel["kind"] == "ratios":
                ax.set_xlim(low, high)
                ax.xaxis.set_major_formatter(plain)
                ax.xaxis.set_minor_formatter(
                    plain if math.log10(high / low) <= 1.5 else NullFormatter())
                ax.tick_params(axis="x", which="minor", labelsize=7)
    return fig


def write_charts(merged, output_dir, device):
    """`({name: png path}, the markdown line saying what was written or why not)`."""
    if _figure_class() is None:
        return {}, NO_MATPLOTLIB
    kind = (merged.get("device") or {}).get("kind", device)
    charts, errors = {}, []
    for name, panels in chart_panels(merged).items():
        try:
            buffer = io.BytesIO()
            draw_chart(name, panels, kind).savefig(buffer, format="png", dpi=100)
            charts[name] = common.write_bytes(
                common.result_path(output_dir, name, device, ".png"), buffer.getvalue())
        except Exception as exc:  # noqa: BLE001 - a chart is optional
            errors.append(f"{name}: {common.first_line(exc)}")
    if not charts and not errors:
        return {}, "chart not written: no ratios to plot"
    line = ("Charts: one per benchmark, under its headline (" + ", ".join(
        os.path.basename(p) for p in charts.values()) + ")" if charts else "no chart written")
    return charts, line + ("; chart not written for " + "; ".join(errors) if errors else "")


def write_report(output_dir, device, names=None, failed=None, runner=None, log=print):
    """Writes `<device>.json`, `<device>.md` and the charts."""
    merged, sections = merge(output_dir, device, names=names, failed=failed, runner=runner)
    try:
        charts, chart_line = write_charts(merged, output_dir, device)
    except Exception as exc:  # noqa: BLE001 - the charts are optional
        charts, chart_line = {}, f"chart not written: {common.first_line(exc)}"
    merged["charts"] = {name: os.path.basename(path) for name, path in charts.items()}
    if not charts or "not written" in chart_line:
        log(chart_line)
    json_path = common.write_json(os.path.join(output_dir, f"{device}.json"), merged)
    md_path = common.write_text(os.path.join(output_dir, f"{device}.md"),
                                        render_markdown(merged, sections, chart_line))
    log("wrote " + ", ".join([json_path, md_path, *charts.values()]))
    return {"json": json_path, "md": md_path, "charts": charts}


def check(flag_values):
    if not os.path.isdir(flag_values.output_dir):
        raise app.UsageError(f"--output_dir={flag_values.output_dir!r} is not a directory")


def run(output_dir, device):
    """Writes the report of each device asked for that has results; 1 when none has."""
    found = [d for d in common.DEVICES if any(
        os.path.isfile(common.result_path(output_dir, n, d)) for n in common.BENCHMARKS)]
    devices = found if device == "all" else [d for d in found if d == device]
    if not devices:
        print(f"no benchmark results (<name>_<cpu|gpu>.json, name in "
              f"{', '.join(common.BENCHMARKS)}) in --output_dir={output_dir!r}"
              + ("" if device == "all" else f" for --device={device}"), file=sys.stderr)
        return 1
    for device in devices:
        write_report(output_dir, device)
    return 0


if __name__ == "__main__":
    common.main(__name__)
