"""Merges the benchmarks' results into one report per device.

Reads `<name>_<device>.json` and `<name>_<device>.md`, as each benchmark
writes them into an output directory, and writes next to them:

  - `<device>.json`: `{"device", "versions", "timestamp", "benchmarks":
    {name: the benchmark's JSON}, "failed": {name: why}, "missing": [names],
    "summary": [headline rows], "runner": the runner's record or None}`;
  - `<device>.md`: a short headline first (xla: train examples/s per model,
    kernel library (oneDNN, Eigen) and path with the ratio to graph mode,
    the zoo's and Keras' default paths and the default goal, utilization;
    resnet_vs_keras: zoo/keras; cudnn, export, data: their key ratios),
    then each benchmark's own report;
  - `<device>.png`: a bar chart of the same ratios (xla: eager, graph, XLA
    train throughput per model and kernel library normalized to graph =
    1.0, error bars from min to max; other benchmarks: their key ratios),
    when matplotlib is
    installed (`pip install -e ".[bench]"`); without it the report says so
    in one line and everything else is written.

Missing benchmarks (not run yet, failed) and missing keys (a result from an
older version of a benchmark) leave gaps in the report, never an error.

`python -m benchmarks` calls `write_report` after running the benchmarks;
`python -m benchmarks.report --output_dir=DIR` rebuilds the report from the
files already in DIR.

Usage:
  python -m benchmarks.report                         # benchmarks/results
  python -m benchmarks.report --output_dir=/tmp/bench --device=cpu
"""

import argparse
import io
import json
import math
import os
import re
import sys

# Headline order; also the benchmarks `python -m benchmarks` runs by default.
BENCHMARKS = ("xla", "resnet_vs_keras", "cudnn", "export", "data")
DEVICES = ("cpu", "gpu")
XLA_PATHS = ("eager", "graph", "xla")
NO_MATPLOTLIB = ('chart not written: matplotlib is not installed '
                 '(pip install -e ".[bench]")')


# --------------------------------------------------------------------------
# Small, forgiving accessors: results may come from older or newer versions
# of a benchmark, so every key may be missing.


def _get(data, *keys, default=None):
    """`data[k0][k1]...`, or `default` where any step is missing or not a dict/list."""
    for key in keys:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return default
    return data


def _number(value):
    """A finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _stats(value):
    """`{"median", "min", "max"}` from a summary dict or a bare number, or None."""
    if isinstance(value, dict):
        median = _number(value.get("median"))
        if median is None:
            return None
        low, high = _number(value.get("min")), _number(value.get("max"))
        return {"median": median, "min": median if low is None else low,
                "max": median if high is None else high}
    number = _number(value)
    return None if number is None else {"median": number, "min": number, "max": number}


def _divide(stats, by):
    """`stats` (median, min, max) divided by the number `by`, or None."""
    if stats is None or not by:
        return None
    return {k: v / by for k, v in stats.items()}


def _fmt(value, digits=2, like=None):
    """`value` with `digits` decimals, none from 100 up (judged on `like`
    when given, so that a median and its range read alike)."""
    value = _number(value)
    if value is None:
        return "n/a"
    size = abs(value if _number(like) is None else like)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _ratio_cell(stats, digits=2):
    stats = _stats(stats)
    if stats is None:
        return "n/a"
    if stats["min"] == stats["max"] == stats["median"]:
        return _fmt(stats["median"], digits)
    median = stats["median"]
    return (f"{_fmt(median, digits)} "
            f"({_fmt(stats['min'], digits, median)}–{_fmt(stats['max'], digits, median)})")


def _util_cell(value):
    """Utilization as the xla benchmark gives it: a fraction of the peak
    (a number, or a summary dict), shown as a percentage."""
    if value is None:
        return ""
    stats = _stats(value)
    if stats is not None:
        return f"{100 * stats['median']:.1f}%"
    if isinstance(value, dict):
        parts = [f"{k}={v:.3g}" for k, v in value.items() if _number(v) is not None]
        return ", ".join(parts[:2])
    return str(value)


def _item(benchmark, key, label, stats, note, **extra):
    """One row of the merged JSON's `summary`."""
    stats = _stats(stats)
    return {"benchmark": benchmark, "key": key, "label": label,
            "median": stats and stats["median"], "min": stats and stats["min"],
            "max": stats and stats["max"], "note": note, **extra}


def _table(headers, rows, align=None):
    from benchmarks import common

    return common.markdown_table(headers, rows, align=align)


# --------------------------------------------------------------------------
# Headlines: per benchmark, `(markdown lines, summary items)`.


def _xla_models(result):
    models = result.get("models")
    if isinstance(models, list):
        return {m.get("name", str(i)): m for i, m in enumerate(models) if isinstance(m, dict)}
    return models if isinstance(models, dict) else {}


def xla_settings(result):
    """The kernel-library settings of an xla result, as `(setting, label, models)`.

    Results since `--onednn` hold `settings` (`{"on": {"label": "oneDNN",
    "models": ...}, "off": ...}`); an older result is one unnamed setting
    `(None, None, models)`.
    """
    settings = result.get("settings")
    if isinstance(settings, dict) and settings:
        return [(key, (record.get("label") or key), _xla_models(record))
                for key, record in settings.items() if isinstance(record, dict)]
    return [(None, None, _xla_models(result))]


def xla_rows(result):
    """Per kernel-library setting, model and path: train examples/s and the
    ratio to graph mode.

    Returns:
        list of dicts: model, setting and kernels (the setting's key and label,
        None in a result from before `--onednn`), path, examples_per_s and
        vs_graph (median, min, max, or None), zoo_default, keras_default,
        best (bools), utilization (as given), error (or None).
    """
    rows = []
    for setting, label, models in xla_settings(result):
        for model, info in models.items():
            paths = _get(info, "paths", default={}) or {}
            if not isinstance(paths, dict):
                continue
            graph = _stats(_get(paths, "graph", "train", "examples_per_s"))
            names = ([p for p in XLA_PATHS if p in paths]
                     + [p for p in paths if p not in XLA_PATHS])
            for path in names:
                entry = paths[path] if isinstance(paths[path], dict) else {}
                eps = _stats(_get(entry, "train", "examples_per_s"))
                given = _stats(_get(entry, "train", "ratio_vs_graph")
                               or _get(entry, "train", "vs_graph"))
                if path == "graph" and eps is not None:
                    vs_graph = {"median": 1.0, "min": 1.0, "max": 1.0}
                elif given is not None:
                    vs_graph = given
                else:
                    # Of the medians; min and max are the path's spread over graph's median.
                    vs_graph = _divide(eps, graph and graph["median"])
                utilization = _get(info, "utilization", path)
                if utilization is None:
                    utilization = _get(entry, "utilization", default=_get(entry, "train",
                                                                          "utilization"))
                rows.append({
                    "model": model, "setting": setting, "kernels": label, "path": path,
                    "examples_per_s": eps, "vs_graph": vs_graph,
                    "zoo_default": info.get("zoo_default_path") == path,
                    "keras_default": info.get("keras_default_path") == path,
                    "best": info.get("best_train_path") == path,
                    "utilization": utilization,
                    "xla_refused": bool(_get(entry, "evidence", "xla_refused")),
                    "kernels_seen": _get(entry, "evidence", "kernels", "library"),
                    "error": entry.get("error") or _get(entry, "train", "error"),
                })
    return rows


def _xla_key(row):
    """A row's summary key: `model/path`, `model@kernels/path` per setting."""
    model = row["model"] if row.get("kernels") is None else f"{row['model']}@{row['kernels']}"
    return model


def headline_xla(result):
    rows, items = [], []
    per_setting = any(r.get("kernels") is not None for r in xla_rows(result))
    for r in xla_rows(result):
        marks = [m for m, on in (("zoo default", r["zoo_default"]),
                                 ("Keras default", r["keras_default"]),
                                 ("best", r["best"]),
                                 ("XLA refused", r["xla_refused"])) if on]
        lead = [r["model"]] + ([r["kernels"] or ""] if per_setting else []) + [r["path"]]
        if r["error"] and r["examples_per_s"] is None:
            error = str(r["error"])
            rows.append(lead + [f"error: {error[:80]}", "", ", ".join(marks), ""])
            continue
        rows.append(lead + [_ratio_cell(r["examples_per_s"], 1), _ratio_cell(r["vs_graph"]),
                            ", ".join(marks), _util_cell(r["utilization"])])
        key = _xla_key(r)
        label = r["model"] + (f" ({r['kernels']})" if r.get("kernels") else "")
        items.append(_item("xla", f"{key}/{r['path']}",
                           f"{label} {r['path']}: train examples/s / graph",
                           r["vs_graph"], "> 1: faster than graph mode",
                           examples_per_s=_stats(r["examples_per_s"]),
                           zoo_default=r["zoo_default"], keras_default=r["keras_default"],
                           **({"setting": r["setting"], "kernels": r["kernels"],
                               "kernels_seen": r["kernels_seen"]} if per_setting else {})))
    failed = result.get("failed") if isinstance(result.get("failed"), dict) else {}
    if not rows and not failed:
        return ["No per-model paths in the result."], items
    lines = []
    if rows:
        lines.append(_table(["model"] + (["kernels"] if per_setting else [])
                            + ["path", "train ex/s median (min–max)",
                               "vs graph median (min–max)", "default", "utilization"],
                            rows, align=("ll" if per_setting else "l") + "lrrll"))
    notes = []
    for setting, label, models in xla_settings(result):
        for model, info in models.items():
            parts = []
            for key, name in (("zoo_default_path", "zoo default"),
                              ("keras_default_path", "Keras default"),
                              ("best_train_path", "best")):
                if info.get(key):
                    parts.append(f"{name} {info[key]}")
            for key, name in (("zoo_default_vs_best", "zoo default / best"),
                              ("zoo_default_vs_keras_default", "zoo default / Keras default")):
                stats = _stats(info.get(key))
                if stats is not None:
                    parts.append(f"{name} {_ratio_cell(stats)}")
                    prefix = model if label is None else f"{model}@{label}"
                    items.append(_item("xla", f"{prefix}/{key}",
                                       f"{model}{f' ({label})' if label else ''}: {name}",
                                       stats, "train examples/s; < 1: the default is slower"))
            if info.get("meets_default_goal") is not None:
                parts.append("default ≥ 0.95 x best: "
                             + ("met" if info["meets_default_goal"] else "not met"))
            if info.get("meets_75pct_goal") is not None:
                parts.append("75% utilization goal: "
                             + ("met" if info["meets_75pct_goal"] else "not met"))
            if parts:
                notes.append(f"- {model}" + (f" ({label})" if label else "") + ": "
                             + "; ".join(parts))
    goal = result.get("goal") if isinstance(result.get("goal"), dict) else {}
    if goal.get("met") is not None or goal.get("missed"):
        notes.append("- zoo default ≥ 0.95 x best, every model and kernel library: "
                     + ("met" if goal.get("met") else
                        "missed for " + ", ".join(map(str, goal.get("missed") or []))))
    for setting, message in (result.get("mismatches") or {}).items():
        notes.append(f"- kernel mismatch (--onednn={setting}): {message}")
    for setting, record in failed.items():
        reason = record.get("reason") if isinstance(record, dict) else record
        notes.append(f"- --onednn={setting} failed: {reason}")
    lines += ["", *notes] if notes else []
    lines += ["", "Train examples/s; \"vs graph\" > 1 is faster than graph mode "
              "(jit_compile=False); utilization: achieved train FLOP/s over the measured "
              "matmul peak"
              + ("; kernels: TensorFlow's CPU kernel library the setting ran (oneDNN, "
                 "TF_ENABLE_ONEDNN_OPTS=1, or its own Eigen kernels, =0)." if per_setting
                 else ".")]
    return lines, items


def headline_resnet_vs_keras(result):
    models = {m.get("name"): m for m in result.get("models") or [] if isinstance(m, dict)}
    baseline = next(iter(models), None)
    rows, items = [], []
    for key, ratio in (result.get("ratios") or {}).items():
        name = key.split("/")[0]
        label = _get(models, name, "label", default=name)
        rows.append([label, _fmt(_get(models, name, "images_per_s", "median"), 1),
                     _ratio_cell(ratio, 3)])
        items.append(_item("resnet_vs_keras", key, f"{label} / keras images/s", ratio,
                           "> 1: zoo faster"))
    if baseline is not None:
        rows.insert(0, [_get(models, baseline, "label", default=baseline),
                        _fmt(_get(models, baseline, "images_per_s", "median"), 1),
                        "1 (baseline)"])
    if not rows:
        return ["No models in the result."], items
    if not items:
        rows.append(["(no zoo/keras ratios in the result)", "", ""])
    return [_table(["model", "train img/s median", "vs keras median (min–max)"], rows,
                   align="lrr"),
            "", "Train-step images/s, graph mode; > 1: the zoo model is faster."], items


def headline_cudnn(result):
    ratios = result.get("ratios") or {}
    variants = {v.get("name"): v for v in result.get("variants") or [] if isinstance(v, dict)}
    rows, items = [], []
    groups = []
    for v in variants.values():
        group = (v.get("cell"), "masked" if v.get("masked") else "unmasked")
        if None not in group and group not in groups:
            groups.append(group)
    for cell, masking in groups:
        base = f"{cell}_{masking}_use_cudnn_false_graph"
        wanted = (("auto_graph", 'use_cudnn="auto" / generic, graph'),
                  ("use_cudnn_false_xla", "XLA / graph, generic kernel"),
                  ("zoo_text_rnn_graph", "zoo text_rnn / generic, graph"))
        cells = []
        for suffix, label in wanted:
            name = f"{cell}_{masking}_{suffix}"
            ratio = ratios.get(f"{name}/{base}")
            cells.append(_ratio_cell(ratio) if ratio else "")
            if ratio:
                kernel = _get(variants, name, "kernel")
                items.append(_item("cudnn", f"{name}/{base}", f"{cell} {masking}: {label}",
                                   ratio, "sequences/s; > 1: faster",
                                   kernel=kernel))
        kernel = _get(variants, f"{cell}_{masking}_auto_graph", "kernel") or "?"
        rows.append([cell, masking, kernel, *cells])
    if not rows:
        return ["No variants in the result."], items
    return [_table(["cell", "masking", '"auto" kernel ran', '"auto" / generic (graph)',
                    "XLA / graph (generic)", "zoo text_rnn / generic"],
                   rows, align="lllrrr"),
            "", "Train sequences/s ratios, median (min–max) over repeats; > 1: faster."], items


def headline_export(result):
    rows, items = [], []
    for model, paths in (result.get("results") or {}).items():
        if not isinstance(paths, dict):
            continue
        batches = []
        for by_batch in paths.values():
            for batch in by_batch or {}:
                if batch not in batches:
                    batches.append(batch)
        for batch in batches:
            call_ms = _get(paths, "keras_call", batch, "latency_ms", "median")
            cells = []
            for path, field, label in (
                    ("keras_tf_function", "ratio_vs_keras", "tf.function / Keras call"),
                    ("saved_model", "ratio_vs_tf_function", "SavedModel / tf.function"),
                    ("tflite", "ratio_vs_keras", "TFLite / Keras call")):
                cell = _get(paths, path, batch, default={}) or {}
                ratio = cell.get(field)
                if ratio:
                    cells.append(_ratio_cell(ratio))
                    items.append(_item("export", f"{model}@{batch}/{path}/{field}",
                                       f"{model} batch {batch}: {label}", ratio,
                                       "ms per call; > 1: slower"))
                else:
                    cells.append("error" if cell.get("error") else "")
            rows.append([model, batch, _fmt(call_ms), *cells])
    if not rows:
        return ["No results in the result."], items
    return [_table(["model", "batch", "Keras call ms", "tf.function / Keras call",
                    "SavedModel / tf.function", "TFLite / Keras call"],
                   rows, align="lrrrrr"),
            "", "Latency ratios, median (min–max) over repeats; > 1: slower."], items


def headline_data(result):
    rows, items = [], []
    for name, case in (result.get("results") or {}).items():
        if not isinstance(case, dict):
            continue
        ratio = case.get("ratio_pipeline_to_model")
        fit = _get(case, "fit", "ratio_to_train_on_batch")
        goal = case.get("meets_10x_goal")
        rows.append([name, _get(case, "source", "kind", default=""), _ratio_cell(ratio, 1),
                     "" if goal is None else ("yes" if goal else "no"),
                     _ratio_cell(fit) if fit else ""])
        if ratio:
            items.append(_item("data", f"{name}/pipeline_to_model",
                               f"{name}: pipeline / model images/s", ratio,
                               "goal >= 10", meets_10x_goal=goal))
        if fit:
            items.append(_item("data", f"{name}/fit_to_train_on_batch",
                               f"{name}: fit / train_on_batch images/s", fit,
                               "near 1: steps do not wait on input"))
    if not rows:
        return ["No datasets in the result."], items
    return [_table(["dataset", "source", "pipeline / model median (min–max)", "≥ 10x",
                    "fit / train_on_batch"], rows, align="llrcr"),
            "", "Images/s ratios: the pipeline should feed ten such models (≥ 10); "
                "fit near 1.0 means steps do not wait on input."], items


HEADLINES = {
    "xla": ("XLA: eager vs graph vs XLA train throughput", headline_xla),
    "resnet_vs_keras": ("zoo ResNet-50 vs keras.applications", headline_resnet_vs_keras),
    "cudnn": ("LSTM/GRU: cuDNN vs generic kernel, XLA", headline_cudnn),
    "export": ("Inference latency: Keras vs SavedModel vs TFLite", headline_export),
    "data": ("Input pipeline vs resnet20's train step", headline_data),
}


def headline(name, result):
    """`(title, markdown lines, summary items)` of one benchmark's result.

    Never raises on a malformed result: the lines then say what went wrong.
    """
    title, build = HEADLINES.get(name, (name, None))
    if build is None:
        return title, ["(no headline for this benchmark; see its section)"], []
    try:
        lines, items = build(result)
    except Exception as exc:  # noqa: BLE001 - a report never fails on one result
        return title, [f"(headline unavailable: {type(exc).__name__}: {exc})"], []
    return title, lines, items


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
        summary += headline(name, result)[2]
    newest = max(benchmarks.values(), key=lambda r: str(r.get("timestamp", "")), default={})
    from benchmarks import common

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
        title, body, _ = headline(name, result)
        lines += [f"### {name}: {title}", "", *body, ""]
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
        `(xla, ratios)`: `xla` `{model: {path: (median, low, high)}}`,
        normalized to graph = 1.0; `ratios` a list of `(label, median, low,
        high)` of the other benchmarks' headline items.
    """
    xla = {}
    result = merged["benchmarks"].get("xla")
    if result:
        for row in xla_rows(result):
            stats = row["vs_graph"]
            if stats is not None:
                model = row["model"] + (f" ({row['kernels']})" if row.get("kernels") else "")
                xla.setdefault(model, {})[row["path"]] = (
                    stats["median"], stats["min"], stats["max"])
    ratios = [(f"{item['benchmark']}: {item['label']}", item["median"], item["min"],
               item["max"])
              for item in merged["summary"]
              if item["benchmark"] != "xla" and item["median"] is not None
              and item["median"] > 0 and item["min"] > 0]
    return xla, ratios


def write_chart(merged, path):
    """Writes the bar chart to `path` (PNG, atomically).

    Returns:
        `(written, line)`: whether a PNG was written, and the one markdown
        line saying so (or why not).
    """
    figure_class = _pyplot_free_figure()
    if figure_class is None:
        return False, NO_MATPLOTLIB
    xla, ratios = chart_data(merged)
    if not xla and not ratios:
        return False, "chart not written: no ratios to plot"
    panels = int(bool(xla)) + int(bool(ratios))
    heights = ([4.0] if xla else []) + ([max(2.5, 0.28 * len(ratios) + 1.0)] if ratios else [])
    fig = figure_class(figsize=(11, sum(heights) + 0.6 * panels),
                       layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    kind = (merged.get("device") or {}).get("kind", "?")
    panel = 0
    if xla:
        ax = axes[panel]
        panel += 1
        models = list(xla)
        paths = [p for p in XLA_PATHS if any(p in xla[m] for m in models)]
        paths += sorted({p for m in models for p in xla[m]} - set(paths))
        width = 0.8 / max(len(paths), 1)
        for i, p in enumerate(paths):
            xs = [j + (i - (len(paths) - 1) / 2) * width for j in range(len(models))]
            values = [xla[m].get(p, (0.0, 0.0, 0.0)) for m in models]
            ax.bar(xs, [v[0] for v in values], width, label=p,
                   yerr=[[v[0] - v[1] for v in values], [v[2] - v[0] for v in values]],
                   capsize=3)
        ax.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(models)), models, rotation=15)
        ax.set_ylabel("train examples/s / graph")
        ax.set_title(f"xla ({kind}): train examples/s per path, graph = 1.0; "
                     "error bars min–max")
        ax.legend()
    if ratios:
        ax = axes[panel]
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
    from benchmarks import common  # imports TensorFlow: only when writing

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
    from benchmarks import common

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


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report",
        description="Rebuilds <device>.json, .md and .png from the benchmark results "
                    "(<name>_<device>.json and .md) in --output_dir.")
    parser.add_argument("--output_dir", default="benchmarks/results",
                        help="Directory holding the results; the report is written there.")
    parser.add_argument("--device", choices=("all",) + DEVICES, default="all",
                        help="Which device's results to merge (all: each one found).")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.output_dir):
        parser.error(f"--output_dir={args.output_dir!r} is not a directory")
    from absl import app

    from benchmarks import common

    try:
        output_dir = common.validate_output_dir(args.output_dir)
    except app.UsageError as exc:
        parser.error(str(exc))
    found = result_paths(output_dir)
    devices = list(found) if args.device == "all" else [args.device]
    if not devices or not any(d in found for d in devices):
        print(f"no benchmark results (<name>_<cpu|gpu>.json, name in {', '.join(BENCHMARKS)}) "
              f"in --output_dir={args.output_dir!r}"
              + ("" if args.device == "all" else f" for --device={args.device}"),
              file=sys.stderr)
        return 1
    for device in devices:
        write_report(output_dir, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
