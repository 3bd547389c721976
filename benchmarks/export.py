"""Inference latency of zoo models served from Keras, a SavedModel and TFLite.

For each model (resnet20 and einsum_mlp on 32x32x1 images, text_rnn on
sentences), in ONE process, times a single example (batch 1) and a batch of
32 through these paths, all fed the same NumPy batch and all returning (or
synced to) a NumPy result:

  - `keras_call`: `model(x, training=False)`, eager, op by op from Python:
    the baseline every `ratio_vs_keras` divides by;
  - `keras_tf_function`: `tf.function(lambda x: model(x, training=False),
    input_signature=[the SavedModel's input spec], jit_compile=False)`: the
    graph the SavedModel serves, traced in-process. THE fair graph-mode
    comparison for the SavedModel (`ratio_vs_tf_function`);
  - `keras_predict_on_batch`: `model.predict_on_batch(x)`: Keras'
    `predict_function` (a `tf.function`; XLA when `model.jit_compile`
    resolves True, which Keras does only with a GPU) plus its per-call
    bookkeeping;
  - `saved_model`: `zoo.export.load(dir)` -> `ServingModel(x)`: NumPy to
    tensor (cast, shape check), the reloaded `serving_default` signature,
    `.numpy()` of the output;
  - `tflite`: `zoo.export.load(file.tflite)` -> `TFLiteModel(x)`, float32,
    the stock interpreter on the CPU (`set_tensor`, `invoke`, `get_tensor`).
    One interpreter per batch size: a dynamic-batch interpreter is resized
    and re-allocated whenever the batch size changes, so sharing one across
    the interleaved batch sizes would time re-allocation. For text_rnn the
    file holds the int-token model with a static batch of 1, so each call
    tokenizes the strings in Python (a Keras `TextVectorization` rebuilt from
    the vocabulary stored in the file, run eagerly) and then invokes the
    interpreter once per example;
  - `tflite_token_ids` (text models only): the same `TFLiteModel` fed token
    ids tokenized once before timing: the interpreter invocations without
    the tokenization.

Recipe (DESIGN.md, "Benchmarks"): the model is built (text_rnn: vocabulary
adapted on generated sentiment sentences) and exported to a temporary
directory (save and load times reported, artifacts deleted at the end).
Then all paths x batch sizes of the model take turns: each one's first call
(tracing, graph optimization, interpreter allocation) is timed on its own
and reported as `first_call_ms`, `--warmup - 1` more calls each are
discarded, then `--repeats` times every candidate in turn runs
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
  python -m benchmarks.export --quick           # smoke run, well under a minute
  python -m benchmarks.export --models=text_rnn --iterations=50
"""

import math
import pathlib
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from zoo import _cli

NAME = "export"
MODULE = f"benchmarks.{NAME}"
MODELS = ("resnet20", "einsum_mlp", "text_rnn")
TEXT_MODELS = ("text_rnn",)
NUM_CLASSES = {"resnet20": 10, "einsum_mlp": 10, "text_rnn": 2}
PATHS = ("keras_call", "keras_tf_function", "keras_predict_on_batch", "saved_model", "tflite")
TEXT_PATHS = ("tflite_token_ids",)
BASELINE = "keras_call"
GRAPH_BASELINE = "keras_tf_function"
BATCH_SIZES = (1, 32)
IMAGE_CHANNELS = 1
MAX_TOKENS = 1000
ADAPT_TEXTS = 2000
QUICK = {"repeats": 2, "iterations": 2, "warmup": 1, "image_size": 16,
         "sequence_length": 16}

PATH_LABELS = {
    "keras_call": "Keras call (eager)",
    "keras_tf_function": "Keras in tf.function",
    "keras_predict_on_batch": "Keras predict_on_batch",
    "saved_model": "SavedModel",
    "tflite": "TFLite (float)",
    "tflite_token_ids": "TFLite, ids in",
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
        "the reloaded `serving_default` concrete function, `.numpy()` of the output."),
    "tflite": (
        "`zoo.export.load(file.tflite)` -> `TFLiteModel(x)` (float32): `set_tensor`, "
        "`invoke`, `get_tensor` on the CPU interpreter; one interpreter per batch size, "
        "loaded once (a dynamic batch is resized and re-allocated whenever the batch "
        "size changes). Text: tokenization in Python included, see the per-model line."),
    "tflite_token_ids": (
        "text only: the same `TFLiteModel` fed int32 token ids tokenized once before "
        "timing: the interpreter invocations alone (the `tflite` row minus tokenization)."),
}

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the command-line flags. Called only when run as a script, so
    that importing this module (tests) adds nothing to the global absl FLAGS,
    where other benchmarks define flags of the same names."""
    flags.DEFINE_list("models", list(MODELS),
                      f"Models to measure, from {','.join(MODELS)}.", flag_values=flag_values)
    flags.DEFINE_list("batch_sizes", [str(b) for b in BATCH_SIZES],
                      "Batch sizes to time each path at (positive integers).",
                      flag_values=flag_values)
    flags.DEFINE_integer("repeats", 5, "Timed repeats per path and batch size, taken in "
                         "turns (A, B, C, ..., A, B, C, ...).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("iterations", 20, "Timed calls per repeat.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("warmup", 5, "Untimed calls per path and batch size before timing; "
                         "the first (tracing, allocation) is reported as first_call_ms.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("image_size", 32, "Height and width of the 1-channel images of "
                         "resnet20 and einsum_mlp.", lower_bound=8, flag_values=flag_values)
    flags.DEFINE_integer("sequence_length", 64, "Tokens per text of text_rnn, in every path "
                         "(the model is built with it, so Keras, the SavedModel and TFLite "
                         "all run the same padded length).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("tflite_threads", 0, "Interpreter threads; 0 = the interpreter's "
                         "default, as zoo.export.load gives it.", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of the inputs and of the weight initializers.",
                         lower_bound=0, flag_values=flag_values)
    flags.DEFINE_boolean("quick", False, "Smoke run: " + ", ".join(
        f"--{k}={v}" for k, v in QUICK.items()) + " (flags given explicitly win).",
        flag_values=flag_values)
    flags.DEFINE_string("output_dir", "benchmarks/results",
                        "Directory for the JSON and markdown results (created if missing).",
                        flag_values=flag_values)
    flags.register_validator(
        "models", lambda models: bool(models) and all(m.strip() in MODELS for m in models),
        message=f"--models must be a comma-separated, non-empty subset of {','.join(MODELS)}",
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


def _log(message):
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Models, inputs, exports.


def paths_for(model_name):
    """The paths timed for a model, in turn order."""
    return PATHS + (TEXT_PATHS if model_name in TEXT_MODELS else ())


def build_model(name, image_size, sequence_length, seed):
    """A seeded zoo model; text_rnn with its vocabulary adapted."""
    import zoo
    from zoo.data import sentiment

    keras.utils.set_random_seed(seed)
    if name in TEXT_MODELS:
        model = zoo.create_model(name, num_classes=NUM_CLASSES[name], max_tokens=MAX_TOKENS,
                                 sequence_length=sequence_length)
        texts, _ = sentiment.generate(ADAPT_TEXTS, seed=seed)
        model.adapt(texts)
        return model
    return zoo.create_model(name, num_classes=NUM_CLASSES[name],
                            input_shape=(image_size, image_size, IMAGE_CHANNELS))


def make_inputs(model, name, batch_size, seed):
    """One fixed NumPy batch: images from `example_inputs`, or sentiment
    sentences (the test stream, so not the texts the vocabulary saw)."""
    if name in TEXT_MODELS:
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


def _warning_lines(caught, into):
    for w in caught:
        text = str(w.message).strip()
        line = f"{w.category.__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
        if line not in into:
            into.append(line)


def _load_tflite(path, threads):
    import zoo.export

    if threads:
        from zoo.export import tflite
        return tflite.load(path, num_threads=threads)
    return zoo.export.load(path)


def export_model(model, name, workdir, batch_sizes, tflite_threads, log_warnings):
    """Saves and reloads `model` as a SavedModel and a float TFLite file.

    Returns:
        `(exports, serving, lites)`: `exports` is JSON-ready (per format:
        path kind, save_s, load_s, size_bytes, error), `serving` the loaded
        `ServingModel` or None, `lites` batch size -> `TFLiteModel` (empty on
        failure).
    """
    import zoo.export

    exports, serving, lites = {}, None, {}
    targets = {"saved_model": workdir / f"{name}_saved_model",
               "tflite": workdir / f"{name}.tflite"}
    for fmt, target in targets.items():
        record = {"save_s": None, "load_s": None, "size_bytes": None, "error": None}
        exports[fmt] = record
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    start = time.perf_counter()
                    written = zoo.export.save(model, target)
                    record["save_s"] = time.perf_counter() - start
                    record["size_bytes"] = _size_bytes(written)
                    start = time.perf_counter()
                    if fmt == "saved_model":
                        serving = zoo.export.load(written)
                    else:
                        # One interpreter per batch size; load_s is the first load.
                        for batch in batch_sizes:
                            lites[batch] = _load_tflite(written, tflite_threads)
                            if record["load_s"] is None:
                                record["load_s"] = time.perf_counter() - start
                    if record["load_s"] is None:
                        record["load_s"] = time.perf_counter() - start
                finally:
                    _warning_lines(caught, log_warnings)
        except Exception as exc:  # noqa: BLE001 - reported per format
            record["error"] = common.first_line(exc)
            if fmt == "tflite":
                lites = {}
            _log(f"{name}: {fmt} export failed: {record['error']}")
    if lites:
        lite = next(iter(lites.values()))
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
    return exports, serving, lites


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
            "predict_on_batch_xla": None, "warnings": [], "error": None}
    paths = paths_for(name)
    cells = {p: {str(b): _empty_cell(p, b) for b in batch_sizes} for p in paths}

    def fail_all(error, only=None):
        for p in (only or paths):
            for b in batch_sizes:
                cells[p][str(b)]["error"] = cells[p][str(b)]["error"] or error

    start = time.perf_counter()
    try:
        with tf.device(tf_device):
            model = build_model(name, image_size, sequence_length, seed)
            inputs = {b: make_inputs(model, name, b, seed) for b in batch_sizes}
            model(inputs[batch_sizes[0]], training=False)  # builds the weights
    except Exception as exc:  # noqa: BLE001 - reported per model
        info["error"] = common.first_line(exc)
        fail_all(f"model: {info['error']}")
        _log(f"{name}: failed to build: {info['error']}")
        return info, cells
    info["build_s"] = time.perf_counter() - start
    info["params"] = int(model.count_params())
    info["input"] = {"spec": str(serving_spec(model)),
                     "kind": "sentiment sentences (zoo.data.sentiment, test stream)"
                     if name in TEXT_MODELS else "model.example_inputs(batch, seed)"}

    exports, serving, lites = export_model(model, name, workdir, batch_sizes,
                                           tflite_threads, info["warnings"])
    info["exports"] = exports
    for fmt, dependents in (("saved_model", ("saved_model",)),
                            ("tflite", ("tflite",) + TEXT_PATHS)):
        if exports[fmt]["error"]:
            fail_all(f"export: {exports[fmt]['error']}",
                     only=[p for p in dependents if p in paths])

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
    if "tflite_token_ids" in paths and lites:
        token_ids = {b: lites[b].tokenize(inputs[b]) for b in batch_sizes}

    def runner(path, batch):
        x = inputs[batch]
        if path == "keras_call":
            return lambda: model(x, training=False)
        if path == "keras_tf_function":
            return lambda: graph_fn(x)
        if path == "keras_predict_on_batch":
            return lambda: model.predict_on_batch(x)
        if path == "saved_model":
            return None if serving is None else (lambda: serving(x))
        if path == "tflite":
            return None if not lites else (lambda: lites[batch](x))
        if path == "tflite_token_ids":
            return None if not lites else (lambda: lites[batch](token_ids[batch]))
        raise ValueError(f"unknown path {path!r}")

    guards = {}
    for batch in batch_sizes:
        for path in paths:
            step = runner(path, batch)
            if step is not None and cells[path][str(batch)]["error"] is None:
                guards[candidate_key(path, batch)] = common.GuardedStep(step)
    _log(f"{name}: timing {len(guards)} path x batch candidates in turns")
    with tf.device(tf_device):
        timings = common.time_repeats(guards, steps=iterations, repeats=repeats,
                                      warmup=warmup, log=_log) if guards else {}

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
            _log(f"{name} {key}: failed: {guard.error}")
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
    return info, cells


def _empty_cell(path, batch):
    return {"path": path, "batch_size": batch, "latency_ms": None,
            "latency_ms_per_repeat": None, "per_example_ms": None, "first_call_ms": None,
            "warmup_ms": None, "ratio_vs_keras": None, "ratio_vs_tf_function": None,
            "max_abs_diff_vs_keras": None, "error": None}


def run(models, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
        tflite_threads, seed, output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    tf_device = "/GPU:0" if device["gpu_found"] else "/CPU:0"
    _log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")

    model_info, results = {}, {}
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="zoo-bench-export-"))
    try:
        for name in models:
            _log(f"{name}: building and exporting to {workdir}")
            info, cells = measure_model(
                name, batch_sizes, repeats, iterations, warmup, image_size, sequence_length,
                tflite_threads, seed, workdir, tf_device)
            model_info[name], results[name] = info, cells
            keras.backend.clear_session()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    result = {
        "benchmark": NAME,
        "description": ("inference latency per call of zoo models: Keras (eager call, "
                        "tf.function, predict_on_batch) vs the reloaded SavedModel vs the "
                        "float TFLite interpreter, at each batch size"),
        "command": common.command_line(MODULE),
        "timestamp": common.utc_timestamp(),
        "device": device,
        "versions": common.versions(),
        "config": {
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
            "paths": {p: PATH_TIMES[p] for p in PATHS + TEXT_PATHS},
            "baseline": f"{BASELINE} of the same model and batch size (ratio_vs_keras); "
                        f"{GRAPH_BASELINE} for ratio_vs_tf_function",
            "fair_graph_comparison": GRAPH_BASELINE,
            "latency": "milliseconds per call: wall time of --iterations calls / iterations, "
                       "the result fetched to the host (NumPy) before the clock stops",
            "first_call": ("first_call_ms: each path x batch size's first call, timed apart "
                           "(tracing, graph optimization, interpreter allocation); the Keras "
                           "model itself was called once before, to build and export it"),
            "order": ("per model: first call of each path x batch size, then warm-up and timed "
                      "repeats interleaved A, B, C, ..., A, B, C, ..."),
            "tf_device": tf_device,
        },
        "models": model_info,
        "results": results,
    }
    common.publish(NAME, result, render_markdown(result), output_dir, device["kind"])
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


def render_markdown(result):
    """The report: context lines, one table row per model x path x batch, what is timed."""
    cfg, dev, ver = result["config"], result["device"], result["versions"]
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
    threads = dev["threads"]
    lines = [
        "# Inference latency: Keras vs SavedModel vs TFLite",
        "",
        f"- device: {dev['kind']}, {dev['name']}"
        + ("" if dev["gpu_found"] else " (no GPU found)")
        + f"; kernels: {dev['kernels']}; Keras/SavedModel on {cfg['tf_device']}, "
        "TFLite on the CPU",
        f"- threads: TensorFlow intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}; TFLite num_threads: "
        f"{cfg['tflite_threads']}",
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}, NumPy {ver['numpy']}",
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
    lines += [f"- {PATH_LABELS[p]} (`{p}`): {PATH_TIMES[p]}" for p in PATHS + TEXT_PATHS]
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


def check_flags(flag_values=FLAGS):
    """`common.check_flags` with this benchmark's --quick presets; returns the output directory."""
    return common.check_flags(flag_values, QUICK)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    output_dir = check_flags(FLAGS)
    common.print_launch_line(MODULE)
    models = list(dict.fromkeys(m.strip() for m in FLAGS.models))
    batch_sizes = list(dict.fromkeys(int(b) for b in FLAGS.batch_sizes))
    run(models=models, batch_sizes=batch_sizes, repeats=FLAGS.repeats,
        iterations=FLAGS.iterations, warmup=FLAGS.warmup, image_size=FLAGS.image_size,
        sequence_length=FLAGS.sequence_length, tflite_threads=FLAGS.tflite_threads,
        seed=FLAGS.seed, output_dir=output_dir)


if __name__ == "__main__":
    define_flags()
    _cli.run(main, MODULE)
