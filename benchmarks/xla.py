"""Eager vs graph vs XLA, with oneDNN's CPU kernels and without: train and
inference throughput, FLOPs, utilization, the zoo's default paths, and the
kernels that actually ran.

For each model (--models; default: what each family puts forward,
`benchmark_models`; with --quick, the smallest of those of each modality,
`common.smallest_models`, as compiling them is what a smoke run's time goes
to) this measures three ways of running the same Keras model on one fixed,
seeded batch:

  - `eager`: `compile(run_eagerly=True)`: every op dispatched from Python;
  - `graph`: `compile(jit_compile=False)`: Keras wraps its step in a
    `tf.function` (a TensorFlow graph, Grappler-optimized, run by
    TensorFlow's executor with the CPU kernel library of the process);
  - `xla`: `compile(jit_compile=True)`: the same `tf.function` compiled by
    XLA (its own CPU code generation).

Kernel libraries (--onednn, `benchmarks._xla_settings`). On a CPU,
TensorFlow runs either oneDNN's kernels (`on`) or its own Eigen ones (`off`),
decided once when it is imported, from TF_ENABLE_ONEDNN_OPTS. Which path is
fastest depends on it (on an AVX-512 EPYC without oneDNN XLA trained
resnet50 at 1.86x graph mode; with oneDNN graph mode is the faster), so on an
x86-64 CPU host every model and path is measured under both, by default,
each in a child process of its own (`python -m benchmarks.xla
--onednn=SETTING ...`, every measurement flag passed on); this process
merges their results. A single setting this process already runs is
measured in-process. A child that crashes is recorded (exit code, the last
lines of its stderr), the other settings still run, and the exit code is 1.
On a GPU host, or a non-x86 CPU, the setting is not varied ("n/a").

Models, from the registry and the family contract: `zoo.create_model(name,
num_classes=10, ...)` with seeded initializers, so every path starts from the
same weights; image models at their own input shape, at most --image_size
square (channels_last); text models padded to --sequence_length words, their
vocabulary learnt (`model.adapt`) from the batch. The batch is
`model.example_inputs(--batch_size, --seed)`. All paths train with
SGD(0.01, momentum=0.9) and SparseCategoricalCrossentropy(from_logits=True),
as the trainer does.

What is timed (per setting): `Model.train_on_batch` and
`Model.predict_on_batch` (examples/s). Per model, the paths' first calls
(tracing, and for XLA compilation) are timed alone (`compile_s`); --warmup - 1
more untimed calls each, then one calibration call each sets the path's steps
per repeat (at least --steps, and enough for --min_repeat_s); then --repeats
timed repeats taken in turns, eager, graph, xla, eager, ...
(`common.time_repeats`). Ratios vs graph are taken within each repeat. A
path that fails is reported with the first line of its error.

Evidence (`benchmarks._xla_kernels`): of the path that ran, `jit_compile` and
`run_eagerly` read back, the `_XlaMustCompile` mark of the traced train step
and predict graph, the warnings Keras gave (it refuses jit_compile=True for
layers it cannot compile, such as text_rnn's TextVectorization: that `xla`
path runs as graph and is reported as refused), the recurrent kernel of a
model with recurrent layers; of the kernels that ran, per setting, the
library read back in its process and --kernel_trace_steps profiled train
steps per compiled path, their convolutions and matmuls counted by library
(oneDNN `_Mkl*` executor ops, Eigen's plain ones, XLA's HLO). A setting
whose read-back platform or traces show the other library is flagged as a
kernel mismatch.

FLOPs and utilization (`_xla_kernels.flops_per_example`): forward FLOPs per
example from the TensorFlow profiler's count of `model(x, training=False)`
(Einsum through opt_einsum; a recurrent model's from its weights, over every
padded step); training FLOPs from the profiled train step where it can be
had, 3 x forward otherwise. The fp32 peak: an N x N matmul (--matmul_n)
timed before the models, in turn with each model's training repeats, and
after (pooled in `matmul.gflops`). Utilization = training FLOPs per example x
median train examples/s / median matmul FLOP/s; `utilization_same_repeat`
divides repeat by repeat by the matmul of the same turn. The goal:
ResNet-50 graph-mode training at >= 75% of the peak (`meets_75pct_goal`);
--profile_steps of that cell run under the profiler, op durations summed by
op type (`op_time_profile`).

Defaults, per setting: `best_train_path` is the faster of graph and xla
(`zoo.train.jit.choose_faster`, the trainer's rule; never eager, nor a
refused or failed xla); `zoo_default_path` what the model's own
`compile(optimizer=..., loss=...)` picks (the family's `xla_defaults`);
`keras_default_path` what `keras.Model.compile(model, ...)` picks. A default
path not in --paths is measured too. The goal: `zoo_default_vs_best` >= 0.95
for every model and setting (`meets_default_goal`, summed up in `goal`).

Results: xla_<cpu|gpu>.json and .md in --output_dir: `settings` (one record
per kernel library: kernels read back and seen, process, matmul peak,
`models` -> paths -> train, inference, utilization, evidence), `failed`,
`mismatches`, `headline` (a row per model and setting), `goal`, `summary`
(what `benchmarks.report` shows). The markdown starts with the headline
table, then one section per setting.

Usage:
  python -m benchmarks.xla                  # both settings: about 10 minutes on 2 CPU cores
  python -m benchmarks.xla --quick          # smoke figures, smallest models: < 1 minute
  python -m benchmarks.xla --onednn=on      # oneDNN only, in this process (zoo's default)
  python -m benchmarks.xla --models=resnet50 --paths=graph,xla --onednn=off
"""

import math
import os
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import _xla_kernels as kernels
from benchmarks import _xla_report as report
from benchmarks import _xla_settings as settings_
from benchmarks import common
# The trainer's own rule (`--jit_compile=probe`), so the benchmark's "best
# path" is the one zoo.train would pick from the same timings.
from zoo.train import jit
from zoo.train.jit import choose_faster

NAME = "xla"
MODULE = f"benchmarks.{NAME}"
NUM_CLASSES = 10
# path -> compile() arguments. Order: the turn order of the timed repeats.
PATHS = {
    "eager": {"run_eagerly": True, "jit_compile": False},
    "graph": {"jit_compile": False},
    "xla": {"jit_compile": True},
}
BASELINE = "graph"
PREFERENCE = tuple(jit.PATHS)  # graph first: ties go to it
GOAL_MODEL, GOAL_PATH, GOAL_UTILIZATION = "resnet50", "graph", 0.75
MIN_REPEATS = 5
MIN_TEXT_WORDS = 16
MATMUL = "matmul"  # the interleaved peak candidate
MAX_STEPS = 10_000
# --quick: smoke figures. Every path (eager, graph, xla) under every kernel
# library, on the smallest default model of each modality
# (`common.smallest_models`; today einsum_mlp, and text_rnn, whose xla Keras
# refuses): compiling, XLA above all, is what the time goes to, ~30 s per
# convolutional model and library. Small batch and input, few steps and
# repeats. ResNet-50's op-time profile runs only where --models names it.
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "min_repeat_s": 0.0, "batch_size": 8,
         "image_size": 32, "sequence_length": 32, "matmul_n": 1024,
         "profile_steps": 1, "kernel_trace_steps": 1, "models": common.QuickModels()}
OPTIMIZER = "SGD(learning_rate=0.01, momentum=0.9)"
LOSS = "SparseCategoricalCrossentropy(from_logits=True)"
TRAIN_FLOPS_CONVENTION = ("training FLOPs = the profiled train-step graph (forward + "
                          "gradients + SGD update) where available, else 3 x forward "
                          "(forward + 2 x forward for the gradients)")
DESCRIPTION = ("train-step and inference throughput of zoo models, eager vs graph vs XLA, "
               "with oneDNN's CPU kernels and without; FLOPs, utilization of the matmul peak, "
               "the default paths and the kernels that ran")
# What benchmarks.report shows of a result.
summary = report.summary
log = common.logger(NAME)


def define_flags(flag_values):
    """Defines the command-line flags on `flag_values`."""
    common.define_common_flags(flag_values, QUICK, repeats=MIN_REPEATS, warmup=2, models=True,
                               help={"repeats": "Timed repeats per path, taken in turns "
                                     f"(eager, graph, xla, ...); >= {MIN_REPEATS} outside "
                                     "--quick.",
                                     "warmup": "Untimed calls per path before calibration; "
                                     "the first (tracing, XLA compilation) is reported as "
                                     "compile_s."})

    def define(kind, name, default, text, **kwargs):
        getattr(flags, f"DEFINE_{kind}")(name, default, text, flag_values=flag_values, **kwargs)

    define("list", "paths", list(PATHS), f"Paths to measure, from {','.join(PATHS)} (the "
           "zoo's and Keras' default paths are measured as well).")
    define("integer", "batch_size", 32, "Examples per step.", lower_bound=1)
    define("integer", "steps", 3, "Least steps per timed repeat of each path.", lower_bound=1)
    define("float", "min_repeat_s", 1.0, "Each path takes as many steps per repeat as its "
           "calibration step says fill this many seconds (at least --steps).", lower_bound=0.0)
    define("integer", "image_size", 64, "Largest height and width of an image model's input: "
           "a model whose own input is larger runs at this size.", lower_bound=32)
    define("integer", "sequence_length", 64, "Words per text of a text model (the model pads "
           "every text to it).", lower_bound=MIN_TEXT_WORDS)
    define("integer", "matmul_n", 2048, "Size N of the N x N fp32 matmul that measures the "
           "peak.", lower_bound=64)
    define("integer", "profile_steps", 3, f"Train steps of {GOAL_MODEL}'s {GOAL_PATH} path run "
           "under the TensorFlow profiler, for op-time shares; 0 skips the profile.",
           lower_bound=0)
    define("list", "onednn", None, "TensorFlow CPU kernel libraries to measure, from on "
           "(oneDNN, TF_ENABLE_ONEDNN_OPTS=1), off (Eigen, TF_ENABLE_ONEDNN_OPTS=0); each "
           "runs in a child process of its own, or in this one when a single setting matches "
           "it. Default: on,off on an x86-64 CPU host; not varied on a GPU or non-x86 host.")
    define("integer", "kernel_trace_steps", 2, "Train steps of each model's graph and xla "
           "paths run under the TensorFlow profiler, to record which kernels ran (oneDNN, "
           "Eigen, XLA); 0 skips the traces.", lower_bound=0)
    # absl's bounds let NaN through (every comparison with it is False), and
    # an infinite repeat would never end.
    flags.register_validator("min_repeat_s", math.isfinite,
                             message="--min_repeat_s must be a finite number of seconds >= 0",
                             flag_values=flag_values)


def _choices(flag, values, known, noun):
    """The clean list of a list flag, or a usage error naming the bad values."""
    chosen = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    unknown = [v for v in chosen if v not in known]
    if not chosen or unknown:
        raise app.UsageError(f"--{flag}={','.join(values)}: unknown {noun}(s) "
                             f"{','.join(unknown) or '(none given)'}; choose from "
                             f"{','.join(known)}")
    return chosen


def check_flags(flag_values):
    """What absl's parser cannot check, before any work.

    Returns:
        dict: paths, onednn (the settings or None), output_dir.

    Raises:
        app.UsageError: naming the flag and the value received.
    """
    paths = _choices("paths", flag_values.paths, PATHS, "path")
    onednn = (None if flag_values.onednn is None else
              _choices("onednn", flag_values.onednn, settings_.ONEDNN_SETTINGS, "setting"))
    output_dir = common.check_flags(flag_values, QUICK, min_repeats=MIN_REPEATS)
    return {"paths": [p for p in PATHS if p in paths], "onednn": onednn,
            "output_dir": output_dir}


def measure_args(flag_values, paths):
    """The flags a measurement (and a child measuring a setting) takes."""
    names = ("batch_size", "repeats", "steps", "warmup", "min_repeat_s", "image_size",
             "sequence_length", "matmul_n", "profile_steps", "kernel_trace_steps", "seed")
    return {"models": list(flag_values.models), "paths": paths,
            **{name: flag_values[name].value for name in names}}


def run_from_flags(flag_values, checked):
    plan = settings_.onednn_plan(checked["onednn"])
    line = common.launch_line(MODULE, why=settings_.decided_by(plan["settings"][0]))
    if not plan["applicable"]:
        line += f"; oneDNN setting not varied ({plan['reason'].split(':')[0]})"
    elif not settings_.measures_in_process(plan):
        line += ("; measuring --onednn=" + ",".join(plan["settings"]) + ": "
                 + " and ".join(settings_.ONEDNN_SETTINGS[s]["label"] for s in plan["settings"])
                 + (" kernels, each in a child process of its own"
                    if len(plan["settings"]) > 1 else " kernels, in a child process"))
    print(line, flush=True)
    if plan["requested"] and not plan["applicable"]:
        log(plan["reason"])
    result = run(**measure_args(flag_values, checked["paths"]), quick=flag_values.quick,
                 output_dir=checked["output_dir"], plan=plan)
    if result["failed"]:
        log("failed: " + ", ".join(f"--onednn={s} ({r['reason']})"
                                   for s, r in result["failed"].items()))
        return 1
    return 0


# --------------------------------------------------------------------------
# Models and batches, from the registry and the family contract.


def model_overrides(name, image_size, sequence_length):
    """Constructor keywords: a text model's padded length; an image model's
    input shape, its own capped at `image_size` square, channels last."""
    import zoo

    if common.modality(name) == "text":
        return {"sequence_length": sequence_length}
    shape = zoo.create_model(name, num_classes=NUM_CLASSES).input_signature.shape[1:]
    *spatial, channels = shape
    return {"input_shape": tuple(min(d or image_size, image_size) for d in spatial)
            + (channels,), "data_format": "channels_last"}


def build_model(name, overrides, seed):
    """A seeded zoo model, as `zoo.train` builds it."""
    import zoo

    keras.utils.set_random_seed(seed)
    return zoo.create_model(name, num_classes=NUM_CLASSES, **overrides)


def make_batch(model, batch_size, seed, device):
    """One fixed seeded batch, `model.example_inputs(...)`, and labels.

    Returns:
        `(inputs, x, y)`: the NumPy inputs (what `model.adapt` learns a text
        model's vocabulary from) and the batch as tensors on `device`.
    """
    inputs = model.example_inputs(batch_size=batch_size, seed=seed)
    labels = np.random.default_rng(seed).integers(0, NUM_CLASSES, size=(batch_size,))
    with tf.device(device):
        return inputs, tf.constant(inputs), tf.constant(labels.astype("int32"))


def _compile_kwargs():
    return {"optimizer": keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}


def default_paths(model):
    """`(zoo_default, keras_default, warnings)`: the paths `model.compile(...)`
    and `keras.Model.compile(model, ...)` take when jit_compile is not given."""
    caught_lines = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile(**_compile_kwargs())
        zoo_default = kernels.path_of(model)
        keras.Model.compile(model, **_compile_kwargs())
        keras_default = kernels.path_of(model)
    common.warning_lines(caught, caught_lines)
    return zoo_default, keras_default, caught_lines


# --------------------------------------------------------------------------
# Timing.


class _Steps:
    """Runs `step` `n` times per call (`n` = 1 until calibrated); with
    `single_next`, the next call runs one step only. The warnings of the
    first call go to `warnings_sink`."""

    def __init__(self, step, warnings_sink):
        self.step, self.sink = step, warnings_sink
        self.n, self.single_next, self.calls = 1, False, 0

    def __call__(self):
        n = 1 if self.single_next else self.n
        self.single_next = False
        result = None
        for _ in range(n):
            if self.calls == 0:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        result = self.step()
                    finally:
                        common.warning_lines(caught, self.sink)
            else:
                result = self.step()
            self.calls += 1
        return result


def timed(candidates, *, steps, repeats, warmup, min_repeat_s, log):
    """`common.time_repeats` with per-candidate steps per repeat.

    Each candidate is a `common.GuardedStep` around a `_Steps`. First pass:
    the first call (compile) alone, warmup - 1 calls, and one calibration
    call, all single steps. Each candidate's steps per repeat is then
    max(steps, ceil(min_repeat_s / its step time)). Second pass: one untimed
    single step each, then the interleaved repeats.

    Returns:
        dict, name -> `{"compile_s", "warmup_s", "steps", "repeat_s"}`.
    """
    first = common.time_repeats(
        candidates, steps=1, repeats=1, warmup=warmup,
        log=lambda m: log(m.replace("repeat 1/1", "calibration").replace(" for 1 steps", "")))
    out = {}
    for name, guard in candidates.items():
        estimates = first[name]["warmup_s"] + first[name]["repeat_s"]
        estimate = float(np.median(estimates))
        n = steps
        if min_repeat_s > 0 and estimate > 0 and guard.error is None:
            n = max(steps, min(MAX_STEPS, math.ceil(min_repeat_s / estimate)))
        guard.step.n, guard.step.single_next = n, True
        out[name] = {"compile_s": first[name]["first_step_s"], "warmup_s": estimates,
                     "steps": n}
    second = common.time_repeats(
        candidates, steps=1, repeats=repeats, warmup=1,
        log=lambda m: log(m.replace("first step", "untimed step").replace(" for 1 steps", "")))
    for name in candidates:
        out[name]["repeat_s"] = second[name]["repeat_s"]
    return out


def make_matmul(n, seed, device):
    """A zero-argument step: one fp32 N x N matmul in a tf.function (2 N^3 FLOPs)."""
    rng = np.random.default_rng(seed)
    with tf.device(device):
        a = tf.constant(rng.standard_normal((n, n)).astype("float32"))
        b = tf.constant(rng.standard_normal((n, n)).astype("float32"))

    @tf.function
    def matmul(a, b):
        return tf.reduce_sum(tf.matmul(a, b))  # a scalar to fetch; N^2 adds, 1/(2N) of the work

    return lambda: matmul(a, b)


def matmul_gflops(n, steps, repeat_s):
    """GFLOP/s of each timed block of `steps` N x N matmuls.

    >>> matmul_gflops(1000, 2, [4.0, 1.0])
    [1.0, 4.0]
    """
    return [2.0 * n ** 3 * steps / s / 1e9 for s in repeat_s]


def matmul_peak(matmul, n, steps, repeats, warmup, min_repeat_s):
    """fp32 matmul GFLOP/s per repeat, timed on its own; and the steps per repeat."""
    guard = common.GuardedStep(_Steps(matmul, []))
    t = timed({MATMUL: guard}, steps=steps, repeats=repeats, warmup=warmup,
              min_repeat_s=min_repeat_s, log=lambda m: None)[MATMUL]
    if guard.error:
        raise RuntimeError(f"the matmul peak could not be measured: {guard.error}")
    return matmul_gflops(n, t["steps"], t["repeat_s"]), t["steps"]


def _ratio_stats(numerators, denominators):
    per_repeat = common.per_repeat_ratios(numerators, denominators)
    return {**common.summarize(per_repeat), "per_repeat": per_repeat}


# --------------------------------------------------------------------------
# One model, one setting.


def _build_cells(name, measured, overrides, seed, inputs, x, y):
    """Builds one model per path (a text model learns its vocabulary from
    `inputs`) and compiles it; the train and inference candidates."""
    cells, train_c, infer_c = {}, {}, {}
    for path in measured:
        cell = cells[path] = {"model": None, "warnings": [], "error": None, "build_s": None}
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    model = build_model(name, overrides, seed)
                    model.adapt(inputs)
                    model.compile(**_compile_kwargs(), **PATHS[path])
                finally:
                    common.warning_lines(caught, cell["warnings"])
        except Exception as exc:  # noqa: BLE001 - reported per cell
            cell["error"] = common.first_line(exc)
            log(f"{name}/{path}: failed to build: {cell['error']}")
            continue
        cell["build_s"] = time.perf_counter() - start
        cell["model"] = model
        train_c[path] = common.GuardedStep(
            _Steps(lambda m=model: m.train_on_batch(x, y), cell["warnings"]))
        infer_c[path] = common.GuardedStep(
            _Steps(lambda m=model: m.predict_on_batch(x), cell["warnings"]))
    return cells, train_c, infer_c


def _path_row(path, requested, cell, timings, ips, evidence, tfl, interleaved):
    """One path's JSON entry: train and inference figures, utilization, evidence."""
    row = {"requested": requested, "build_s": cell["build_s"]}
    for kind in ("train", "inference"):
        row[kind] = None
        if path in ips[kind]:
            t, base = timings[kind][path], ips[kind].get(BASELINE)
            row[kind] = {
                "examples_per_s": common.summarize(ips[kind][path]),
                "examples_per_s_per_repeat": ips[kind][path],
                "compile_s": t["compile_s"],
                "steps_per_repeat": t["steps"],
                "repeat_s": t["repeat_s"],
                "ratio_vs_graph": _ratio_stats(ips[kind][path], base) if base else None,
            }
    train = row["train"]
    row["achieved_train_gflops"] = (tfl * train["examples_per_s"]["median"] / 1e9
                                    if train and tfl else None)
    row["utilization"] = None  # against the pooled peak, set by measure()
    row["inference_utilization"] = None
    row["utilization_same_repeat"] = None
    if train and tfl and interleaved:
        achieved = [tfl * v / 1e9 for v in ips["train"][path]]
        row["utilization_same_repeat"] = _ratio_stats(achieved, interleaved)
    row["evidence"] = evidence
    row["error"] = cell["error"]
    return row


def run_model(name, paths, batch_size, repeats, steps, warmup, min_repeat_s, image_size,
              sequence_length, seed, matmul, matmul_n, profile_steps, tf_device,
              kernel_trace_steps=0):
    """Measures one model on its paths; returns its JSON entry.

    The N x N matmul takes a turn in the training repeats too (after the
    paths), so that each repeat's utilization divides by a peak measured
    under the same machine load (`utilization_same_repeat`). Utilization
    against the run's pooled peak is filled in by `measure`.
    """
    overrides = model_overrides(name, image_size, sequence_length)
    probe = build_model(name, overrides, seed)
    inputs, x, y = make_batch(probe, batch_size, seed, tf_device)
    probe.adapt(inputs)
    zoo_default, keras_default, default_warnings = default_paths(probe)
    input_shape = probe.input_signature.shape[1:] if probe.modality == "image" else None
    del probe
    measured = [p for p in PATHS if p in paths or p in (zoo_default, keras_default)]
    log(f"{name}: zoo default {zoo_default}, keras default {keras_default}; "
        f"measuring {','.join(measured)}")

    cells, train_c, infer_c = _build_cells(name, measured, overrides, seed, inputs, x, y)
    if train_c:
        train_c[MATMUL] = common.GuardedStep(_Steps(matmul, []))
    timings = {kind: timed(cands, steps=steps, repeats=repeats, warmup=warmup,
                           min_repeat_s=min_repeat_s, log=lambda m: log(f"{name}: {m}"))
               if cands else {} for kind, cands in (("train", train_c), ("inference", infer_c))}
    interleaved = None
    if MATMUL in train_c and not train_c[MATMUL].error:
        t = timings["train"][MATMUL]
        interleaved = matmul_gflops(matmul_n, t["steps"], t["repeat_s"])

    ips = {"train": {}, "inference": {}}
    for kind, cands in (("train", train_c), ("inference", infer_c)):
        for path, guard in cands.items():
            if path == MATMUL:
                continue
            if guard.error:
                cells[path]["error"] = cells[path]["error"] or guard.error
                log(f"{name}/{path} {kind}: failed: {guard.error}")
                continue
            t = timings[kind][path]
            ips[kind][path] = common.throughputs(t["repeat_s"], batch_size * t["steps"])

    flops_model = next((cells[p]["model"] for p in ("graph", "xla", "eager")
                        if p in cells and cells[p]["model"] is not None
                        and cells[p]["error"] is None), None)
    flops = {"forward_flops_per_example": None, "train_flops_per_example": None,
             "train_graph_flops_per_example": None, "flops_method": None,
             "flops_by_op_type": None}
    if flops_model is not None:
        try:
            flops = kernels.flops_per_example(flops_model, x, y, batch_size, sequence_length)
        except Exception as exc:  # noqa: BLE001
            flops["flops_error"] = common.first_line(exc)
    tfl = flops["train_flops_per_example"]

    path_rows = {}
    for path in measured:
        model = cells[path]["model"]
        evidence = {"warnings": cells[path]["warnings"]}
        if model is not None:
            recurrent = kernels.weight_flops(model, 1)[0] > 0  # built by its steps
            evidence = {**kernels.path_evidence(model, x, y, PATHS[path]["jit_compile"],
                                                recurrent), **evidence}
        evidence["xla_refused"] = bool(PATHS[path]["jit_compile"] and model is not None
                                       and evidence.get("ran") != "xla")
        path_rows[path] = _path_row(path, path in paths, cells[path], timings, ips, evidence,
                                    tfl, interleaved)

    # Which kernels ran: a few train steps of each compiled path under the
    # profiler (eager ops' events name the op asked for, not the kernel).
    for path, row in path_rows.items():
        model = cells[path]["model"]
        if (not kernel_trace_steps or path == "eager" or model is None
                or row["error"] is not None or row["train"] is None):
            continue
        try:
            row["evidence"]["kernels"] = kernels.trace_kernels(
                lambda m=model: m.train_on_batch(x, y), kernel_trace_steps)
        except Exception as exc:  # noqa: BLE001 - evidence, not the measurement
            row["evidence"]["kernels"] = {"library": None, "error": common.first_line(exc)}
    seen = {p: r["evidence"]["kernels"]["library"] for p, r in path_rows.items()
            if "kernels" in r["evidence"]}
    if seen:
        log(f"{name}: kernels seen: " + ", ".join(f"{p} {lib}" for p, lib in seen.items()))

    profile = None
    goal = cells.get(GOAL_PATH)
    if (name == GOAL_MODEL and profile_steps and goal and goal["model"] is not None
            and goal["error"] is None):
        try:
            profile = kernels.profile_op_time(lambda m=goal["model"]: m.train_on_batch(x, y),
                                              profile_steps)
            log(f"{name}/{GOAL_PATH}: op time in convolutions "
                f"{profile['convolution_share']:.0%}")
        except Exception as exc:  # noqa: BLE001 - an explanation, not the measurement
            profile = {"error": common.first_line(exc)}

    def median_ips(path):
        row = path_rows.get(path)
        return row["train"]["examples_per_s"]["median"] if row and row["train"] else None

    # Seconds per step of each eligible default candidate.
    eligible = {p: batch_size / median_ips(p) for p in PREFERENCE
                if p in path_rows and median_ips(p) and path_rows[p]["error"] is None
                and not path_rows[p]["evidence"]["xla_refused"]}
    best = choose_faster(eligible) if eligible else None
    zoo_ips, keras_ips = median_ips(zoo_default), median_ips(keras_default)
    zoo_vs_best = zoo_ips / median_ips(best) if best and zoo_ips and median_ips(best) else None
    return {
        "input_shape": list(input_shape) if input_shape else ["string"],
        "input": (f"{batch_size} x {'x'.join(map(str, input_shape))} standard normal images"
                  if input_shape else
                  f"{batch_size} texts (model.example_inputs, vocabulary learnt from them), "
                  f"padded to sequence_length={sequence_length}"),
        "batch_size": batch_size,
        "params": int(flops_model.count_params()) if flops_model is not None else None,
        **flops,
        "matmul_gflops_same_repeats": common.summarize(interleaved) if interleaved else None,
        "matmul_gflops_same_repeats_per_repeat": interleaved,
        "paths": path_rows,
        "best_train_path": best,
        "zoo_default_path": zoo_default,
        "keras_default_path": keras_default,
        "defaults_warnings": default_warnings,
        "zoo_default_vs_best": zoo_vs_best,
        "meets_default_goal": settings_.meets_default_goal(zoo_vs_best),
        "zoo_default_vs_keras_default": (zoo_ips / keras_ips
                                         if zoo_ips and keras_ips else None),
        "meets_75pct_goal": None,  # set by measure() for GOAL_MODEL
        "op_time_profile": profile,
    }


def _utilization(entries, peak):
    """Fills in each path's utilization against the pooled `peak` (FLOP/s)."""
    for name, entry in entries.items():
        tfl, ffl = entry["train_flops_per_example"], entry["forward_flops_per_example"]
        for row in entry["paths"].values():
            if row["train"] and tfl:
                row["utilization"] = tfl * row["train"]["examples_per_s"]["median"] / peak
            if row["inference"] and ffl:
                row["inference_utilization"] = (
                    ffl * row["inference"]["examples_per_s"]["median"] / peak)
        goal = entry["paths"].get(GOAL_PATH)
        if name == GOAL_MODEL and goal and goal["utilization"] is not None:
            entry["meets_75pct_goal"] = bool(goal["utilization"] >= GOAL_UTILIZATION)
            profile, by_type = entry["op_time_profile"], entry["flops_by_op_type"]
            if profile and "error" not in profile and by_type and tfl:
                conv_flops = sum(v for k, v in by_type.items()
                                 if k in kernels.CONV_AND_MATMUL_OPS) / tfl
                profile["convolution_flops_share"] = conv_flops
                # If the convolutions do conv_flops of the work in
                # convolution_share of the time, they alone run at this
                # fraction of the peak (op times are thread times: an estimate).
                profile["convolution_utilization_estimate"] = (
                    goal["utilization"] * conv_flops / profile["convolution_share"])


def measure(models, paths, batch_size, repeats, steps, warmup, min_repeat_s, image_size,
            sequence_length, matmul_n, profile_steps, seed, kernel_trace_steps=0):
    """Measures every model in this process, with the kernels it runs.

    Returns:
        The setting's record: `device`, `load_average`, `wall_s`,
        `tf_xla_flags`, `matmul` and `models`.
    """
    device = common.device_info()
    tf_device = common.tf_device(device)
    log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    started = time.perf_counter()

    matmul = make_matmul(matmul_n, seed, tf_device)
    mm_kwargs = dict(n=matmul_n, steps=steps, repeats=repeats, warmup=warmup,
                     min_repeat_s=min_repeat_s)
    before, mm_steps = matmul_peak(matmul, **mm_kwargs)
    log(f"matmul {matmul_n}: {common.summarize(before)['median']:.1f} GFLOP/s (before)")
    entries = {name: run_model(name, paths, batch_size, repeats, steps, warmup, min_repeat_s,
                               image_size, sequence_length, seed, matmul, matmul_n,
                               profile_steps, tf_device, kernel_trace_steps=kernel_trace_steps)
               for name in models}
    after, _ = matmul_peak(matmul, **mm_kwargs)
    log(f"matmul {matmul_n}: {common.summarize(after)['median']:.1f} GFLOP/s (after)")
    during = [g for e in entries.values() for g in e["matmul_gflops_same_repeats_per_repeat"] or []]
    pooled = common.summarize(before + during + after)
    _utilization(entries, pooled["median"] * 1e9)
    return {
        "device": device,
        "load_average": {"start": load_start,
                         "end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "wall_s": time.perf_counter() - started,
        "tf_xla_flags": os.environ.get("TF_XLA_FLAGS"),
        "matmul": {
            "n": matmul_n,
            "steps_per_repeat": mm_steps,
            "gflops": pooled,
            "gflops_before": common.summarize(before),
            "gflops_during": common.summarize(during) if during else None,
            "gflops_after": common.summarize(after),
            "gflops_per_repeat": before + during + after,
            "method": f"tf.function(reduce_sum(matmul(a, b))), fp32 {matmul_n}x{matmul_n}, "
                      "2 N^3 FLOPs per call; timed before the models, in turn with each "
                      "model's training repeats (during), and after; gflops pools them all",
        },
        "models": entries,
    }


# --------------------------------------------------------------------------
# Every setting, and the result.


def _config(args, quick):
    return {
        **args,
        "quick": quick,
        "figures": ("smoke figures (--quick): reduced sizes, batch, steps and repeats; "
                    "not measurements to quote" if quick else "full run"),
        "num_classes": NUM_CLASSES,
        "optimizer": OPTIMIZER,
        "loss": LOSS,
        "paths_compile": {p: ", ".join(f"{k}={v}" for k, v in kw.items())
                          for p, kw in PATHS.items()},
        "train_step": "Model.train_on_batch on one fixed batch (steps_per_execution=1)",
        "inference_step": "Model.predict_on_batch on the same batch",
        "train_flops_convention": TRAIN_FLOPS_CONVENTION,
        "utilization": ("train FLOPs per example x median train examples/s / median fp32 "
                        "matmul FLOP/s of the setting's run (inference_utilization: forward "
                        "FLOPs x inference examples/s / the same peak); "
                        "utilization_same_repeat: per repeat, achieved FLOP/s / the matmul "
                        "FLOP/s timed in the same turn of repeats (median, min, max), robust "
                        "to load that changes during the run"),
        "goal": (f"{GOAL_MODEL} {GOAL_PATH}-path training at >= "
                 f"{GOAL_UTILIZATION:.0%} of the matmul peak"),
        "default_goal": (f"zoo default path >= {settings_.GOAL_DEFAULT_VS_BEST} x the best "
                         "path (train examples/s, medians), per model and kernel library"),
        "order": ("per setting (one process each, one after the other) and model: first "
                  "call of each path alone (compile_s), warm-up and one calibration call in "
                  "turns, then repeats interleaved eager, graph, xla, ...; train first, then "
                  "inference; then --kernel_trace_steps traced train steps per compiled path"),
        "kernel_evidence": ("read back in each setting's process (zoo.ops.onednn_enabled(), "
                            "zoo.ops.tensorflow_platform(), TF_ENABLE_ONEDNN_OPTS), and from a "
                            "TensorFlow profiler trace of --kernel_trace_steps train steps per "
                            "compiled path: convolution/matmul executions as oneDNN executor "
                            "ops (_Mkl*), TensorFlow's own (Eigen) ones, or XLA HLO"),
    }


def run(models, paths, batch_size, repeats, steps, warmup, min_repeat_s, image_size,
        sequence_length, matmul_n, profile_steps, seed, quick, output_dir, onednn=None,
        kernel_trace_steps=0, plan=None):
    """Measures every setting of --onednn and writes the merged result.

    Each setting runs in a child process of its own, one after the other,
    except a single setting that this process already runs (or a
    GPU/non-x86 host's one "n/a" setting), measured here.

    Returns:
        The result dict, also written as xla_<device>.json and .md.
    """
    started = time.perf_counter()
    plan = plan or settings_.onednn_plan(onednn)
    args = dict(models=list(models), paths=list(paths), batch_size=batch_size,
                repeats=repeats, steps=steps, min_repeat_s=min_repeat_s, warmup=warmup,
                image_size=image_size, sequence_length=sequence_length, matmul_n=matmul_n,
                profile_steps=profile_steps, kernel_trace_steps=kernel_trace_steps, seed=seed)
    if settings_.measures_in_process(plan):
        here = plan["settings"][0]
        process = {"mode": "in-process", "pid": os.getpid(),
                   "env": {settings_.ONEDNN_VARIABLE: os.environ.get(settings_.ONEDNN_VARIABLE)}}
        settings = {here: settings_.setting_record(here, measure(**args), process)}
        failed = {}
        if settings[here]["kernels"]["mismatch"]:
            log(f"kernel mismatch: {settings[here]['kernels']['mismatch']}")
    else:
        with tempfile.TemporaryDirectory(prefix="xla_onednn_") as workdir:
            settings, failed = settings_.measure_in_children(plan, args, quick, workdir, log)
    result = settings_.merge(settings, failed, plan, _config(args, quick), common.device_info(),
                             DESCRIPTION, wall_s=time.perf_counter() - started)
    common.publish(NAME, result, report.render_markdown(result, GOAL_PATH), output_dir,
                   summary=summary)
    return result


if __name__ == "__main__":
    common.main(MODULE, define_flags, check_flags, run_from_flags, launch=False)
