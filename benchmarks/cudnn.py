"""Train-step throughput of LSTM and GRU: cuDNN vs generic kernel, graph vs XLA.

Times Keras' compiled train step (`Model.train_on_batch`, one fixed seeded
batch) of a small text classifier built from plain Keras layers,

    Embedding(vocab, 64, mask_zero=masked) -> LSTM|GRU(units) -> Dense(2)

with Adam and SparseCategoricalCrossentropy(from_logits=True), over a grid:

  - cell: LSTM, GRU (--cells);
  - masking: unmasked (mask_zero=False, full-length sequences) or masked
    (mask_zero=True, right-padded token ids of varied lengths);
  - kernel configuration:
      * `auto`: cuDNN-eligible layer (tanh/sigmoid, recurrent_dropout=0,
        unroll=False, use_bias=True; GRU reset_after=True), use_cudnn="auto";
      * `use_cudnn_false`: the generic kernel, forced with use_cudnn=False;
      * `recurrent_dropout`: the generic kernel, forced by
        recurrent_dropout=0.1 (use_cudnn="auto");
  - compile(jit_compile=False) (a tf.function graph) or jit_compile=True (XLA).

How Keras 3 picks the kernel on the TensorFlow backend (keras/src/layers/rnn/
lstm.py, gru.py; keras/src/backend/tensorflow/rnn.py): `LSTM.inner_loop`
tries `backend.lstm(...)` (the cuDNN op `CudnnRNNV3`) when use_cudnn is
"auto" or True and recurrent_dropout is 0; that raises NotImplementedError,
falling back to the generic `tf.while_loop`, unless `cudnn_ok(...)` holds:
tanh/sigmoid activations, no unroll, a bias (GRU: reset_after) and a logical
GPU visible. The choice is made when the train step is traced, so the traced
graph shows which kernel runs: this benchmark looks for `CudnnRNN*` op types
(cuDNN) vs `While` loops (generic) in the concrete function of the model's
own compiled train step, rather than assuming. cuDNN ops do not compile with
XLA, so on a GPU host a cuDNN-eligible layer with use_cudnn="auto" sets
`supports_jit = False` when constructed (even with recurrent_dropout > 0,
which later runs the generic kernel) and `compile(jit_compile=True)` then
warns and proceeds without XLA; each variant records both the jit_compile it
asked for and the one the model ended up with, plus any warnings.

Each variant is warmed up first (its first step, which traces the graph and,
with XLA, compiles it, is reported as compile_s); then all variants take
turns, A, B, C, ..., A, B, C, ..., each turn timing --steps steps. Ratios
are taken within each repeat against the generic graph-mode baseline
(use_cudnn=False, jit_compile=False) of the same cell and masking. A variant
that fails is reported with the first line of its error; the rest still run.

Prints a markdown table and writes cudnn_<cpu|gpu>.json and .md to
--output_dir. Runs on the GPU when TensorFlow finds one; without one cuDNN is
unavailable and "auto" runs the generic kernel (recorded as such).

Usage:
  python -m benchmarks.cudnn                 # about a minute or two on CPU
  python -m benchmarks.cudnn --quick         # smoke run, well under a minute
  python -m benchmarks.cudnn --cells=lstm --sequence_length=128
"""

import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks import common

NAME = "cudnn"
MODULE = f"benchmarks.{NAME}"
CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
VOCAB_SIZE = 1000
EMBED_DIM = 64
NUM_CLASSES = 2
RECURRENT_DROPOUT = 0.1
# key -> (label, recurrent layer kwargs). Keras' defaults are cuDNN-eligible.
CONFIGS = {
    "auto": ('use_cudnn="auto" (cuDNN-eligible)', {"use_cudnn": "auto"}),
    "use_cudnn_false": ("use_cudnn=False", {"use_cudnn": False}),
    "recurrent_dropout": (f'recurrent_dropout={RECURRENT_DROPOUT} (use_cudnn="auto")',
                          {"use_cudnn": "auto", "recurrent_dropout": RECURRENT_DROPOUT}),
}
# One more row per cell when the zoo has it: zoo's text_rnn in its defaults
# (cuDNN-eligible), cut down to the plain model: token ids in, unidirectional,
# no dropout, last-state head; masked, graph mode.
ZOO_MODEL, ZOO_CONFIG = "text_rnn", "zoo_text_rnn"
ZOO_KWARGS = {"input_mode": "tokens", "bidirectional": False, "dropout": 0.0, "head": "last"}
CONFIGS_ZOO = {ZOO_CONFIG: (
    'zoo text_rnn (input_mode="tokens", bidirectional=False, head="last")',
    {"use_cudnn": "auto"})}
MODES = {"graph": False, "xla": True}  # mode -> jit_compile requested
BASELINE_CONFIG, BASELINE_MODE = "use_cudnn_false", "graph"
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "batch_size": 8, "sequence_length": 16,
         "units": 16}
TRAIN_STEP = ("keras Model.train_on_batch: the compiled train step (tf.function, "
              "steps_per_execution=1) on one fixed batch")
NO_GPU_NOTE = "no GPU: cuDNN unavailable; generic kernels measured"
TITLE = "LSTM/GRU: cuDNN vs generic kernel, XLA"
log = common.logger(NAME)


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values`."""
    common.define_common_flags(flag_values, QUICK, repeats=5, warmup=3, help={
        "repeats": "Timed repeats per variant, taken in turns (A, B, C, ..., A, B, C, ...).",
        "warmup": "Untimed steps per variant before timing; the first (tracing, and XLA "
                  "compilation) is reported as compile_s."})
    flags.DEFINE_list("cells", list(CELLS),
                      f"Recurrent cells to measure, from {','.join(CELLS)}.",
                      flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 64, "Sequences per train step.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("sequence_length", 64, "Tokens per (padded) sequence.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("units", 128, "Units of the LSTM/GRU layer.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("steps", 5, "Timed train steps per repeat.", lower_bound=1,
                         flag_values=flag_values)
    flags.register_validator(
        "cells", lambda cells: bool(cells) and all(c in CELLS for c in cells),
        message=f"--cells must be a comma-separated, non-empty subset of {','.join(CELLS)}",
        flag_values=flag_values)


def check_flags(flag_values):
    """`common.check_flags` with this benchmark's --quick presets; returns the output directory."""
    return common.check_flags(flag_values, QUICK)


def run_from_flags(flag_values, output_dir):
    run(cells=list(dict.fromkeys(c.strip() for c in flag_values.cells)),
        batch_size=flag_values.batch_size, sequence_length=flag_values.sequence_length,
        units=flag_values.units, repeats=flag_values.repeats, steps=flag_values.steps,
        warmup=flag_values.warmup, seed=flag_values.seed, output_dir=output_dir)


# --------------------------------------------------------------------------
# Which kernel ran.


def cudnn_available():
    """Whether Keras can take its cuDNN path here.

    The same test as Keras' own (`keras/src/backend/tensorflow/rnn.py`,
    `_is_gpu_available`): a visible logical GPU.
    """
    return bool(tf.config.list_logical_devices("GPU"))


def config_of(name):
    """`(label, recurrent layer kwargs)` of a configuration key."""
    return CONFIGS[name] if name in CONFIGS else CONFIGS_ZOO[name]


def expected_kernel(config, have_cudnn):
    """What Keras' rules predict (see the module docstring), for comparison."""
    kwargs = config_of(config)[1]
    eligible = kwargs.get("use_cudnn") in ("auto", True) and not kwargs.get("recurrent_dropout")
    return "cudnn" if (eligible and have_cudnn) else "generic"


# --------------------------------------------------------------------------
# Data, models, variants.


def make_batches(batch_size, sequence_length, seed, device):
    """One fixed seeded batch, unmasked and masked, and its labels, on `device`.

    Unmasked: token ids in [1, vocab), full length. Masked: the same ids,
    right-padded with 0 to lengths drawn from [1, sequence_length] (the first
    sequence full length), so no sequence is fully masked and the mask is
    right-padded, as cuDNN requires.

    Returns:
        `(unmasked_ids, masked_ids, labels, lengths)`.
    """
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB_SIZE, size=(batch_size, sequence_length)).astype("int32")
    lengths = rng.integers(1, sequence_length + 1, size=(batch_size,))
    lengths[0] = sequence_length
    padded = np.where(np.arange(sequence_length)[None, :] < lengths[:, None], ids, 0)
    labels = rng.integers(0, NUM_CLASSES, size=(batch_size,)).astype("int32")
    with tf.device(device):
        return (tf.identity(ids), tf.identity(padded.astype("int32")), tf.identity(labels),
                lengths.tolist())


def build_model(cell, masked, config, sequence_length, units, seed):
    """Embedding -> LSTM|GRU -> Dense(2), seeded, with plain Keras layers
    (or zoo's text_rnn for `config == ZOO_CONFIG`)."""
    keras.utils.set_random_seed(seed)
    if config == ZOO_CONFIG:
        import zoo

        return zoo.create_model(
            ZOO_MODEL, num_classes=NUM_CLASSES, max_tokens=VOCAB_SIZE,
            sequence_length=sequence_length, embedding_dim=EMBED_DIM, rnn=cell, units=units,
            **ZOO_KWARGS)
    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB_SIZE, EMBED_DIM, mask_zero=masked)(inputs)
    x = CELLS[cell](units, **CONFIGS[config][1], name=cell)(x)
    outputs = keras.layers.Dense(NUM_CLASSES)(x)
    return keras.Model(inputs, outputs, name=f"{cell}_classifier")


def zoo_text_rnn_available():
    """Whether `zoo.create_model("text_rnn", ...)` exists (optional rows)."""
    try:
        import zoo

        return ZOO_MODEL in zoo.list_models()
    except Exception:  # noqa: BLE001 - the zoo rows are optional
        return False


def variant_grid(cells, with_zoo=False):
    """The variants, in turn order: cell x masking x config x mode, then,
    with `with_zoo`, zoo's text_rnn (masked, graph mode) after each cell's
    masked variants."""
    grid = []
    for cell in cells:
        for masked in (False, True):
            masking = "masked" if masked else "unmasked"
            for config in CONFIGS:
                for mode, jit in MODES.items():
                    grid.append({"name": f"{cell}_{masking}_{config}_{mode}", "cell": cell,
                                 "masked": masked, "config": config, "mode": mode,
                                 "jit_compile": jit})
            if masked and with_zoo:
                grid.append({"name": f"{cell}_masked_{ZOO_CONFIG}_graph", "cell": cell,
                             "masked": True, "config": ZOO_CONFIG, "mode": "graph",
                             "jit_compile": False})
    return grid


def baseline_name(variant):
    masking = "masked" if variant["masked"] else "unmasked"
    return f"{variant['cell']}_{masking}_{BASELINE_CONFIG}_{BASELINE_MODE}"



class _RecordWarnings:
    """Runs `step`, recording the warnings of its first call into `sink`."""

    def __init__(self, step, sink):
        self.step, self.sink, self.first = step, sink, True

    def __call__(self):
        if not self.first:
            return self.step()
        self.first = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return self.step()
            finally:
                common.warning_lines(caught, self.sink)


# --------------------------------------------------------------------------
# The run.


def _build(v, entry, sequence_length, units, seed):
    """Builds and compiles one variant's model, recording the warnings; or
    records why it failed."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = build_model(v["cell"], v["masked"], v["config"], sequence_length,
                                    units, seed)
                model.compile(optimizer=keras.optimizers.Adam(),
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              jit_compile=v["jit_compile"])
            finally:
                common.warning_lines(caught, entry["warnings"])
    except Exception as exc:  # noqa: BLE001 - reported per variant
        entry["error"] = common.first_line(exc)
        log(f"{v['name']}: failed to build: {entry['error']}")
        return None
    entry["build_s"] = time.perf_counter() - start
    return model


def _variant_row(e, timings, per_repeat_sps, have_cudnn, tf_device, labels):
    """One variant's JSON entry: the kernel that ran, throughput, warnings."""
    model = e["model"]
    kernel = {"kernel": None, "source": None, "ops": {}}
    if model is not None and model.train_function is not None:
        try:
            kernel = common.detect_rnn_kernel(model, e["x"], labels)
        except Exception as exc:  # noqa: BLE001
            kernel["error"] = common.first_line(exc)
    ok = e["error"] is None
    t = timings.get(e["name"])
    label, kwargs = config_of(e["config"])
    return {
        "name": e["name"],
        "cell": e["cell"],
        "masked": e["masked"],
        "config": e["config"],
        "label": label,
        "use_cudnn": kwargs.get("use_cudnn", "auto"),
        "recurrent_dropout": kwargs.get("recurrent_dropout", 0.0),
        "mode": e["mode"],
        "jit_compile": e["jit_compile"],
        # Observed, not assumed: Keras may refuse XLA (cuDNN layers on GPU).
        "xla": bool(model.jit_compile) if model is not None else None,
        "kernel": kernel["kernel"],
        "expected_kernel": expected_kernel(e["config"], have_cudnn),
        "kernel_evidence": {k: v for k, v in kernel.items() if k != "kernel"},
        "device": tf_device,
        "params": int(model.count_params()) if model is not None else None,
        "build_s": e["build_s"],
        "compile_s": t["first_step_s"] if ok else None,
        "warmup_s": t["warmup_s"] if ok else None,
        "repeat_s": t["repeat_s"] if ok else None,
        "sequences_per_s": common.summarize(per_repeat_sps[e["name"]]) if ok else None,
        "sequences_per_s_per_repeat": per_repeat_sps.get(e["name"]),
        "warnings": e["warnings"],
        "error": e["error"],
    }


def _config(cells, batch_size, sequence_length, units, repeats, steps, warmup, seed,
            lengths, with_zoo):
    return {
        "cells": list(cells),
        "batch_size": batch_size,
        "sequence_length": sequence_length,
        "units": units,
        "repeats": repeats,
        "steps": steps,
        "warmup": warmup,
        "seed": seed,
        "vocab_size": VOCAB_SIZE,
        "embedding_dim": EMBED_DIM,
        "num_classes": NUM_CLASSES,
        "model": (f"Embedding({VOCAB_SIZE}, {EMBED_DIM}, mask_zero=masked) -> "
                  f"LSTM|GRU({units}) -> Dense({NUM_CLASSES})"),
        "optimizer": "Adam()",
        "loss": "SparseCategoricalCrossentropy(from_logits=True)",
        "train_step": TRAIN_STEP,
        "masked_batch": {
            "lengths": lengths,
            "mean_length": float(np.mean(lengths)),
            "padding": "right-padded with token id 0, mask_zero=True",
        },
        "unmasked_batch": "full-length token ids in [1, vocab), mask_zero=False",
        "configs": {k: label for k, (label, _) in
                    {**CONFIGS, **(CONFIGS_ZOO if with_zoo else {})}.items()},
        "zoo_text_rnn": (f"zoo.create_model(\"{ZOO_MODEL}\", rnn=cell, units={units}, "
                         f"embedding_dim={EMBED_DIM}, max_tokens={VOCAB_SIZE}, "
                         + ", ".join(f"{k}={v!r}" for k, v in ZOO_KWARGS.items()) + ")"
                         if with_zoo else "not available"),
        "baseline": f"{BASELINE_CONFIG}, {BASELINE_MODE} (jit_compile=False), "
                    "same cell and masking",
        "kernel_detection": (
            f"op types of the traced train step's graph and its function library: "
            f"any {common.CUDNN_RNN_OP_PREFIX}* op -> cudnn, else generic "
            f"({'/'.join(common.WHILE_LOOP_OPS)} loop over time steps)"),
        "order": ("first step of each variant, then warm-up and timed repeats "
                  "interleaved A, B, C, ..., A, B, C, ..."),
    }


def run(cells, batch_size, sequence_length, units, repeats, steps, warmup, seed,
        output_dir):
    """Runs the benchmark and writes the results; returns the result dict."""
    device = common.device_info()
    have_cudnn = cudnn_available()
    device["cudnn_available"] = have_cudnn
    device["cudnn_note"] = (
        "a GPU is visible: Keras takes its cuDNN path for eligible layers" if have_cudnn
        else NO_GPU_NOTE + ' (use_cudnn="auto" falls back to the generic kernel)')
    tf_device = common.tf_device(device)
    log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")
    if not have_cudnn:
        print(NO_GPU_NOTE, flush=True)
        log(NO_GPU_NOTE)

    unmasked_ids, masked_ids, labels, lengths = make_batches(
        batch_size, sequence_length, seed, tf_device)
    with_zoo = zoo_text_rnn_available()
    grid = variant_grid(cells, with_zoo=with_zoo)
    entries, candidates = {}, {}
    for v in grid:
        x = masked_ids if v["masked"] else unmasked_ids
        entry = entries[v["name"]] = {**v, "x": x, "warnings": [], "error": None,
                                      "build_s": None}
        entry["model"] = model = _build(v, entry, sequence_length, units, seed)
        if model is not None:
            candidates[v["name"]] = common.GuardedStep(_RecordWarnings(
                lambda m=model, x=x: m.train_on_batch(x, labels), entry["warnings"]))
    log(f"built {len(candidates)} of {len(grid)} variants; timing them in turns")

    timings = common.time_repeats(candidates, steps=steps, repeats=repeats, warmup=warmup,
                                  log=log) if candidates else {}
    per_repeat_sps = {}
    for name, e in entries.items():
        guard = candidates.get(name)
        if guard is not None and guard.error:
            e["error"] = guard.error
            log(f"{name}: failed: {e['error']}")
        if e["error"] is None:
            per_repeat_sps[name] = common.throughputs(timings[name]["repeat_s"],
                                                      batch_size * steps)
    variants = [_variant_row(e, timings, per_repeat_sps, have_cudnn, tf_device, labels)
                for e in entries.values()]

    ratios = {}
    for v in variants:
        base = baseline_name(v)
        if v["name"] == base or v["name"] not in per_repeat_sps or base not in per_repeat_sps:
            continue
        per_repeat = common.per_repeat_ratios(per_repeat_sps[v["name"]], per_repeat_sps[base])
        ratios[f"{v['name']}/{base}"] = {
            **common.summarize(per_repeat),
            "per_repeat": per_repeat,
            "of_medians": (common.summarize(per_repeat_sps[v["name"]])["median"]
                           / common.summarize(per_repeat_sps[base])["median"]),
        }

    config = _config(cells, batch_size, sequence_length, units, repeats, steps, warmup, seed,
                     lengths, with_zoo)
    result = {**common.envelope(NAME, "train-step throughput of LSTM/GRU text classifiers: "
                                "cuDNN vs generic kernel, masked vs unmasked, graph vs XLA",
                                device, config),
              "variants": variants, "ratios": ratios}
    common.publish(NAME, result, render_markdown(result), output_dir, summary=summary)
    return result


def _ratio_cell(stats):
    return f"{stats['median']:.2f} ({stats['min']:.2f}–{stats['max']:.2f})"


def _table_row(v, ratios):
    masked = "yes" if v["masked"] else "no"
    xla = "on" if v["xla"] else "off"
    if v["jit_compile"] and v["xla"] is False:
        xla = "refused (off)"
    kernel = v["kernel"] or "?"
    if v["kernel"] and v["kernel"] != v["expected_kernel"]:
        kernel += f" (expected {v['expected_kernel']})"
    lead = [v["cell"], masked, v["label"], str(v["jit_compile"]), xla, kernel]
    if v["error"]:
        error = v["error"] if len(v["error"]) <= 100 else v["error"][:99] + "…"
        return lead + ["", f"error: {error}", "", ""]
    sps, base = v["sequences_per_s"], baseline_name(v)
    ratio = ratios.get(f"{v['name']}/{base}")
    return lead + [
        f"{v['compile_s']:.2f}",
        f"{sps['median']:.0f}",
        f"{sps['min']:.0f}–{sps['max']:.0f}",
        _ratio_cell(ratio) if ratio else ("1 (baseline)" if v["name"] == base else "n/a"),
    ]


def render_markdown(result):
    """The report: context lines, the per-variant table and how to read it."""
    cfg, dev, ver = result["config"], result["device"], result["versions"]
    table = common.markdown_table(
        ["cell", "masked", "config", "jit_compile", "XLA", "kernel", "first step s",
         "seq/s median", "seq/s min–max", "vs generic graph: median (min–max)"],
        [_table_row(v, result["ratios"]) for v in result["variants"]], align="llllllrrrr")
    threads = dev["threads"]
    warned = [f"- {v['name']}: {w}" for v in result["variants"] for w in v["warnings"]]
    masked = cfg["masked_batch"]
    lines = [
        "# LSTM/GRU train-step throughput: cuDNN vs generic kernel, graph vs XLA",
        "",
        f"- device: {dev['kind']}, {dev['name']}"
        + ("" if dev["gpu_found"] else " (no GPU found)")
        + f"; kernels: {dev['kernels']}",
        f"- cuDNN: {'available' if dev['cudnn_available'] else 'unavailable'}: "
        f"{dev['cudnn_note']}",
        f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}",
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}",
        f"- model: {cfg['model']}; {cfg['optimizer']}, {cfg['loss']}",
        f"- step: {cfg['train_step']}; batch {cfg['batch_size']} x {cfg['sequence_length']} "
        f"tokens; masked batch: right-padded, mean length {masked['mean_length']:.1f}",
        f"- {cfg['warmup']} warm-up step(s) per variant (the first reported as \"first step s\": "
        f"tracing + XLA compilation if any + one step), then {cfg['repeats']} repeats x "
        f"{cfg['steps']} timed steps, all variants interleaved",
        f"- kernel: {cfg['kernel_detection']}",
        f"- {result['timestamp']}, `{result['command']}`",
        "",
        table,
        "",
        "Ratios are sequences/s over the generic graph-mode baseline (use_cudnn=False, "
        "jit_compile=False) of the same cell and masking, taken within each repeat "
        "(> 1: faster); the median of those, with min and max. \"XLA\" is what the model "
        "ended up with: Keras turns jit_compile off for layers that may take the cuDNN path "
        "(\"refused\"). A masked batch runs all time steps on the generic kernel (masked steps "
        "carry the state over), but only each sequence's length on cuDNN.",
    ]
    if warned:
        lines += ["", "Warnings (first step or compile):", *warned]
    return "\n".join(lines) + "\n"


def summary(result):
    """What `benchmarks.report` shows: per cell and masking, the kernel "auto"
    ran and the key ratios to the generic graph-mode baseline."""
    ratios = result.get("ratios") or {}
    variants = {v.get("name"): v for v in result.get("variants") or [] if isinstance(v, dict)}
    groups = list(dict.fromkeys(
        (v.get("cell"), "masked" if v.get("masked") else "unmasked") for v in variants.values()
        if v.get("cell") is not None))
    wanted = (("auto_graph", 'use_cudnn="auto" / generic, graph'),
              ("use_cudnn_false_xla", "XLA / graph, generic kernel"),
              ("zoo_text_rnn_graph", "zoo text_rnn / generic, graph"))
    rows, items = [], []
    for cell, masking in groups:
        base, cells = f"{cell}_{masking}_use_cudnn_false_graph", []
        for suffix, label in wanted:
            name = f"{cell}_{masking}_{suffix}"
            ratio = ratios.get(f"{name}/{base}")
            cells.append(common.ratio_cell(ratio) if ratio else "")
            if ratio:
                variant = variants.get(name, {})
                # An XLA variant that Keras ran without XLA (refused) is no
                # XLA figure: the report draws no bar for it.
                ran = not (suffix.endswith("_xla") and variant.get("xla") is False)
                items.append(common.summary_item(
                    NAME, f"{name}/{base}", f"{cell} {masking}: {label}", ratio,
                    "sequences/s; > 1: faster", kernel=variant.get("kernel"), ran=ran))
        kernel = variants.get(f"{cell}_{masking}_auto_graph", {}).get("kernel") or "?"
        rows.append([cell, masking, kernel, *cells])
    markdown = "No variants in the result." if not rows else "\n".join([
        common.markdown_table(["cell", "masking", '"auto" kernel ran',
                               '"auto" / generic (graph)', "XLA / graph (generic)",
                               "zoo text_rnn / generic"], rows, align="lllrrr"),
        "", "Train sequences/s ratios, median (min–max) over repeats; > 1: faster."])
    return {"title": TITLE, "markdown": markdown, "items": items, "chart": None}


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags)
