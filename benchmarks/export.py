"""Inference latency of zoo models served from Keras, a SavedModel and TFLite.

Usage: `python -m benchmarks.export [--quick] [--models=text_rnn]`.
"""

import functools
import math
import pathlib
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import zoo.export
from benchmarks import common
from zoo.data import sentiment
from zoo.export import fold, formats

NAME = "export"
TITLE = "Inference latency: Keras vs SavedModel vs TFLite"
NUM_CLASSES = {"image": 10, "text": 2}
MAX_TOKENS, ADAPT_TEXTS = 1000, 2000
BASELINE, GRAPH_BASELINE = "keras_call", "keras_tf_function"
UNFOLDED = {"saved_model": "saved_model_unfolded", "tflite": "tflite_unfolded"}
# path -> (label, what one call times).
PATH_TIMES = {
    "keras_call": ("Keras call (eager)", "`model(x, training=False)`"),
    "keras_tf_function": ("Keras in tf.function", "the same in a `tf.function` with the "
                          "SavedModel's input signature"),
    "keras_predict_on_batch": ("Keras predict_on_batch", "`model.predict_on_batch(x)`"),
    "saved_model": ("SavedModel", "`zoo.export.load(dir)(x)`, BatchNorm folded (the default)"),
    "tflite": ("TFLite (float)", "`zoo.export.load(file.tflite)(x)` on the CPU interpreter, one "
               "per batch size, BatchNorm folded"),
    "saved_model_unfolded": ("SavedModel, BN unfolded", "the SavedModel with fold_batchnorm=False"),
    "tflite_unfolded": ("TFLite (float), BN unfolded", "the TFLite file with "
                        "fold_batchnorm=False"),
    "tflite_token_ids": ("TFLite, ids in", "text models: the interpreter fed token ids"),
}
PATHS = tuple(PATH_TIMES)[:5]


def has_batchnorm_to_fold(model):
    """Whether `model`'s unfolded exports are timed too (`model.folded() is not model`)."""
    return getattr(model, "folded", None) is not None and model.folded() is not model


DEFAULTS = {"warmup": 5}
FLAGS = {
    "models": common.MODELS_FLAG,
    "batch_sizes": common.flag(["1", "32"], "Batch sizes to time each path at.", choices=int),
    "iterations": common.flag(20, "Timed calls per repeat."),
    "image_size": common.flag(32, "Height and width of the 1-channel images.", lower_bound=8),
    "sequence_length": common.flag(64, "Tokens per text of the text models, in every path.",
                                   lower_bound=1),
    "tflite_threads": common.flag(0, "Interpreter threads; 0: the interpreter's default.",
                                  lower_bound=0),
}
# A smoke run: every path once, on the smallest models that take it.
QUICK = {"repeats": 2, "iterations": 2, "warmup": 1, "image_size": 16, "sequence_length": 16,
         "models": functools.partial(common.smallest_models, also=[has_batchnorm_to_fold])}
log = common.logger(NAME)


def build_model(name, image_size, sequence_length, seed):
    """A seeded zoo model; a text model with its vocabulary adapted."""
    keras.utils.set_random_seed(seed)
    kind = common.modality(name)
    if kind == "image":
        return zoo.create_model(name, num_classes=NUM_CLASSES[kind],
                                input_shape=(image_size, image_size, 1))
    model = zoo.create_model(name, num_classes=NUM_CLASSES[kind], max_tokens=MAX_TOKENS,
                             sequence_length=sequence_length)
    model.adapt(sentiment.generate(ADAPT_TEXTS, seed=seed)[0])
    return model


def make_inputs(model, batch_size, seed):
    """Images from `example_inputs`, or sentiment sentences the vocabulary never saw."""
    if model.modality == "text":
        return np.array(sentiment.generate(batch_size, seed=seed, stream=1)[0], dtype=object)
    return np.asarray(model.example_inputs(batch_size=batch_size, seed=seed))


def export_model(model, name, workdir, batch_sizes, tflite_threads, warnings, folds):
    """`(records, loaded)`: per export its save and load record, and what loads."""
    exports, loaded = {}, {}
    for key in [f.name for f in formats.of_kind(formats.INFERENCE)] + [*UNFOLDED.values()] * folds:
        record = exports[key] = {"save_s": None, "load_s": None, "size_bytes": None,
                                 "op_counts": None, "total_ops": None, "error": None}
        fmt = formats.get(key.removesuffix("_unfolded"))
        target = workdir / (f"{name}_{key}" + (fmt.suffixes[0] if fmt.suffixes else ""))
        try:
            with common.recording_warnings(warnings):
                written, record["save_s"] = common.timed(zoo.export.save, model, target, **(
                    {"fold_batchnorm": False} if key in UNFOLDED.values() else {}))
                written = pathlib.Path(written)
                record["size_bytes"] = sum(p.stat().st_size for p in [written, *written.rglob("*")]
                                           if p.is_file())
                loaded[key], record["load_s"] = common.timed(  # a file: an interpreter per batch
                    lambda: fmt.load(written) if fmt.directory else {
                        b: fmt.load(written, num_threads=tflite_threads or None)
                        for b in batch_sizes})
                first = loaded[key] if fmt.directory else loaded[key][batch_sizes[0]]
                counts = first.op_counts()
                record.update(op_counts=dict(sorted(counts.items())),
                              total_ops=sum(counts.values()))
                if key.startswith("saved_model"):
                    record["batchnorm_ops"] = fold.batchnorm_ops(counts)
        except Exception as exc:  # noqa: BLE001 - reported per format
            record["error"] = common.first_line(exc)
            loaded.pop(key, None)
            log(f"{name}: {key} export failed: {record['error']}")
    if "tflite" in loaded:
        lite = loaded["tflite"][batch_sizes[0]]
        detail = lite.input_details[0]
        signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        static = None if signature[0] == -1 else signature[0]
        exports["tflite"].update(
            runtime=lite.runtime, quantization=lite.quantization,
            num_threads=tflite_threads or "interpreter default",
            input_shape_signature=signature, input_dtype=np.dtype(detail["dtype"]).name,
            static_batch=static, tokenizes_in_python=lite.vocabulary is not None,
            sequence_length=lite.sequence_length,
            invocations_per_call={str(b): 1 if static is None else math.ceil(b / static)
                                  for b in batch_sizes})
    return exports, loaded


def folding_evidence(exports):
    """Per format, the ops folding changed in the files; None without BatchNorm."""
    if not any(key in exports for key in UNFOLDED.values()):
        return None
    evidence = {}
    for folded, unfolded in UNFOLDED.items():
        a, b = exports.get(folded, {}), exports.get(unfolded, {})
        if a.get("op_counts") is None or b.get("op_counts") is None:
            evidence[folded] = {"error": a.get("error") or b.get("error") or "not exported"}
            continue
        evidence[folded] = fold.op_difference(b["op_counts"], a["op_counts"])
        if "batchnorm_ops" in a:
            evidence[folded]["batchnorm_ops"] = {"unfolded": b["batchnorm_ops"],
                                                 "folded": a["batchnorm_ops"]}
    return evidence


def tflite_detail(exports):
    """What the `tflite` path of this model does per call, in words."""
    info = exports.get("tflite", {})
    if info.get("error") or "input_shape_signature" not in info:
        return None
    static = info["static_batch"]
    how = ("dynamic batch: one `invoke` per call" if static is None else
           f"static batch of {static}: one `invoke` per "
           + ("example" if static == 1 else f"{static} examples") + " (" + ", ".join(
               f"{n} at batch {b}" for b, n in info["invocations_per_call"].items()) + ")")
    if info["tokenizes_in_python"]:
        return (f"strings -> Python-side tokenization (Keras `TextVectorization` rebuilt from "
                f"the file's vocabulary) -> int32 ids (batch, {info['sequence_length']}) -> {how}")
    return f"{info['input_dtype']} {tuple(info['input_shape_signature'])} in, {how}"


def _to_numpy(y):
    return np.asarray(y.numpy() if hasattr(y, "numpy") else y, dtype="float64")


def measure_model(name, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
                  tflite_threads, seed, workdir, tf_device):
    """Builds, exports and times one model; returns its info and cells."""
    info = {"params": None, "build_s": None, "exports": {}, "paths": {}, "folding": None,
            "warnings": [], "error": None}
    start = time.perf_counter()
    try:
        with tf.device(tf_device):
            model = build_model(name, image_size, sequence_length, seed)
            inputs = {b: make_inputs(model, b, seed) for b in batch_sizes}
            model(inputs[batch_sizes[0]], training=False)  # builds the weights
    except Exception as exc:  # noqa: BLE001 - reported per model
        model, info["error"] = None, common.first_line(exc)
        log(f"{name}: failed to build: {info['error']}")
    folds = model is not None and has_batchnorm_to_fold(model)
    paths = PATHS + tuple(UNFOLDED.values()) * folds + (
        ("tflite_token_ids",) if common.modality(name) == "text" else ())
    blank = dict.fromkeys(("latency_ms", "latency_ms_per_repeat", "per_example_ms",
                           "first_call_ms", "warmup_ms", "ratio_vs_keras", "ratio_vs_tf_function",
                           "ratio_folded_vs_unfolded", "max_abs_diff_vs_keras"))
    cells = {p: {str(b): {"path": p, "batch_size": b, **blank,
                          "error": info["error"] and f"model: {info['error']}"}
                 for b in batch_sizes} for p in paths}
    if model is None:
        return info, cells
    info.update(build_s=time.perf_counter() - start, params=int(model.count_params()))
    info["exports"], loaded = export_model(model, name, workdir, batch_sizes, tflite_threads,
                                           info["warnings"], folds)
    info["folding"] = folding_evidence(info["exports"])
    info["paths"] = {p: PATH_TIMES[p][1] for p in paths}
    if tflite_detail(info["exports"]):
        info["paths"]["tflite"] += f" This model: {tflite_detail(info['exports'])}."

    sig = model.input_signature  # the SavedModel's, batch None
    graph_fn = tf.function(lambda x: model(x, training=False), jit_compile=False, input_signature=[
        tf.TensorSpec((None, *sig.shape[1:]), tf.as_dtype(sig.dtype or "float32"), name=sig.name)])
    lite = loaded.get("tflite", {})
    ids = {b: lite[b].tokenize(inputs[b]) for b in lite} if "tflite_token_ids" in paths else {}
    steps = {"keras_call": lambda b: lambda: model(inputs[b], training=False),
             "keras_tf_function": lambda b: lambda: graph_fn(inputs[b]),
             "keras_predict_on_batch": lambda b: lambda: model.predict_on_batch(inputs[b]),
             "tflite_token_ids": lambda b: lite.get(b) and (lambda: lite[b](ids[b]))}
    for key in loaded:  # the exports: one callable, or one per batch size
        steps[key] = lambda b, k=key: lambda: (loaded[k][b] if isinstance(loaded[k], dict)
                                               else loaded[k])(inputs[b])
    guards = {}
    for b in batch_sizes:
        for path in paths:
            export = info["exports"].get("tflite" if path == "tflite_token_ids" else path)
            if export and export["error"]:
                cells[path][str(b)]["error"] = f"export: {export['error']}"
            elif path in steps and steps[path](b):
                guards[f"{path}@{b}"] = common.GuardedStep(steps[path](b))
    log(f"{name}: timing {len(guards)} path x batch candidates in turns")
    with tf.device(tf_device):
        timings = common.time_repeats(guards, steps=iterations, repeats=repeats, warmup=warmup,
                                      log=log) if guards else {}

    ms = {}
    for key, guard in guards.items():
        path, b = key.split("@")
        cell = cells[path][b]
        if guard.error:
            cell["error"] = guard.error
            continue
        t, ms[key] = timings[key], common.latencies_ms(timings[key]["repeat_s"], iterations)
        cell.update(latency_ms=common.summarize(ms[key]), latency_ms_per_repeat=ms[key],
                    per_example_ms=common.summarize(ms[key])["median"] / int(b),
                    first_call_ms=1000.0 * t["first_step_s"],
                    warmup_ms=[1000.0 * s for s in t["warmup_s"]])
    # After timing, so that first calls stay first.
    reference = {b: _to_numpy(model(inputs[int(b)], training=False))
                 for b in map(str, batch_sizes) if f"{BASELINE}@{b}" in ms}
    for key in ms:
        path, b = key.split("@")
        cell = cells[path][b]
        try:
            if b in reference:
                cell["max_abs_diff_vs_keras"] = float(np.max(np.abs(
                    _to_numpy(guards[key].step()) - reference[b])))
        except Exception as exc:  # noqa: BLE001
            cell["error"] = common.first_line(exc)
            continue
        for field, base in (("ratio_vs_keras", BASELINE), ("ratio_vs_tf_function",
                                                           GRAPH_BASELINE),
                            ("ratio_folded_vs_unfolded", UNFOLDED.get(path))):
            if f"{base}@{b}" in ms:
                cell[field] = common.ratio_stats(ms[key], ms[f"{base}@{b}"])
    return info, cells


def run(output_dir, models, batch_sizes, repeats, iterations, warmup, image_size,
        sequence_length, tflite_threads, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, device = common.arguments(locals()), common.device_info()
    info, results = {}, {}
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="zoo-bench-export-"))
    try:
        for name in models:
            log(f"{name}: building and exporting to {workdir}")
            info[name], results[name] = measure_model(
                name, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
                tflite_threads, seed, workdir, common.tf_device(device))
            keras.backend.clear_session()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    config.update(image_shape=[image_size, image_size, 1], max_tokens=MAX_TOKENS,
                  tflite_threads=tflite_threads or "interpreter default",
                  paths={p: times for p, (_, times) in PATH_TIMES.items()}, baseline=BASELINE,
                  fair_graph_comparison=GRAPH_BASELINE, tf_device=common.tf_device(device),
                  folding="fold_batchnorm=True (the default); *_unfolded: fold_batchnorm=False")
    result = {**common.envelope(NAME, "inference latency of zoo models: Keras, SavedModel, "
                                "TFLite", config, device), "models": info, "results": results}
    return common.publish(NAME, result, output_dir, markdown, summary)


def _ms(value):
    return "" if value is None else f"{value:.3f}" if value < 1 else f"{value:.2f}" \
        if value < 100 else f"{value:.0f}"


def _ops_change(evidence):
    if "error" in evidence:
        return f"error: {evidence['error']}"
    bn = evidence.get("batchnorm_ops")
    changes = [f"-{n} {op}" for op, n in evidence["removed"].items()] + \
        [f"+{n} {op}" for op, n in evidence["added"].items()]
    return (f"{evidence['total']['unfolded']} ops -> {evidence['total']['folded']}"
            + (f" (BatchNorm ops {bn['unfolded']} -> {bn['folded']})" if bn else "")
            + (": " + ", ".join(changes) if changes else ": the same ops"))


def markdown(result):
    """The report: context, a row per model x path x batch, what each path times."""
    cfg, rows = result["config"], []
    for name, paths in result["results"].items():
        for b in cfg["batch_sizes"]:
            for path, by_batch in paths.items():
                cell, label = by_batch[str(b)], PATH_TIMES[path][0]
                if cell["error"]:
                    rows.append([name, label, b, f"error: {common.cut(cell['error'])}", *[""] * 6])
                    continue
                lat, diff = cell["latency_ms"], cell["max_abs_diff_vs_keras"]
                rows.append([name, label, b, _ms(lat["median"]),
                             f"{_ms(lat['min'])}–{_ms(lat['max'])}", _ms(cell["per_example_ms"]),
                             "1 (baseline)" if path == BASELINE
                             else common.ratio_cell(cell["ratio_vs_keras"]),
                             "1 (graph baseline)" if path == GRAPH_BASELINE
                             else common.ratio_cell(cell["ratio_vs_tf_function"]),
                             _ms(cell["first_call_ms"]), "" if diff is None else f"{diff:.1e}"])
    lines = common.header(
        TITLE, result, f"- Keras and SavedModel on {cfg['tf_device']}, TFLite on the CPU "
        f"(num_threads: {cfg['tflite_threads']})", f"- inputs: images "
        f"{tuple(cfg['image_shape'])}; text models: sentences of {cfg['sequence_length']} "
        "tokens") + [
        common.markdown_table(["model", "path", "batch", "ms/call median", "ms min–max",
                               "ms/example", "vs Keras call: median (min–max)",
                               "vs tf.function: median (min–max)", "first call ms",
                               "max |Δ| vs Keras"], rows, align="lllrrrrrrr"),
        "", "Ratios within each repeat; > 1: slower.", "",
        "What each path times (NumPy batch in, NumPy result out, per call):", "",
        *(f"- {label} (`{p}`): {times}" for p, (label, times) in PATH_TIMES.items())]
    folding = [f"- {name} {label}: " + (", ".join(
        f"batch {b} {common.ratio_cell(cell['ratio_folded_vs_unfolded'])}"
        for b, cell in result["results"][name][path].items() if cell["ratio_folded_vs_unfolded"])
        or "no latency ratio (see errors)") + f"; {_ops_change(info['folding'][path])}"
        for name, info in result["models"].items() if info.get("folding")
        for path, label in (("saved_model", "SavedModel"), ("tflite", "TFLite"))]
    if folding:
        lines += ["", "BatchNorm folding: latency folded / unfolded (> 1: folding is slower), "
                  "and the ops it changed in the files:", "", *folding]
    notes = []
    for name, info in result["models"].items():
        if tflite_detail(info.get("exports", {})):
            notes.append(f"- {name} TFLite: {tflite_detail(info['exports'])}")
        for fmt, e in info.get("exports", {}).items():
            notes.append(f"- {name} {fmt}: error: {e['error']}" if e.get("error") else
                         f"- {name} {fmt}: save {e['save_s']:.2f} s, load {e['load_s']:.2f} s, "
                         f"{e['size_bytes'] / 1024:.0f} KiB")
        notes += [f"- {name}: error: {info['error']}"] if info.get("error") else []
        notes += [f"- {name} warning: {w}" for w in info.get("warnings", [])]
    return "\n".join(lines + (["", "Per model (exports to a temporary directory, deleted "
                                   "after the run):", "", *notes] if notes else [])) + "\n"


def summary(result):
    """Per model and batch size: the Keras call's latency and the key ratios."""
    rows, items = [], []
    for model, paths in result["results"].items():
        for b in paths["keras_call"]:
            cells = []
            for path, field, label in (
                    ("keras_tf_function", "ratio_vs_keras", "tf.function / Keras call"),
                    ("saved_model", "ratio_vs_tf_function", "SavedModel / tf.function"),
                    ("tflite", "ratio_vs_keras", "TFLite / Keras call"),
                    ("saved_model", "ratio_folded_vs_unfolded",
                     "SavedModel, BatchNorm folded / unfolded"),
                    ("tflite", "ratio_folded_vs_unfolded", "TFLite, BatchNorm folded / unfolded")):
                cell = paths[path][b]
                if cell.get(field):
                    cells.append(common.ratio_cell(cell[field]))
                    items.append(common.summary_item(NAME, f"{model}@{b}/{path}/{field}",
                                                     f"{model} batch {b}: {label}", cell[field],
                                                     "ms per call; > 1: slower"))
                else:  # nothing to fold, or it failed
                    cells.append("error" if cell.get("error") and (
                        field != "ratio_folded_vs_unfolded" or UNFOLDED[path] in paths) else "")
            call = paths["keras_call"][b].get("latency_ms")
            rows.append([model, b, common.number_cell(call and call["median"]), *cells])
    return common.headline(TITLE, ["model", "batch", "Keras call ms", "tf.function / Keras call",
                                   "SavedModel / tf.function", "TFLite / Keras call",
                                   "SavedModel folded / unfolded", "TFLite folded / unfolded"],
                           rows, "lrrrrrrr", "Latency ratios, median (min–max) over repeats; "
                           "> 1: slower.", items)


if __name__ == "__main__":
    common.main(__name__)
