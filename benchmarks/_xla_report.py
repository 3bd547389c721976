"""`benchmarks.xla`'s markdown: the report it prints and writes, and the
summary `benchmarks.report` shows (`summary(result)`).

Example:
>>> stats_cell({"median": 2.0, "min": 1.5, "max": 2.25})
'2.0 (1.5–2.2)'
"""

from benchmarks import common
from benchmarks._xla_settings import GOAL_DEFAULT_VS_BEST, ONEDNN_SETTINGS, ONEDNN_VARIABLE

PATHS = ("eager", "graph", "xla")
LIBRARY_LABELS = {"onednn": "oneDNN", "eigen": "Eigen", "xla": "XLA"}
TITLE = "XLA: eager vs graph vs XLA train throughput"


def stats_cell(stats, fmt="{:.1f}"):
    """`"median (min–max)"` of a `summarize` dict."""
    return (f"{fmt.format(stats['median'])} "
            f"({fmt.format(stats['min'])}–{fmt.format(stats['max'])})")


def _ratio(value):
    return "n/a" if value is None else f"{value:.2f}"


def _yes_no(value):
    return "n/a" if value is None else ("yes" if value else "no")


def _cut(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


def device_line(dev):
    """`- device: cpu, NAME (no GPU found); kernels: ...`."""
    return (f"- device: {dev['kind']}, {dev['name']}"
            + ("" if dev["gpu_found"] else " (no GPU found)") + f"; kernels: {dev['kernels']}")


def kernels_cell(row):
    """`graph oneDNN ×66; xla XLA ×244`: the library each traced path ran,
    with its convolution/matmul executions."""
    parts = []
    for path, library in row["kernels_seen"].items():
        if library is None:
            parts.append(f"{path} trace failed")
            continue
        counts = row["kernel_counts"].get(path, {})
        shown = "+".join(LIBRARY_LABELS.get(lib, lib) for lib in library.split("+"))
        total = sum(counts.get(lib) or 0 for lib in library.split("+") if lib in counts)
        parts.append(f"{path} {shown}" + (f" ×{total}" if total else ""))
    return "; ".join(parts) or "not traced"


def render_headline(result):
    """The headline table: per model and kernel library, graph vs XLA, the best
    path, the zoo's default and whether it meets the goal, the kernels seen."""
    rows = []
    for r in result["headline"]:
        if r.get("failed"):
            rows.append(["(all)", r["label"], f"failed: {r['failed']}", "", "", "", "", "",
                         ""])
            continue
        if r["xla"] is not None and not r["xla_refused"]:
            xla_cell = stats_cell(r["xla"])
        elif r["xla_refused"]:
            xla_cell = "refused (runs graph)"
        elif r["xla_error"]:
            xla_cell = "error: " + _cut(r["xla_error"], 60)
        else:
            xla_cell = "n/a"
        label = r["label"] + (" ⚠ kernel mismatch" if r["mismatch"] else "")
        rows.append([r["model"], label,
                     stats_cell(r["graph"]) if r["graph"] else "n/a", xla_cell,
                     r["best"] or "n/a", r["zoo_default"] or "n/a",
                     _ratio(r["zoo_default_vs_best"]), _yes_no(r["meets_goal"]),
                     kernels_cell(r)])
    return common.markdown_table(
        ["model", "kernels", "graph train ex/s", "XLA train ex/s", "best",
         "zoo default", "default / best", f"≥ {GOAL_DEFAULT_VS_BEST}", "kernels seen"],
        rows, align="llrrllrcl")


def _path_row(name, path, row):
    label = path if row["requested"] else f"{path} (default)"
    ran = row["evidence"].get("ran", "?")
    if row["evidence"].get("xla_refused"):
        ran += " (XLA refused)"
    if row["error"] and not row["train"]:
        return [name, label, ran, f"error: {_cut(row['error'], 100)}", "", "", "", "", "", ""]
    train, infer, same = row["train"], row["inference"], row["utilization_same_repeat"]
    return [
        name, label, ran,
        stats_cell(train["examples_per_s"]) if train else "n/a",
        stats_cell(train["ratio_vs_graph"], "{:.2f}") if train and train["ratio_vs_graph"]
        else "n/a",
        stats_cell(infer["examples_per_s"]) if infer else "n/a",
        stats_cell(infer["ratio_vs_graph"], "{:.2f}") if infer and infer["ratio_vs_graph"]
        else "n/a",
        f"{train['compile_s']:.1f} / {infer['compile_s']:.1f}" if train and infer else "n/a",
        f"{100 * row['utilization']:.1f}%" if row["utilization"] is not None else "n/a",
        stats_cell({k: 100 * v for k, v in same.items() if k != "per_repeat"}, "{:.1f}") + "%"
        if same else "n/a",
    ]


def _model_notes(name, e, goal_path):
    gflop = e["train_flops_per_example"]
    lines = [
        f"- {name}: best {e['best_train_path']}, zoo default {e['zoo_default_path']}, "
        f"keras default {e['keras_default_path']}; zoo default / best = "
        f"{_ratio(e['zoo_default_vs_best'])} (≥ {GOAL_DEFAULT_VS_BEST}: "
        f"{_yes_no(e.get('meets_default_goal'))}), zoo default / keras default = "
        f"{_ratio(e['zoo_default_vs_keras_default'])}"
        + (f"; {gflop / 1e6:,.1f} train MFLOP/example" if gflop else "")
        + (f"; >= 75% goal met: {'yes' if e['meets_75pct_goal'] else 'no'}"
           if e["meets_75pct_goal"] is not None else "")]
    traced = {p: r["evidence"]["kernels"] for p, r in e["paths"].items()
              if "kernels" in r["evidence"]}
    if traced:
        lines.append(
            "  - kernels seen (convolution/matmul executions in "
            f"{next(iter(traced.values())).get('steps', '?')} traced train step(s)): "
            + "; ".join(f"{p} " + (f"trace failed: {k['error']}" if k.get("error") else
                                   ", ".join(f"{t} ×{n}" for t, n in
                                             list(k["op_types"].items())[:6]) or "none")
                        for p, k in traced.items()))
    profile = e.get("op_time_profile")
    if profile and "error" not in profile:
        top = ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                        list(profile["by_op_type"].items())[:8])
        lines.append(
            f"  - where {name}'s {goal_path}-path train step spends its op time "
            f"({profile['steps']} profiled steps): convolutions and matmuls "
            f"{100 * profile['convolution_share']:.0f}%, everything else "
            f"{100 * profile['other_share']:.0f}%; by op type: {top}")
        if profile.get("convolution_utilization_estimate") is not None:
            lines.append(
                f"  - convolutions and matmuls are "
                f"{100 * profile['convolution_flops_share']:.1f}% of "
                f"the FLOPs in {100 * profile['convolution_share']:.0f}% of the op time: "
                f"alone they run at about "
                f"{100 * profile['convolution_utilization_estimate']:.0f}% of the matmul peak")
    elif profile:
        lines.append(f"  - op-time profile failed: {profile['error']}")
    return lines


def render_setting(record, goal_path):
    """One setting's section: where it ran, its table, defaults and profile."""
    dev, mm, kernels = record["device"], record["matmul"], record["kernels"]
    rows = [_path_row(name, path, row) for name, entry in record["models"].items()
            for path, row in entry["paths"].items()]
    table = common.markdown_table(
        ["model", "path", "ran", "train ex/s median (min–max)", "train vs graph",
         "inference ex/s median (min–max)", "inference vs graph", "compile s (train / infer)",
         "utilization", "utilization, same-repeat peak"], rows, align="lllrrrrrrr")
    notes = [line for name, e in record["models"].items()
             for line in _model_notes(name, e, goal_path)]
    threads, load = dev["threads"], record["load_average"]
    process, seen = record.get("process") or {}, kernels["seen"]
    title = (f"{record['label']} (--onednn={record['setting']}, {ONEDNN_VARIABLE}="
             f"{kernels.get(ONEDNN_VARIABLE)})" if record["setting"] in ONEDNN_SETTINGS
             else f"{record['label']} (kernel library not varied)")
    lines = [
        f"## {title}",
        "",
        *([f"**Kernel mismatch: {kernels['mismatch']}.**", ""] if kernels["mismatch"] else []),
        f"- kernels read back: {kernels['describe']}; onednn_enabled="
        f"{kernels['onednn_enabled']}, tensorflow_platform={kernels['platform']} "
        f"({kernels['decided_by']})",
        f"- kernels seen in the traces (convolution/matmul executions, all compiled paths): "
        f"oneDNN {seen['onednn']}, Eigen {seen['eigen']}, XLA {seen['xla']}; oneDNN ops of "
        f"any kind {seen['onednn_ops']}",
        f"- process: {process.get('mode', '?')}"
        + (f", `{process['command']}`" if process.get("command") else "")
        + (f", {record['wall_s']:.0f} s measuring" if record.get("wall_s") else ""),
        device_line(dev),
        f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}"
        + (f"; load average start {load['start'][0]:.2f}, end {load['end'][0]:.2f}"
           if load["start"] and load["end"] else ""),
        f"- matmul peak (fp32 {mm['n']}x{mm['n']}): {stats_cell(mm['gflops'])} GFLOP/s "
        f"(median, min–max, pooled: before the models "
        f"{mm['gflops_before']['median']:.1f}, in turn with their training repeats "
        + (f"{mm['gflops_during']['median']:.1f}" if mm["gflops_during"] else "n/a")
        + f", after {mm['gflops_after']['median']:.1f})",
        "",
        table,
        "",
        *notes,
    ]
    return "\n".join(lines)


def _goal_note(goal):
    rule = f"- goal (zoo default ≥ {GOAL_DEFAULT_VS_BEST} x best"
    if goal["met"] is True:
        return rule + ", every model and kernel library): met"
    if goal["met"] is False:
        return (rule + "): **missed** for " + ", ".join(goal["missed"])
                + (f"; not judged: {', '.join(goal['unknown'])}" if goal["unknown"] else ""))
    return rule + "): not judged for " + ", ".join(goal["unknown"] or ["any model"])


def render_markdown(result, goal_path):
    """The report: context, the headline table, then one section per setting."""
    cfg, plan = result["config"], result["onednn"]
    notes = [_goal_note(result["goal"])]
    for setting, message in result["mismatches"].items():
        notes.append(f"- **kernel mismatch** (--onednn={setting}): {message}")
    for setting, record in result["failed"].items():
        notes.append(f"- **--onednn={setting} failed**: {record.get('reason', 'failed')}"
                     + (f"; last stderr line: `{record['stderr_tail'][-1]}`"
                        if record.get("stderr_tail") else ""))
    ver = result["versions"]
    lines = [
        "# Eager vs graph vs XLA per CPU kernel library: train and inference throughput, "
        "utilization",
        "",
        *(["**Smoke figures (--quick): reduced sizes, batch, steps and repeats; do not "
           "quote.**", ""] if cfg["quick"] else []),
        device_line(result["device"]),
        "- kernel libraries: "
        + (", ".join(f"--onednn={s} ({ONEDNN_VARIABLE}={ONEDNN_SETTINGS[s]['env']}: "
                     f"{ONEDNN_SETTINGS[s]['label']})" for s in plan["settings"])
           + f"; {plan['reason']}" if plan["applicable"] else f"not varied: {plan['reason']}"),
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}",
        "- paths: " + "; ".join(f"{p}: compile({c})" for p, c in cfg["paths_compile"].items()),
        f"- batch {cfg['batch_size']}; image models at most {cfg['image_size']}x"
        f"{cfg['image_size']}, text models' texts padded to {cfg['sequence_length']} "
        f"words; {cfg['optimizer']}, {cfg['loss']}",
        f"- {cfg['warmup']} warm-up call(s) per path (the first reported as compile s), one "
        f"calibration call, then {cfg['repeats']} repeats of >= {cfg['steps']} steps "
        f"(>= {cfg['min_repeat_s']:g} s) per path, interleaved; then "
        f"{cfg['kernel_trace_steps']} traced train step(s) per compiled path",
        f"- FLOPs: {cfg['train_flops_convention']}; utilization = {cfg['utilization']}",
        f"- {result['timestamp']}, `{result['command']}`"
        + (f", {cfg['wall_s']:.0f} s" if cfg.get("wall_s") else ""),
        "",
        "## Headline: graph vs XLA and the zoo's default path, per kernel library",
        "",
        render_headline(result),
        "",
        *notes,
        "",
        "Train examples/s, median (min–max) over the repeats. best = the faster of graph "
        "and xla (`choose_faster`; eager never, nor an xla path Keras refused); zoo default "
        "= the path `model.compile(optimizer, loss)` picks in that process "
        "(`preferred_jit_compile` of its platform); default / best of the medians. Kernels "
        "seen: the library of the convolutions and matmuls that ran in a profiler trace "
        "of the path's train steps (oneDNN: `_Mkl*` executor ops; Eigen: TensorFlow's own "
        "`Conv2D`, `MatMul`, `Einsum`...; XLA: HLO instructions), with their count.",
    ]
    for record in result["settings"].values():
        lines += ["", render_setting(record, goal_path)]
    refused = any(r["evidence"].get("xla_refused") for s in result["settings"].values()
                  for e in s["models"].values() for r in e["paths"].values())
    lines += [
        "",
        "\"ran\" is read back from the compiled model and its traced train step "
        "(`_XlaMustCompile`); \"(default)\" marks a path measured only because it is a "
        "default. Ratios are examples/s over graph mode's within each repeat (> 1: faster). "
        "zoo default = `model.compile(optimizer, loss)` without jit_compile; keras default = "
        "`keras.Model.compile(model, ...)`."
        + (" An xla row that Keras refused runs the same graph as the graph row: its ratio "
           "to graph shows this run's noise floor (turn order included)." if refused else ""),
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The summary benchmarks.report shows.


def _get(data, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _settings(result):
    """`(setting, label, models)` per kernel library; one unnamed setting
    `(None, None, models)` for a result from before --onednn."""
    def models_of(record):
        models = record.get("models")
        if isinstance(models, list):
            return {m.get("name", str(i)): m for i, m in enumerate(models) if isinstance(m, dict)}
        return models if isinstance(models, dict) else {}

    settings = result.get("settings")
    if isinstance(settings, dict) and settings:
        return [(key, record.get("label") or key, models_of(record))
                for key, record in settings.items() if isinstance(record, dict)]
    return [(None, None, models_of(result))]


def path_rows(result):
    """Per setting, model and path: train examples/s, the ratio to graph mode,
    which default it is, utilization, the kernels seen and any error."""
    rows = []
    for setting, label, models in _settings(result):
        for model, info in models.items():
            paths = _get(info, "paths") or {}
            if not isinstance(paths, dict):
                continue
            graph = common.stats_of(_get(paths, "graph", "train", "examples_per_s"))
            for path in [p for p in PATHS if p in paths] + [p for p in paths if p not in PATHS]:
                entry = paths[path] if isinstance(paths[path], dict) else {}
                eps = common.stats_of(_get(entry, "train", "examples_per_s"))
                given = common.stats_of(_get(entry, "train", "ratio_vs_graph")
                                        or _get(entry, "train", "vs_graph"))
                if path == "graph" and eps is not None:
                    vs_graph = {"median": 1.0, "min": 1.0, "max": 1.0}
                elif given is not None or eps is None or not graph:
                    vs_graph = given
                else:  # of the medians; min and max: the path's spread over graph's median
                    vs_graph = {k: v / graph["median"] for k, v in eps.items()}
                utilization = _get(info, "utilization", path)
                if utilization is None:
                    utilization = entry.get("utilization", _get(entry, "train", "utilization"))
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


def _util_cell(value):
    """Utilization, a fraction of the peak (a number or a summary), as a percentage."""
    if value is None:
        return ""
    stats = common.stats_of(value)
    if stats is not None:
        return f"{100 * stats['median']:.1f}%"
    if isinstance(value, dict):
        parts = [f"{k}={v:.3g}" for k, v in value.items() if common.stats_of(v) is not None]
        return ", ".join(parts[:2])
    return str(value)


def _default_notes(result, items):
    notes = []
    for setting, label, models in _settings(result):
        for model, info in models.items():
            parts = [f"{name} {info[key]}" for key, name in (
                ("zoo_default_path", "zoo default"), ("keras_default_path", "Keras default"),
                ("best_train_path", "best")) if info.get(key)]
            for key, name in (("zoo_default_vs_best", "zoo default / best"),
                              ("zoo_default_vs_keras_default", "zoo default / Keras default")):
                stats = common.stats_of(info.get(key))
                if stats is not None:
                    parts.append(f"{name} {common.ratio_cell(stats)}")
                    prefix = model if label is None else f"{model}@{label}"
                    items.append(common.summary_item(
                        "xla", f"{prefix}/{key}", f"{model}{f' ({label})' if label else ''}: "
                        f"{name}", stats, "train examples/s; < 1: the default is slower"))
            for key, name in (("meets_default_goal", "default ≥ 0.95 x best"),
                              ("meets_75pct_goal", "75% utilization goal")):
                if info.get(key) is not None:
                    parts.append(f"{name}: " + ("met" if info[key] else "not met"))
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
    failed = result.get("failed") if isinstance(result.get("failed"), dict) else {}
    for setting, record in failed.items():
        reason = record.get("reason") if isinstance(record, dict) else record
        notes.append(f"- --onednn={setting} failed: {reason}")
    return notes


def summary(result):
    """What `benchmarks.report` shows of a result: per setting, model and path,
    train examples/s and the ratio to graph mode, the defaults, the goals;
    a grouped-bar chart of the ratios, one panel per kernel library, with no
    bar (and items marked `ran=False`) for a path that failed or an xla that
    Keras refused."""
    rows, items, groups = [], [], {}
    all_rows = path_rows(result)
    per_setting = any(r["kernels"] is not None for r in all_rows)
    for r in all_rows:
        label = r["model"] + (f" ({r['kernels']})" if r["kernels"] else "")
        marks = [m for m, on in (("zoo default", r["zoo_default"]),
                                 ("Keras default", r["keras_default"]), ("best", r["best"]),
                                 ("XLA refused", r["xla_refused"])) if on]
        lead = [r["model"]] + ([r["kernels"] or ""] if per_setting else []) + [r["path"]]
        # No bar for a path that did not run as labelled: failed, or an xla
        # that Keras refused (it ran graph mode).
        ran = r["vs_graph"] is not None and not r["xla_refused"]
        if ran:
            groups.setdefault(r["kernels"], {}).setdefault(r["model"], {})[r["path"]] = [
                r["vs_graph"][k] for k in ("median", "min", "max")]
        if r["error"] and r["examples_per_s"] is None:
            rows.append(lead + [f"error: {str(r['error'])[:80]}", "", ", ".join(marks), ""])
            continue
        rows.append(lead + [common.ratio_cell(r["examples_per_s"], 1),
                            common.ratio_cell(r["vs_graph"]), ", ".join(marks),
                            _util_cell(r["utilization"])])
        key = r["model"] if r["kernels"] is None else f"{r['model']}@{r['kernels']}"
        items.append(common.summary_item(
            "xla", f"{key}/{r['path']}", f"{label} {r['path']}: train examples/s / graph",
            r["vs_graph"], "> 1: faster than graph mode", ran=ran,
            examples_per_s=r["examples_per_s"],
            zoo_default=r["zoo_default"], keras_default=r["keras_default"],
            **({"setting": r["setting"], "kernels": r["kernels"],
                "kernels_seen": r["kernels_seen"]} if per_setting else {})))
    notes = _default_notes(result, items)
    # One panel per kernel library (a GPU host's one: no label): bars per model.
    chart = [{"title": (f"{kernels} kernels: " if kernels else "")
              + "train examples/s per path, graph = 1.0 (no bar: refused or failed)",
              "ylabel": "train examples/s / graph", "groups": models}
             for kernels, models in groups.items()] or None
    if not rows and not result.get("failed"):
        return {"title": TITLE, "markdown": "No per-model paths in the result.",
                "items": items, "chart": chart}
    lines = [common.markdown_table(
        ["model"] + (["kernels"] if per_setting else [])
        + ["path", "train ex/s median (min–max)", "vs graph median (min–max)", "default",
           "utilization"], rows, align=("ll" if per_setting else "l") + "lrrll")] if rows else []
    lines += ["", *notes] if notes else []
    lines += ["", "Train examples/s; \"vs graph\" > 1 is faster than graph mode "
              "(jit_compile=False); utilization: achieved train FLOP/s over the measured "
              "matmul peak"
              + ("; kernels: TensorFlow's CPU kernel library the setting ran (oneDNN, "
                 "TF_ENABLE_ONEDNN_OPTS=1, or its own Eigen kernels, =0)." if per_setting
                 else ".")]
    return {"title": TITLE, "markdown": "\n".join(lines), "items": items, "chart": chart}
