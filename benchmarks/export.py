"""Inference latency of zoo models served from Keras, a SavedModel and TFLite.

For each model (--models; default: what each family puts forward for
benchmarks, `common.default_models()`; with --quick, the smallest of those of
each modality and the smallest with BatchNorm to fold, so that every path
runs once), in ONE process, times batches of 1
and 32 through these paths (`PATH_TIMES` says exactly what each one times),
all fed the same NumPy batch (images: `model.example_inputs`, 32x32x1; text
models: sentiment sentences) and all returning (or synced to) a NumPy result:
`keras_call` (eager: the baseline of `ratio_vs_keras`), `keras_tf_function`
(the serving graph traced in-process: THE fair graph-mode comparison for the
SavedModel, `ratio_vs_tf_function`), `keras_predict_on_batch`,
`saved_model` (`zoo.export.load(dir)`), `tflite` (`zoo.export.load(file)`,
float32, the stock interpreter on the CPU, one interpreter per batch size;
a text model's file holds its integer-token twin, so each call tokenizes
in Python first), and for text models (`modality == "text"`)
`tflite_token_ids`, the interpreter fed ids tokenized before timing.

BatchNorm folding: `saved_model` and `tflite` are exported as
`zoo.export.save` writes them by default, each BatchNorm folded into its
convolution (`fold_batchnorm=True`, `zoo.export.fold`). For a model with
something to fold (`model.folded() is not model`: the ResNets, MobileNetV2)
the same exports with `fold_batchnorm=False` are timed too, in the same
turns (`saved_model_unfolded`, `tflite_unfolded`), and the folded paths'
cells get `ratio_folded_vs_unfolded` (per repeat, > 1: folding made it
slower). Each model's `folding` records the evidence from the files
themselves: the ops of each export by type (`op_counts()` of the loaded
SavedModel's serving graph and of the TFLite flatbuffer), the BatchNorm ops
of each SavedModel, and what folding removed and added.

Recipe (DESIGN.md, "Benchmarks"): the model is built (a text model adapts
its vocabulary, `model.adapt`, to generated sentiment sentences) and
exported to a temporary directory (save and load times reported, artifacts
deleted at the end). Then all paths x batch sizes of the model take turns
(`common.time_repeats`): each one's first call (tracing, graph
optimization, interpreter allocation) is reported as `first_call_ms`,
`--warmup - 1` more calls are discarded, then `--repeats` times each runs
`--iterations` timed calls. Latency is milliseconds per call; ratios are
taken within each repeat against the Keras call (and the tf.function) of
the same model and batch size, > 1 meaning slower. A path that fails to
export or run is reported with the first line of its error; the others are
still measured. Every path's output is compared with the Keras call's
(`max_abs_diff_vs_keras`), so a broken path cannot pass for a fast one.

Prints a markdown table and writes export_<cpu|gpu>.json and .md to
--output_dir. On a GPU host the Keras and SavedModel paths run on the GPU,
TFLite on the CPU (recorded per path).

Usage:
  python -m benchmarks.export                   # a few minutes on CPU
  python -m benchmarks.export --quick           # smoke run (every path, fewest models), < 1 min
  python -m benchmarks.export --models=text_rnn --iterations=50
"""

import math
import pathlib
import shutil
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks import common

NAME = "export"
MODULE = f"benchmarks.{NAME}"
# Classes of each modality's head: 10 (the image datasets), 2 (sentiment).
NUM_CLASSES = {"image": 10, "text": 2}
PATHS = ("keras_call", "keras_tf_function", "keras_predict_on_batch", "saved_model", "tflite")
TEXT_PATHS = ("tflite_token_ids",)
# The exports without folding, timed for models with BatchNorm to fold;
# each folded path's `ratio_folded_vs_unfolded` is over its own.
FOLD_PATHS = ("saved_model_unfolded", "tflite_unfolded")
UNFOLDED = {"saved_model": "saved_model_unfolded", "tflite": "tflite_unfolded"}
BASELINE = "keras_call"
GRAPH_BASELINE = "keras_tf_function"
BATCH_SIZES = (1, 32)
IMAGE_CHANNELS = 1
MAX_TOKENS = 1000
ADAPT_TEXTS = 2000


def has_batchnorm_to_fold(model):
    """Whether export times `model`'s unfolded exports too (`model.folded()
    is not model`: the ResNets, MobileNetV2)."""
    return getattr(model, "folded", None) is not None and model.folded() is not model


# --quick: a smoke run, every path once on the smallest models that take it:
# the smallest default model of each modality (the text paths), plus the
# smallest with BatchNorm to fold (the unfolded paths); few, small calls.
QUICK = {"repeats": 2, "iterations": 2, "warmup": 1, "image_size": 16,
         "sequence_length": 16,
         "models": common.QuickModels(
             also=[has_batchnorm_to_fold],
             description="the smallest default model of each modality (fewest weight "
                         "tensors) and the smallest with BatchNorm to fold")}
log = common.logger(NAME)

PATH_LABELS = {
    "keras_call": "Keras call (eager)",
    "keras_tf_function": "Keras in tf.function",
    "keras_predict_on_batch": "Keras predict_on_batch",
    "saved_model": "SavedModel",
    "tflite": "TFLite (float)",
    "tflite_token_ids": "TFLite, ids in",
    "saved_model_unfolded": "SavedModel, BN unfolded",
    "tflite_unfolded": "TFLite (float), BN unfolded",
}
PATH_TIMES = {
    "keras_call": (
        "`model(x, training=False)` on the NumPy batch: eager execution, op by op from "
        "Python (Keras converts the input to a tensor); the clock stops after `.numpy()` "
        "of the output."),
    "keras_tf_function": (
        "`tf.function(lambda x: model(x, training=False), input_signature=[<the "
        "SavedModel's input spec, batch None>], jit_compile=False)` called on the NumPy "
        "batch, `.numpy()` of the output: the serving graph, traced in-process. The fair "
        "graph-mode comparison for the SavedModel."),
    "keras_predict_on_batch": (
        "`model.predict_on_batch(x)`: Keras' `predict_function` (`tf.function`, "
        "reduce_retracing=True, XLA iff `model.jit_compile` resolves True: only with a "
        "GPU) plus Keras' per-call structure handling and conversion to NumPy."),
    "saved_model": (
        "`zoo.export.load(dir)` -> `ServingModel(x)`: NumPy -> tensor (cast, shape check), "
        "the reloaded `serving_default` concrete function, `.numpy()` of the output. "
        "Exported as `zoo.export.save` does by default: BatchNorm folded."),
    "tflite": (
        "`zoo.export.load(file.tflite)` -> `TFLiteModel(x)` (float32): `set_tensor`, "
        "`invoke`, `get_tensor` on the CPU interpreter; one interpreter per batch size, "
        "loaded once (a dynamic batch is resized and re-allocated whenever the batch "
        "size changes). Text: tokenization in Python included, see the per-model line. "
        "BatchNorm folded (the default)."),
    "saved_model_unfolded": (
        "models with BatchNorm only: the `saved_model` path on an export with "
        "`fold_batchnorm=False` (every BatchNorm in the serving graph)."),
    "tflite_unfolded": (
        "models with BatchNorm only: the `tflite` path on a file converted with "
        "`fold_batchnorm=False` (the converter's own folding only)."),
    "tflite_token_ids": (
        "text only: the same `TFLiteModel` fed int32 token ids tokenized once before "
        "timing: the interpreter invocations alone (the `tflite` row minus tokenization)."),
}


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values` (see `common.main`)."""
    common.define_common_flags(flag_values, QUICK, repeats=5, warmup=5, models=True, help={
        "repeats": "Timed repeats per path and batch size, taken in turns "
                   "(A, B, C, ..., A, B, C, ...).",
        "warmup": "Untimed calls per path and batch size before timing; the first "
                  "(tracing, allocation) is reported as first_call_ms."})
    flags.DEFINE_list("batch_sizes", [str(b) for b in BATCH_SIZES],
                      "Batch sizes to time each path at (positive integers).",
                      flag_values=flag_values)
    flags.DEFINE_integer("iterations", 20, "Timed calls per repeat.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("image_size", 32, "Height and width of the 1-channel images of "
                         "the image models.", lower_bound=8, flag_values=flag_values)
    flags.DEFINE_integer("sequence_length", 64, "Tokens per text of the text models, in every "
                         "path (the model is built with it, so Keras, the SavedModel and "
                         "TFLite all run the same padded length).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("tflite_threads", 0, "Interpreter threads; 0 = the interpreter's "
                         "default, as zoo.export.load gives it.", lower_bound=0,
                         flag_values=flag_values)
    flags.register_validator(
        "batch_sizes", lambda sizes: bool(sizes) and all(_positive_int(s) for s in sizes),
        message="--batch_sizes must be a comma-separated, non-empty list of positive integers",
        flag_values=flag_values)


def _positive_int(text):
    try:
        return int(text) >= 1
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------
# Models, inputs, exports.


def paths_for(modality, folds=False):
    """The paths timed for a model of `modality`, in turn order.

    `folds`: whether the model has BatchNorm to fold (`model.folded() is not
    model`); then the unfolded exports are timed too.
    """
    return PATHS + (FOLD_PATHS if folds else ()) + (TEXT_PATHS if modality == "text" else ())


def build_model(name, image_size, sequence_length, seed):
    """A seeded zoo model; a text model with its vocabulary adapted."""
    import zoo
    from zoo.data import sentiment

    keras.utils.set_random_seed(seed)
    kind = common.modality(name)
    if kind == "text":
        model = zoo.create_model(name, num_classes=NUM_CLASSES[kind], max_tokens=MAX_TOKENS,
                                 sequence_length=sequence_length)
        texts, _ = sentiment.generate(ADAPT_TEXTS, seed=seed)
        model.adapt(texts)
        return model
    return zoo.create_model(name, num_classes=NUM_CLASSES[kind],
                            input_shape=(image_size, image_size, IMAGE_CHANNELS))


def make_inputs(model, batch_size, seed):
    """One fixed NumPy batch: images from `example_inputs`, or sentiment
    sentences (the test stream, so not the texts the vocabulary saw)."""
    if model.modality == "text":
        from zoo.data import sentiment

        texts, _ = sentiment.generate(batch_size, seed=seed, stream=1)
        return np.array(texts, dtype=object)
    return np.asarray(model.example_inputs(batch_size=batch_size, seed=seed))


def serving_spec(model):
    """The SavedModel signature's input: `model.input_signature`, batch None."""
    sig = model.input_signature
    return tf.TensorSpec((None,) + tuple(sig.shape[1:]), tf.as_dtype(sig.dtype or "float32"),
                         name=sig.name)


def _size_bytes(path):
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _load_tflite(path, threads):
    import zoo.export

    if threads:
        from zoo.export import tflite
        return tflite.load(path, num_threads=threads)
    return zoo.export.load(path)


def export_model(model, name, workdir, batch_sizes, tflite_threads, log_warnings,
                 folds=False):
    """Saves and reloads `model` as a SavedModel and a float TFLite file.

    With `folds`, also as both without BatchNorm folding (`FOLD_PATHS`).

    Returns:
        `(exports, servings, lites)`: `exports` is JSON-ready (per export:
        save_s, load_s, size_bytes, op_counts, total_ops, error),
        `servings` export name -> the loaded `ServingModel`, `lites` export
        name -> (batch size -> `TFLiteModel`); failed exports are left out
        of both.
    """
    import zoo.export
    from zoo.export import fold

    exports, servings, lites = {}, {}, {}
    targets = {"saved_model": workdir / f"{name}_saved_model",
               "tflite": workdir / f"{name}.tflite"}
    if folds:
        targets.update({"saved_model_unfolded": workdir / f"{name}_saved_model_unfolded",
                        "tflite_unfolded": workdir / f"{name}_unfolded.tflite"})
    for key, target in targets.items():
        record = {"save_s": None, "load_s": None, "size_bytes": None, "op_counts": None,
                  "total_ops": None, "error": None}
        exports[key] = record
        options = {"fold_batchnorm": False} if key in FOLD_PATHS else {}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    start = time.perf_counter()
                    written = zoo.export.save(model, target, **options)
                    record["save_s"] = time.perf_counter() - start
                    record["size_bytes"] = _size_bytes(written)
                    start = time.perf_counter()
                    if key.startswith("saved_model"):
                        servings[key] = loaded = zoo.export.load(written)
                    else:
                        # One interpreter per batch size; load_s is the first load.
                        lites[key] = {}
                        for batch in batch_sizes:
                            lites[key][batch] = loaded = _load_tflite(written, tflite_threads)
                            if record["load_s"] is None:
                                record["load_s"] = time.perf_counter() - start
                    if record["load_s"] is None:
                        record["load_s"] = time.perf_counter() - start
                    counts = loaded.op_counts()
                    record["op_counts"] = dict(sorted(counts.items()))
                    record["total_ops"] = sum(counts.values())
                    if key.startswith("saved_model"):
                        record["batchnorm_ops"] = fold.batchnorm_ops(counts)
                finally:
                    common.warning_lines(caught, log_warnings)
        except Exception as exc:  # noqa: BLE001 - reported per format
            record["error"] = common.first_line(exc)
            servings.pop(key, None)
            lites.pop(key, None)
            log(f"{name}: {key} export failed: {record['error']}")
    if lites.get("tflite"):
        lite = next(iter(lites["tflite"].values()))
        detail = lite.input_details[0]
        signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        static_batch = None if signature[0] == -1 else signature[0]
        exports["tflite"].update({
            "runtime": lite.runtime,
            "quantization": lite.quantization,
            "num_threads": tflite_threads or "interpreter default",
            "input_shape_signature": signature,
            "input_dtype": np.dtype(detail["dtype"]).name,
            "static_batch": static_batch,
            "tokenizes_in_python": lite.vocabulary is not None,
            "sequence_length": lite.sequence_length,
            "invocations_per_call": {str(b): (1 if static_batch is None
                                              else math.ceil(b / static_batch))
                                     for b in batch_sizes},
        })
    return exports, servings, lites


def folding_evidence(exports):
    """Per format, what BatchNorm folding changed in the exported files.

    Returns:
        None when nothing was exported unfolded (no BatchNorm to fold);
        else format -> `zoo.export.fold.op_difference(unfolded, folded)`
        (`removed`, `added`, `total`), plus `batchnorm_ops` for SavedModel,
        or `{"error": ...}` when either export failed.
    """
    from zoo.export import fold

    if not any(key in exports for key in FOLD_PATHS):
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
    if info["static_batch"] is None:
        how = "dynamic batch: one `invoke` per call"
    else:
        static = info["static_batch"]
        per = "example" if static == 1 else f"{static} examples"
        counts = ", ".join(f"{n} at batch {b}" for b, n in info["invocations_per_call"].items())
        how = f"static batch of {static}: one `invoke` per {per} ({counts})"
    if info["tokenizes_in_python"]:
        return (f"strings -> Python-side tokenization (Keras `TextVectorization` rebuilt from "
                f"the file's vocabulary, run eagerly on the batch) -> int32 ids "
                f"(batch, {info['sequence_length']}) -> {how}")
    return f"{info['input_dtype']} {tuple(info['input_shape_signature'])} in, {how}"


# --------------------------------------------------------------------------
# The run.


def _to_numpy(y):
    if hasattr(y, "numpy"):
        y = y.numpy()
    return np.asarray(y, dtype="float64")


def candidate_key(path, batch):
    return f"{path}@{batch}"


def measure_model(name, batch_sizes, repeats, iterations, warmup, image_size,
                  sequence_length, tflite_threads, seed, workdir, tf_device):
    """Builds, exports and times one model; returns its info and cells."""
    info = {"params": None, "build_s": None, "exports": {}, "paths": {},
            "predict_on_batch_xla": None, "folding": None, "warnings": [], "error": None}
    paths = paths_for(common.modality(name))
    cells = {p: {str(b): _empty_cell(p, b) for b in batch_sizes} for p in paths}

    def fail_all(error, only=None):
        for p in (only or paths):
            for b in batch_sizes:
                cells[p][str(b)]["error"] = cells[p][str(b)]["error"] or error

    start = time.perf_counter()
    try:
        with tf.device(tf_device):
            model = build_model(name, image_size, sequence_length, seed)
            inputs = {b: make_inputs(model, b, seed) for b in batch_sizes}
            model(inputs[batch_sizes[0]], training=False)  # builds the weights
    except Exception as exc:  # noqa: BLE001 - reported per model
        info["error"] = common.first_line(exc)
        fail_all(f"model: {info['error']}")
        log(f"{name}: failed to build: {info['error']}")
        return info, cells
    info["build_s"] = time.perf_counter() - start
    info["params"] = int(model.count_params())
    # A model with BatchNorm to fold gets its unfolded exports timed too.
    folds = has_batchnorm_to_fold(model)
    if folds:
        paths = paths_for(common.modality(name), folds=True)
        cells = {p: cells.get(p) or {str(b): _empty_cell(p, b) for b in batch_sizes}
                 for p in paths}
    info["input"] = {"spec": str(serving_spec(model)),
                     "kind": "sentiment sentences (zoo.data.sentiment, test stream)"
                     if model.modality == "text" else "model.example_inputs(batch, seed)"}

    exports, servings, lites = export_model(model, name, workdir, batch_sizes,
                                            tflite_threads, info["warnings"], folds=folds)
    info["exports"] = exports
    info["folding"] = folding_evidence(exports)
    for key, record in exports.items():
        dependents = (key,) + (TEXT_PATHS if key == "tflite" else ())
        if record["error"]:
            fail_all(f"export: {record['error']}", only=[p for p in dependents if p in paths])

    graph_fn = tf.function(lambda x: model(x, training=False),
                           input_signature=[serving_spec(model)], jit_compile=False)
    try:
        info["predict_on_batch_xla"] = bool(model.jit_compile)
    except Exception:  # noqa: BLE001 - informational
        pass
    info["paths"] = {p: PATH_TIMES[p] for p in paths}
    detail = tflite_detail(exports)
    if detail:
        info["paths"]["tflite"] += f" This model: {detail}."
    info["runs_on"] = {p: ("CPU (TFLite interpreter)" if p.startswith("tflite") else tf_device)
                       for p in paths}

    token_ids = {}
    if "tflite_token_ids" in paths and lites.get("tflite"):
        token_ids = {b: lites["tflite"][b].tokenize(inputs[b]) for b in batch_sizes}

    def runner(path, batch):
        x = inputs[batch]
        if path == "keras_call":
            return lambda: model(x, training=False)
        if path == "keras_tf_function":
            return lambda: graph_fn(x)
        if path == "keras_predict_on_batch":
            return lambda: model.predict_on_batch(x)
        if path in ("saved_model", "saved_model_unfolded"):
            serving = servings.get(path)
            return None if serving is None else (lambda: serving(x))
        if path in ("tflite", "tflite_unfolded"):
            lite = lites.get(path, {}).get(batch)
            return None if lite is None else (lambda: lite(x))
        if path == "tflite_token_ids":
            lite = lites.get("tflite", {}).get(batch)
            return None if lite is None else (lambda: lite(token_ids[batch]))
        raise ValueError(f"unknown path {path!r}")

    guards = {}
    for batch in batch_sizes:
        for path in paths:
            step = runner(path, batch)
            if step is not None and cells[path][str(batch)]["error"] is None:
                guards[candidate_key(path, batch)] = common.GuardedStep(step)
    log(f"{name}: timing {len(guards)} path x batch candidates in turns")
    with tf.device(tf_device):
        timings = common.time_repeats(guards, steps=iterations, repeats=repeats,
                                      warmup=warmup, log=log) if guards else {}

    # Outputs against the Keras call, after timing (so first calls stay first).
    reference = {}
    for batch in batch_sizes:
        guard = guards.get(candidate_key(BASELINE, batch))
        if guard is not None and guard.error is None:
            reference[batch] = _to_numpy(model(inputs[batch], training=False))

    per_repeat = {}
    for key, guard in guards.items():
        path, batch = key.split("@")
        batch = int(batch)
        cell = cells[path][str(batch)]
        if guard.error:
            cell["error"] = guard.error
            log(f"{name} {key}: failed: {guard.error}")
            continue
        t = timings[key]
        ms = common.latencies_ms(t["repeat_s"], iterations)
        per_repeat[key] = ms
        stats = common.summarize(ms)
        cell.update({
            "latency_ms": stats,
            "latency_ms_per_repeat": ms,
            "per_example_ms": stats["median"] / batch,
            "first_call_ms": 1000.0 * t["first_step_s"],
            "warmup_ms": [1000.0 * s for s in t["warmup_s"]],
        })
        if batch in reference:
            try:
                out = _to_numpy(guard.step())
                cell["max_abs_diff_vs_keras"] = float(np.max(np.abs(out - reference[batch])))
            except Exception as exc:  # noqa: BLE001
                cell["max_abs_diff_vs_keras"] = None
                cell["error"] = common.first_line(exc)

    for key, ms in per_repeat.items():
        path, batch = key.split("@")
        cell = cells[path][batch]
        for field, base in (("ratio_vs_keras", BASELINE),
                            ("ratio_vs_tf_function", GRAPH_BASELINE)):
            base_ms = per_repeat.get(candidate_key(base, batch))
            if base_ms is None or cell["error"]:
                continue
            ratios = common.per_repeat_ratios(ms, base_ms)
            cell[field] = {**common.summarize(ratios), "per_repeat": ratios}
        unfolded = UNFOLDED.get(path)
        unfolded_ms = per_repeat.get(candidate_key(unfolded, batch)) if unfolded else None
        if unfolded_ms is not None and not cell["error"]:
            ratios = common.per_repeat_ratios(ms, unfolded_ms)
            cell["ratio_folded_vs_unfolded"] = {**common.summarize(ratios),
                                                "per_repeat": ratios}
    return info, cells


def _empty_cell(path, batch):
    return {"path": path, "batch_size": batch, "latency_ms": None,
            "latency_ms_per_repeat": None, "per_example_ms": None, "first_call_ms": None,
            "warmup_ms": None, "ratio_vs_keras": None, "ratio_vs_tf_function": None,
            "ratio_folded_vs_unfolded": None, "max_abs_diff_vs_keras": None, "error": None}


def run(models, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
        tflite_threads, seed, output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    tf_device = common.tf_device(device)
    log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")

    model_info, results = {}, {}
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="zoo-bench-export-"))
    try:
        for name in models:
            log(f"{name}: building and exporting to {workdir}")
            info, cells = measure_model(
                name, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
                tflite_threads, seed, workdir, tf_device)
            model_info[name], results[name] = info, cells
            keras.backend.clear_session()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    description = ("inference latency per call of zoo models: Keras (eager call, "
                   "tf.function, predict_on_batch) vs the reloaded SavedModel vs the "
                   "float TFLite interpreter, at each batch size")
    config = {
        "models": list(models),
        "batch_sizes": list(batch_sizes),
        "repeats": repeats,
        "iterations": iterations,
        "warmup": warmup,
        "seed": seed,
        "image_size": image_size,
        "image_shape": [image_size, image_size, IMAGE_CHANNELS],
        "sequence_length": sequence_length,
        "max_tokens": MAX_TOKENS,
        "adapt_texts": ADAPT_TEXTS,
        "tflite_threads": tflite_threads or "interpreter default",
        "paths": {p: PATH_TIMES[p] for p in PATHS + FOLD_PATHS + TEXT_PATHS},
        "baseline": f"{BASELINE} of the same model and batch size (ratio_vs_keras); "
                    f"{GRAPH_BASELINE} for ratio_vs_tf_function",
        "fair_graph_comparison": GRAPH_BASELINE,
        "folding": ("saved_model and tflite are exported with BatchNorm folded (zoo.export's "
                    "default); for models with BatchNorm, saved_model_unfolded and "
                    "tflite_unfolded (fold_batchnorm=False) are timed in the same turns, and "
                    "ratio_folded_vs_unfolded = folded ms / unfolded ms per repeat; "
                    "models[...].folding holds the ops removed and added in the files"),
        "latency": "milliseconds per call: wall time of --iterations calls / iterations, "
                   "the result fetched to the host (NumPy) before the clock stops",
        "first_call": ("first_call_ms: each path x batch size's first call, timed apart "
                       "(tracing, graph optimization, interpreter allocation); the Keras "
                       "model itself was called once before, to build and export it"),
        "order": ("per model: first call of each path x batch size, then warm-up and timed "
                  "repeats interleaved A, B, C, ..., A, B, C, ..."),
        "tf_device": tf_device,
    }
    result = {**common.envelope(NAME, description, device, config),
              "models": model_info, "results": results}
    common.publish(NAME, result, render_markdown(result), output_dir, summary=summary)
    return result


# --------------------------------------------------------------------------
# Report.


def _stats_cell(stats, digits=2):
    if not stats:
        return "n/a"
    return (f"{stats['median']:.{digits}f} "
            f"({stats['min']:.{digits}f}–{stats['max']:.{digits}f})")


def _ms(value):
    if value is None:
        return ""
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ops_change(evidence):
    if "error" in evidence:
        return f"error: {evidence['error']}"
    total = evidence["total"]
    text = f"{total['unfolded']} ops -> {total['folded']}"
    if "batchnorm_ops" in evidence:
        bn = evidence["batchnorm_ops"]
        text += f" (BatchNorm ops {bn['unfolded']} -> {bn['folded']})"
    changes = [f"-{n} {op}" for op, n in evidence["removed"].items()] + \
        [f"+{n} {op}" for op, n in evidence["added"].items()]
    return text + (": " + ", ".join(changes) if changes else ": the same ops")


def folding_lines(result):
    """Per model with BatchNorm: the folded/unfolded latency ratios and op changes."""
    lines = []
    for name, info in result["models"].items():
        evidence = info.get("folding")
        if not evidence:
            continue
        for path, label in (("saved_model", "SavedModel"), ("tflite", "TFLite")):
            ratios = ", ".join(
                f"batch {batch} {_stats_cell(cell['ratio_folded_vs_unfolded'])}"
                for batch, cell in result["results"][name][path].items()
                if cell["ratio_folded_vs_unfolded"])
            lines.append(f"- {name} {label}: {ratios or 'no latency ratio (see errors)'}; "
                         f"{_ops_change(evidence[path])}")
    return lines


def render_markdown(result):
    """The report: context lines, one table row per model x path x batch, what is timed."""
    cfg = result["config"]
    rows = []
    for name, paths in result["results"].items():
        for batch in cfg["batch_sizes"]:
            for path, by_batch in paths.items():
                cell = by_batch[str(batch)]
                label = PATH_LABELS[path]
                if cell["error"]:
                    error = cell["error"] if len(cell["error"]) <= 100 \
                        else cell["error"][:99] + "…"
                    rows.append([name, label, batch, f"error: {error}", "", "", "", "", "", ""])
                    continue
                lat = cell["latency_ms"]
                diff = cell["max_abs_diff_vs_keras"]
                rows.append([
                    name, label, batch,
                    _ms(lat["median"]),
                    f"{_ms(lat['min'])}–{_ms(lat['max'])}",
                    _ms(cell["per_example_ms"]),
                    "1 (baseline)" if path == BASELINE else _stats_cell(cell["ratio_vs_keras"]),
                    ("1 (graph baseline)" if path == GRAPH_BASELINE
                     else _stats_cell(cell["ratio_vs_tf_function"])),
                    _ms(cell["first_call_ms"]),
                    "" if diff is None else f"{diff:.1e}",
                ])
    table = common.markdown_table(
        ["model", "path", "batch", "ms/call median", "ms min–max", "ms/example",
         "vs Keras call: median (min–max)", "vs tf.function: median (min–max)",
         "first call ms", "max |Δ| vs Keras"],
        rows, align="lllrrrrrrr")
    lines = [
        "# Inference latency: Keras vs SavedModel vs TFLite",
        "",
        *common.context_lines(
            result, f"; Keras/SavedModel on {cfg['tf_device']}, TFLite on the CPU",
            f"; TFLite num_threads: {cfg['tflite_threads']}"),
        f"- inputs: images {tuple(cfg['image_shape'])} (`example_inputs`); text_rnn: "
        f"sentiment sentences, model built with sequence_length={cfg['sequence_length']} "
        f"(every path pads to it), vocabulary adapted on {cfg['adapt_texts']} sentences",
        f"- {cfg['warmup']} warm-up call(s) per path and batch (the first reported as \"first "
        f"call ms\"), then {cfg['repeats']} repeats x {cfg['iterations']} timed calls, all "
        "paths and batch sizes of a model interleaved",
        f"- {result['timestamp']}, `{result['command']}`",
        "",
        table,
        "",
        "Ratios are ms/call over the Keras eager call (`vs Keras call`) or over the same "
        "model in a `tf.function` (`vs tf.function`, the fair graph-mode comparison for the "
        "SavedModel), same model and batch size, taken within each repeat; > 1 means "
        "slower. \"max |Δ| vs Keras\": largest absolute difference of the path's output from "
        "the Keras call's on the timed batch.",
        "",
        "What each path times (NumPy batch in, NumPy result out, per call):",
        "",
    ]
    lines += [f"- {PATH_LABELS[p]} (`{p}`): {PATH_TIMES[p]}"
              for p in PATHS + FOLD_PATHS + TEXT_PATHS]
    folding = folding_lines(result)
    if folding:
        lines += ["", "BatchNorm folding (`fold_batchnorm`, on by default for SavedModel and "
                  "TFLite): latency folded / unfolded, median (min–max) over repeats, > 1: "
                  "folding is slower; and the ops of the exported files:", "", *folding]
    details, exports = [], []
    for name, info in result["models"].items():
        detail = tflite_detail(info.get("exports", {}))
        if detail:
            details.append(f"- {name}: {detail}")
        if info.get("predict_on_batch_xla") is not None:
            details.append(f"- {name}: predict_on_batch XLA: "
                           f"{'on' if info['predict_on_batch_xla'] else 'off'}")
        for fmt, e in info.get("exports", {}).items():
            if e.get("error"):
                exports.append(f"- {name} {fmt}: error: {e['error']}")
            elif e.get("save_s") is not None:
                exports.append(f"- {name} {fmt}: save {e['save_s']:.2f} s, load "
                               f"{e['load_s']:.2f} s, {e['size_bytes'] / 1024:.0f} KiB")
        if info.get("error"):
            exports.append(f"- {name}: error: {info['error']}")
    if details:
        lines += ["", "TFLite and predict_on_batch, per model:", "", *details]
    if exports:
        lines += ["", "Exports (to a temporary directory, deleted after the run):", "", *exports]
    warned = [f"- {name}: {w}" for name, info in result["models"].items()
              for w in info.get("warnings", [])]
    if warned:
        lines += ["", "Warnings (export and load):", *warned]
    return "\n".join(lines) + "\n"


def summary(result):
    """The report's headline (see `common.publish`): per model and batch size,
    the Keras call's latency and the ratios that matter (BatchNorm folding's
    only for models that have BatchNorm)."""
    rows, items = [], []
    for model, paths in result["results"].items():
        for batch in paths["keras_call"]:
            cells = []
            for path, field, label in (
                    ("keras_tf_function", "ratio_vs_keras", "tf.function / Keras call"),
                    ("saved_model", "ratio_vs_tf_function", "SavedModel / tf.function"),
                    ("tflite", "ratio_vs_keras", "TFLite / Keras call"),
                    ("saved_model", "ratio_folded_vs_unfolded",
                     "SavedModel, BatchNorm folded / unfolded"),
                    ("tflite", "ratio_folded_vs_unfolded",
                     "TFLite, BatchNorm folded / unfolded")):
                cell = paths[path][batch]
                if field == "ratio_folded_vs_unfolded" and UNFOLDED[path] not in paths:
                    cells.append("")  # nothing to fold
                elif cell[field]:
                    cells.append(common.ratio_cell(cell[field]))
                    items.append(common.summary_item(
                        NAME, f"{model}@{batch}/{path}/{field}",
                        f"{model} batch {batch}: {label}", cell[field],
                        "ms per call; > 1: slower"))
                else:
                    cells.append("error" if cell["error"] else "")
            call = paths["keras_call"][batch]["latency_ms"]
            rows.append([model, batch, common.number_cell(call and call["median"]), *cells])
    table = common.markdown_table(
        ["model", "batch", "Keras call ms", "tf.function / Keras call",
         "SavedModel / tf.function", "TFLite / Keras call", "SavedModel folded / unfolded",
         "TFLite folded / unfolded"], rows, align="lrrrrrrr")
    return {"title": "Inference latency: Keras vs SavedModel vs TFLite",
            "markdown": f"{table}\n\nLatency ratios, median (min–max) over repeats; "
                        "> 1: slower.",
            "items": items, "chart": None}


# The shared checks are all this benchmark needs; returns the output directory.
check_flags = common.flag_checker(QUICK)


def run_from_flags(flag_values, output_dir):
    run(models=flag_values.models,
        batch_sizes=list(dict.fromkeys(int(b) for b in flag_values.batch_sizes)),
        repeats=flag_values.repeats, iterations=flag_values.iterations,
        warmup=flag_values.warmup, image_size=flag_values.image_size,
        sequence_length=flag_values.sequence_length, tflite_threads=flag_values.tflite_threads,
        seed=flag_values.seed, output_dir=output_dir)


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags)
