"""Train-step throughput of LSTM and GRU: cuDNN vs generic kernel, graph vs XLA."""

import time

import keras
import numpy as np
import tensorflow as tf

import zoo
from benchmarks import common

NAME = "cudnn"
TITLE = "LSTM/GRU: cuDNN vs generic kernel, XLA"
CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
VOCAB_SIZE, EMBED_DIM, NUM_CLASSES = 1000, 64, 2
# key -> (label, recurrent layer kwargs). Keras' defaults are cuDNN-eligible.
CONFIGS = {
    "auto": ('use_cudnn="auto" (cuDNN-eligible)', {"use_cudnn": "auto"}),
    "use_cudnn_false": ("use_cudnn=False", {"use_cudnn": False}),
    "recurrent_dropout": ('recurrent_dropout=0.1 (use_cudnn="auto")',
                          {"use_cudnn": "auto", "recurrent_dropout": 0.1}),
    # The zoo's text_rnn, cut down to the plain model; masked, graph mode only.
    "zoo_text_rnn": ('zoo text_rnn (input_mode="tokens", bidirectional=False, head="last")',
                     {"use_cudnn": "auto"}),
}
ZOO_KWARGS = {"input_mode": "tokens", "bidirectional": False, "dropout": 0.0, "head": "last"}
MODES = {"graph": False, "xla": True}  # mode -> jit_compile requested
DEFAULTS = {"warmup": 3}
FLAGS = {
    "cells": common.flag(list(CELLS), "Recurrent cells to measure.", choices=list(CELLS)),
    "batch_size": common.flag(64, "Sequences per train step."),
    "sequence_length": common.flag(64, "Tokens per (padded) sequence."),
    "units": common.flag(128, "Units of the LSTM/GRU layer."),
    "steps": common.flag(5, "Timed train steps per repeat."),
}
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "batch_size": 8, "sequence_length": 16, "units": 16}
NO_GPU_NOTE = "no GPU: cuDNN unavailable; generic kernels measured"
log = common.logger(NAME)


def cudnn_available():
    """Keras' own test for its cuDNN path: a visible logical GPU."""
    return bool(tf.config.list_logical_devices("GPU"))


def expected_kernel(config, have_cudnn):
    """What Keras' rules predict: cuDNN for use_cudnn "auto" without recurrent dropout."""
    kwargs = CONFIGS[config][1]
    eligible = kwargs.get("use_cudnn") in ("auto", True) and not kwargs.get("recurrent_dropout")
    return "cudnn" if eligible and have_cudnn else "generic"


def zoo_text_rnn_available():
    return "text_rnn" in common.registered_models()


def build_model(cell, masked, config, sequence_length, units, seed):
    """The seeded classifier of Keras layers (or zoo's text_rnn)."""
    keras.utils.set_random_seed(seed)
    if config == "zoo_text_rnn":
        return zoo.create_model("text_rnn", num_classes=NUM_CLASSES, max_tokens=VOCAB_SIZE,
                                sequence_length=sequence_length, embedding_dim=EMBED_DIM,
                                rnn=cell, units=units, **ZOO_KWARGS)
    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(VOCAB_SIZE, EMBED_DIM, mask_zero=masked)(inputs)
    x = CELLS[cell](units, **CONFIGS[config][1], name=cell)(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(x), name=f"{cell}_classifier")


def variant_grid(cells, with_zoo):
    """cell x masking x config x mode, in turn order; zoo's text_rnn after the masked ones."""
    return [{"name": f"{cell}_{'masked' if masked else 'unmasked'}_{config}_{mode}", "cell": cell,
             "masked": masked, "config": config, "mode": mode, "jit_compile": MODES[mode]}
            for cell in cells for masked in (False, True) for config, mode in
            [(c, m) for c in list(CONFIGS)[:3] for m in MODES]
            + [("zoo_text_rnn", "graph")] * (masked and with_zoo)]


def baseline_name(variant):
    masking = "masked" if variant["masked"] else "unmasked"
    return f"{variant['cell']}_{masking}_use_cudnn_false_graph"


def run(output_dir, cells, batch_size, sequence_length, units, repeats, steps, warmup, seed):
    """Runs the benchmark and writes the results; returns the result dict."""
    config, device, have_cudnn = common.arguments(locals()), common.device_info(), cudnn_available()
    device.update(cudnn_available=have_cudnn, cudnn_note=(
        "a GPU is visible: Keras takes its cuDNN path for eligible layers" if have_cudnn else
        NO_GPU_NOTE + ' (use_cudnn="auto" falls back to the generic kernel)'))
    if not have_cudnn:
        print(NO_GPU_NOTE, flush=True)
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB_SIZE, size=(batch_size, sequence_length))
    # Right-padded to lengths in [1, sequence_length], the first full: cuDNN's layout.
    lengths = rng.integers(1, sequence_length + 1, size=(batch_size,))
    lengths[0] = sequence_length
    padded = np.where(np.arange(sequence_length)[None, :] < lengths[:, None], ids, 0)
    with tf.device(common.tf_device(device)):
        batches = {False: tf.constant(ids, tf.int32), True: tf.constant(padded, tf.int32)}
        labels = tf.constant(rng.integers(0, NUM_CLASSES, size=(batch_size,)), tf.int32)

    with_zoo = zoo_text_rnn_available()
    variants, candidates, models = variant_grid(cells, with_zoo), {}, {}
    for v in variants:
        label, kwargs = CONFIGS[v["config"]]
        x, start = batches[v["masked"]], time.perf_counter()
        v.update(label=label, use_cudnn=kwargs.get("use_cudnn", "auto"),
                 recurrent_dropout=kwargs.get("recurrent_dropout", 0.0), warnings=[], error=None,
                 build_s=None, expected_kernel=expected_kernel(v["config"], have_cudnn))
        try:
            with common.recording_warnings(v["warnings"]):
                model = build_model(v["cell"], v["masked"], v["config"], sequence_length, units,
                                    seed)
                model.compile(optimizer=keras.optimizers.Adam(), jit_compile=v["jit_compile"],
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        except Exception as exc:  # noqa: BLE001 - reported per variant
            v["error"] = common.first_line(exc)
            log(f"{v['name']}: failed to build: {v['error']}")
            continue
        v["build_s"], models[v["name"]] = time.perf_counter() - start, (model, x)
        candidates[v["name"]] = common.GuardedStep(
            lambda m=model, x=x: m.train_on_batch(x, labels), v["warnings"])
    timings = common.time_repeats(candidates, steps=steps, repeats=repeats, warmup=warmup,
                                  log=log) if candidates else {}

    sps = {}
    for v in variants:
        model, x = models.get(v["name"], (None, None))
        v["error"] = v["error"] or (candidates[v["name"]].error if model else None)
        t = timings.get(v["name"]) if v["error"] is None else None
        if t:
            sps[v["name"]] = common.throughputs(t["repeat_s"], batch_size * steps)
        kernel = {"kernel": None, "source": None, "ops": {}}
        if model is not None and model.train_function is not None:
            kernel = common.attempt(lambda: common.detect_rnn_kernel(model, x, labels), **kernel)
        v.update({
            # Observed, not assumed: Keras may refuse XLA (cuDNN layers on a GPU).
            "xla": bool(model.jit_compile) if model is not None else None,
            "kernel": kernel.pop("kernel"), "kernel_evidence": kernel,
            "device": common.tf_device(device),
            "params": int(model.count_params()) if model is not None else None,
            "compile_s": t and t["first_step_s"], "warmup_s": t and t["warmup_s"],
            "repeat_s": t and t["repeat_s"],
            "sequences_per_s": common.summarize(sps[v["name"]]) if t else None,
            "sequences_per_s_per_repeat": sps.get(v["name"])})

    config.update(model=(f"Embedding({VOCAB_SIZE}, {EMBED_DIM}, mask_zero=masked) -> "
                         f"LSTM|GRU({units}) -> Dense({NUM_CLASSES})"),
                  optimizer="Adam()", loss="SparseCategoricalCrossentropy(from_logits=True)",
                  masked_batch={"lengths": lengths.tolist(), "mean_length": float(lengths.mean())},
                  zoo_text_rnn=(f"zoo.create_model(\"text_rnn\", rnn=cell, units={units}, "
                                + ", ".join(f"{k}={v!r}" for k, v in ZOO_KWARGS.items()) + ")"
                                if with_zoo else "not available"))
    result = {**common.envelope(NAME, "train-step throughput of LSTM/GRU text classifiers: "
                                "cuDNN vs generic kernel, masked vs unmasked, graph vs XLA",
                                config, device), "variants": variants,
              "ratios": {f"{v['name']}/{baseline_name(v)}": common.ratio_stats(
                  sps[v["name"]], sps[baseline_name(v)]) for v in variants
                  if v["name"] in sps and baseline_name(v) in sps
                  and v["name"] != baseline_name(v)}}
    return common.publish(NAME, result, output_dir, markdown, summary)


def _row(v, ratios):
    xla = ("refused (off)" if v["jit_compile"] and v["xla"] is False else
           "on" if v["xla"] else "off")
    kernel = (v["kernel"] or "?") + (f" (expected {v['expected_kernel']})" if v["kernel"]
                                     and v["kernel"] != v["expected_kernel"] else "")
    lead = [v["cell"], "yes" if v["masked"] else "no", v["label"], str(v["jit_compile"]), xla,
            kernel]
    if v["error"]:
        return lead + ["", f"error: {common.cut(v['error'])}", "", ""]
    sps, base = v["sequences_per_s"], baseline_name(v)
    return lead + [f"{v['compile_s']:.2f}", f"{sps['median']:.0f}",
                   f"{sps['min']:.0f}–{sps['max']:.0f}", "1 (baseline)" if v["name"] == base
                   else common.ratio_cell(ratios.get(f"{v['name']}/{base}"))]


def markdown(result):
    """The report: context, one row per variant."""
    cfg, dev = result["config"], result["device"]
    warned = [f"- {v['name']}: {w}" for v in result["variants"] for w in v["warnings"]]
    return "\n".join(common.header(
        "LSTM/GRU train-step throughput: cuDNN vs generic kernel, graph vs XLA", result,
        f"- cuDNN: {'available' if dev['cudnn_available'] else 'unavailable'}: "
        f"{dev['cudnn_note']}", f"- model: {cfg['model']}; {cfg['optimizer']}, {cfg['loss']}",
        f"- step: Model.train_on_batch; batch {cfg['batch_size']} x {cfg['sequence_length']} "
        f"tokens; masked: right-padded, mean length {cfg['masked_batch']['mean_length']:.1f}",
        "- kernel: read off the traced train step: CudnnRNN* ops, or a While loop (generic)")
        + [
        common.markdown_table(
            ["cell", "masked", "config", "jit_compile", "XLA", "kernel", "first step s",
             "seq/s median", "seq/s min–max", "vs generic graph: median (min–max)"],
            [_row(v, result["ratios"]) for v in result["variants"]], align="llllllrrrr"),
        "", "Ratios: over the generic graph-mode variant of the same cell and masking, within "
        "each repeat (> 1: faster). XLA: what the model kept (\"refused\": Keras turned it off)."]
        + (["", "Warnings (first step or compile):", *warned] if warned else [])) + "\n"


def summary(result):
    """Per cell and masking: the kernel "auto" ran and the key ratios to the baseline."""
    ratios, variants = result.get("ratios") or {}, {v.get("name"): v for v in
                                                    result.get("variants") or []}
    wanted = (("auto_graph", 'use_cudnn="auto" / generic, graph'),
              ("use_cudnn_false_xla", "XLA / graph, generic kernel"),
              ("zoo_text_rnn_graph", "zoo text_rnn / generic, graph"))
    rows, items = [], []
    for cell, masking in dict.fromkeys((v.get("cell"), "masked" if v.get("masked") else
                                        "unmasked") for v in variants.values()):
        base, cells = f"{cell}_{masking}_use_cudnn_false_graph", []
        for suffix, label in wanted:
            name = f"{cell}_{masking}_{suffix}"
            ratio = ratios.get(f"{name}/{base}")
            cells.append(common.ratio_cell(ratio) if ratio else "")
            if ratio:
                variant = variants.get(name, {})
                items.append(common.summary_item(
                    NAME, f"{name}/{base}", f"{cell} {masking}: {label}", ratio,
                    "sequences/s; > 1: faster", kernel=variant.get("kernel"),
                    ran=not (suffix.endswith("_xla") and variant.get("xla") is False)))
        rows.append([cell, masking, variants.get(f"{cell}_{masking}_auto_graph", {}).get(
            "kernel") or "?", *cells])
    return common.headline(TITLE, ["cell", "masking", '"auto" kernel ran', '"auto" / generic '
                                   "(graph)", "XLA / graph (generic)", "zoo text_rnn / generic"],
                           rows, "lllrrr", "Train sequences/s ratios, median (min–max) over "
                           "repeats; > 1: faster.", items)


if __name__ == "__main__":
    common.main(__name__)
