"""Eager vs graph vs XLA, with oneDNN's CPU kernels and without: train and
inference throughput, FLOPs, utilization, the zoo's default paths, and the
kernels that actually ran.

For each zoo model (--models) this measures three ways of running the same
Keras model on one fixed, seeded batch:

  - `eager`: `compile(run_eagerly=True)`: every op dispatched from Python;
  - `graph`: `compile(jit_compile=False)`: Keras wraps its step in a
    `tf.function` (a TensorFlow graph, Grappler-optimized, run by
    TensorFlow's executor with the CPU kernel library of the process);
  - `xla`: `compile(jit_compile=True)`: the same `tf.function` with
    `jit_compile=True`, compiled by XLA (its own CPU code generation).

Kernel libraries (--onednn). On a CPU, TensorFlow runs either oneDNN's
kernels (`on`) or its own Eigen ones (`off`), decided once when it is
imported, from TF_ENABLE_ONEDNN_OPTS (1 or 0). Which path is fastest depends
on it (on an AVX-512 EPYC without oneDNN XLA trained resnet50 at 1.86x graph
mode; with oneDNN graph mode is the faster), so on an x86-64 CPU host every
model and path is measured under both, by default: each setting runs in a
child process of its own, `python -m benchmarks.xla --onednn=SETTING
--output_dir=TMP ...` (every measurement flag passed on explicitly) with
TF_ENABLE_ONEDNN_OPTS=1 or 0 in its environment, one after the other; this
process merges their results. A single setting that this process already
runs (e.g. --onednn=on under zoo's default TF_ENABLE_ONEDNN_OPTS=1) is
measured in-process. A child that crashes is recorded (exit code, the last
lines of its stderr), the other settings still run, and the exit code is 1.
On a GPU host, or a non-x86 CPU, the setting is not varied: one setting,
"n/a", measured in-process.

Models: `resnet20` (32x32x3), `resnet50` (--resnet50_image_size, 64x64x3 by
default), `einsum_mlp` (32x32x1, the digits as `python -m zoo.train` feeds
them), `text_rnn` (raw strings; zoo defaults, a 1,000-word vocabulary set
with `set_vocabulary`, texts of 16..--sequence_length words padded to
--sequence_length), each built by `zoo.create_model(name, num_classes=10,
...)` with seeded initializers, so every path starts from the same weights.
All paths train with SGD(0.01, momentum=0.9) and
SparseCategoricalCrossentropy(from_logits=True), as the trainer does.

What is timed (per setting, in its process): `Model.train_on_batch`
(examples/s of the train step) and `Model.predict_on_batch` (examples/s of
inference). Recipe (DESIGN.md, "Benchmarks"): per model, the paths' first
calls (tracing, and for XLA compilation) are timed alone and reported as
`compile_s`; --warmup - 1 more untimed calls each, then one calibration
call each sets the path's steps per repeat (at least --steps, and enough for
--min_repeat_s so that fast models are not timed over a few milliseconds);
then --repeats timed repeats taken in turns, eager, graph, xla, eager,
graph, xla, ... (`common.time_repeats`). Ratios vs graph are taken within
each repeat. A path that fails (an XLA compilation error, say) is reported
with the first line of its error; the others still run.

Evidence of the path that ran, per model and path: `model.jit_compile` and
`model.run_eagerly` after compile; the `_XlaMustCompile` attribute of the
traced train step's FunctionDef (the graph Keras actually ran, found in
`model.train_function`); how many functions of the traced predict graph must
be XLA-compiled; warnings Keras gave (it refuses jit_compile=True, with a
warning, for layers that cannot be compiled, such as text_rnn's
TextVectorization: such an `xla` path runs as graph and is reported as
refused); for text_rnn the recurrent kernel (`common.detect_rnn_kernel`).

Evidence of the kernels that ran, per setting: the library read back in
its process (`zoo.ops.onednn_enabled()`, `zoo.ops.tensorflow_platform()`,
TF_ENABLE_ONEDNN_OPTS, who set it); and, per model and compiled path,
--kernel_trace_steps train steps under the TensorFlow profiler, whose
convolution and matmul executions are counted by library
(`kernel_counts`): oneDNN executor ops (`_MklNativeConv2D`, `_MklMatMul`,
`_MklEinsum`...), TensorFlow's own Eigen ones (`Conv2D`, `MatMul`,
`Einsum`...), or XLA's HLO instructions (`convolution`, `dot`, XNNPACK's
`ynn_fusion`...). Eager paths are not traced: their events name the op asked
for, not the kernel that ran. A setting whose read-back platform differs
from the one asked for, or whose traces show the other library (no oneDNN
convolution/matmul at all with `on`, any `_Mkl*` op with `off`), is flagged
as a kernel mismatch (`mismatches`, and in the report).

FLOPs and utilization. Forward FLOPs per example: the TensorFlow profiler's
float-operation count (`tf.compat.v1.profiler.profile(graph,
ProfileOptionBuilder.float_operation())`) of the concrete function of
`model(x, training=False)` at the benchmark's batch, divided by the batch;
Einsum ops, which the profiler does not count, are counted here as 2 x
output elements x contracted size. Training FLOPs per example: the same
profile of the traced train step itself (forward, gradients and the SGD
update), preferred when it can be had; the convention 3 x forward otherwise
(both are recorded). For text_rnn the profiler cannot see into the
recurrent `While` loop, so its FLOPs are analytic: 2 x gates x units x
(input + units) + bias per time step and direction, over every padded step
(the generic kernel runs them all), plus the classifier; training 3 x
forward. Each setting's fp32 peak is measured in its process: an N x N
matmul (--matmul_n) in a `tf.function`, 2 N^3 / time, timed before the
models, in turn with each model's training repeats (after its paths), and
after the models; `matmul.gflops` pools them all (median, min, max).
Utilization = training FLOPs per example x median train examples/s /
median matmul FLOP/s; `utilization_same_repeat` divides, repeat by repeat,
by the matmul timed in the same turn, so that load from other processes
that comes and goes during the run cancels. The issue's goal is ResNet-50
graph-mode training at >= 75% of the matmul peak on CPU (`meets_75pct_goal`,
on `utilization`). To show where the time goes, --profile_steps train steps
of that cell run under the TensorFlow profiler, and the host trace's op
durations are summed by op type (`op_time_profile`: convolutions vs the
rest, which on CPU is mostly Keras' unfused batch-norm arithmetic).

Defaults, per setting: `best_train_path` is the faster of graph and xla
(`choose_faster` on the median seconds per step; eager is never a
candidate, nor an xla path that Keras refused or that failed).
`zoo_default_path` is what the model's own `compile(optimizer=...,
loss=...)` picks when jit_compile is not given, in that setting's process
(`model.jit_compile` read back: the family's `xla_defaults` for the
platform it runs, `preferred_jit_compile()`); `keras_default_path` what
`keras.Model.compile(model, ...)` picks (Keras 3 on TensorFlow resolves
"auto" to XLA when a GPU is present and every layer supports it, to graph
on a CPU-only machine). A default path not in --paths is measured too. The
goal for the defaults: `zoo_default_vs_best` (medians) >= 0.95 for every
model and setting (`meets_default_goal`; `goal` sums it up).

Results: prints the report and writes xla_<cpu|gpu>.json and .md to
--output_dir. The JSON:

  {"benchmark": "xla", "command", "timestamp", "device", "versions",
   "config": {... the flags, "onednn": [settings], "wall_s"},
   "onednn": {"applicable", "settings", "requested", "reason"},
   "settings": {"on" | "off" | "n/a": {
       "setting", "label" ("oneDNN", "Eigen", or the platform),
       "kernels": {"requested", "expected_platform", "platform",
                   "onednn_enabled", "TF_ENABLE_ONEDNN_OPTS", "describe",
                   "decided_by", "seen": {"onednn", "eigen", "xla",
                   "onednn_ops"}, "seen_per_model", "mismatch"},
       "process": {"mode": "child" | "in-process", "command", "env",
                   "returncode", "wall_s", "first_line"},
       "device", "load_average", "wall_s", "tf_xla_flags",
       "matmul": {"gflops", ...},
       "models": {name: {"paths": {path: {"train", "inference",
                   "utilization", "evidence": {..., "kernels":
                   kernel_counts + "steps"}, "error"}},
                 "best_train_path", "zoo_default_path", "keras_default_path",
                 "zoo_default_vs_best", "meets_default_goal", FLOPs, ...}}}},
   "failed": {setting: {"returncode", "reason", "stderr_tail", ...}},
   "mismatches": {setting: why},
   "headline": [{"model", "setting", "label", "platform", "graph", "xla",
                 "best", "zoo_default", "zoo_default_vs_best", "meets_goal",
                 "kernels_seen", "kernel_counts", "mismatch"}, ...],
   "goal": {"rule", "met", "missed", "unknown"}}

The markdown starts with the headline table (model x kernel library: graph
and XLA train examples/s, best, zoo default, default / best, the goal,
kernels seen), then one section per setting as before (the per-path table,
utilization, matmul peak, defaults, op-time profile).

Usage:
  python -m benchmarks.xla                  # both settings: about 10 minutes on 2 CPU cores
  python -m benchmarks.xla --quick          # smoke figures, a few minutes
  python -m benchmarks.xla --onednn=on      # oneDNN only, in this process (zoo's default)
  python -m benchmarks.xla --models=resnet50 --paths=graph,xla --onednn=off
"""

import collections
import json
import math
import os
import pathlib
import platform
import re
import shlex
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
# The trainer's own rule (`--jit_compile=probe`), so the benchmark's "best
# path" is the one zoo.train would pick from the same timings.
from zoo.train import jit
from zoo.train.jit import choose_faster

NAME = "xla"
MODULE = f"benchmarks.{NAME}"
NUM_CLASSES = 10
MODELS = ("resnet20", "resnet50", "einsum_mlp", "text_rnn")
IMAGE_SHAPES = {"resnet20": (32, 32, 3), "einsum_mlp": (32, 32, 1)}  # resnet50: a flag
TEXT_MODELS = ("text_rnn",)
VOCABULARY = tuple(f"word{i}" for i in range(1000))
MIN_TEXT_WORDS = 16
# path -> compile() arguments. Order: the turn order of the timed repeats.
PATHS = {
    "eager": {"run_eagerly": True, "jit_compile": False},
    "graph": {"jit_compile": False},
    "xla": {"jit_compile": True},
}
BASELINE = "graph"
# Candidates for the default path, in the order that breaks ties: graph
# mode needs no compilation.
PREFERENCE = tuple(jit.PATHS)  # graph first: ties go to it
GOAL_MODEL, GOAL_PATH, GOAL_UTILIZATION = "resnet50", "graph", 0.75
MIN_REPEATS = 5
MATMUL = "matmul"  # the interleaved peak candidate
MAX_STEPS = 10_000
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "min_repeat_s": 0.0, "batch_size": 8,
         "resnet50_image_size": 32, "sequence_length": 32, "matmul_n": 1024,
         "profile_steps": 1, "kernel_trace_steps": 1}
# The goal for the zoo's defaults: on every platform, the path a model's own
# compile() picks trains at >= this fraction of the best path's examples/s.
GOAL_DEFAULT_VS_BEST = 0.95
# --onednn: TensorFlow's CPU kernel library, chosen when TensorFlow is
# imported (so each setting runs in a process of its own).
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
ONEDNN_SETTINGS = {
    "on": {"env": "1", "platform": "cpu/onednn", "label": "oneDNN"},
    "off": {"env": "0", "platform": "cpu/eigen", "label": "Eigen"},
}
NOT_APPLICABLE = "n/a"  # the one setting of a GPU or non-x86 host: not varied
# Set in a child's environment to the setting it runs: such a process
# measures in-process whatever kernels it got (and records a mismatch).
CHILD_VARIABLE = "BENCHMARKS_XLA_CHILD"
X86_64 = ("x86_64", "amd64")
STDERR_TAIL_LINES = 20
REPO = pathlib.Path(__file__).resolve().parents[1]
OPTIMIZER = "SGD(learning_rate=0.01, momentum=0.9)"
LOSS = "SparseCategoricalCrossentropy(from_logits=True)"
TRAIN_FLOPS_CONVENTION = ("training FLOPs = the profiled train-step graph (forward + "
                          "gradients + SGD update) where available, else 3 x forward "
                          "(forward + 2 x forward for the gradients)")

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the command-line flags. Called only when run as a script, so
    that importing this module (tests) adds nothing to the global absl FLAGS,
    where other benchmarks define flags of the same names."""
    flags.DEFINE_list("models", list(MODELS), f"Models to measure, from {','.join(MODELS)}.",
                      flag_values=flag_values)
    flags.DEFINE_list("paths", list(PATHS), f"Paths to measure, from {','.join(PATHS)} "
                      "(the zoo's and Keras' default paths are measured as well).",
                      flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 32, "Examples per step.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("repeats", MIN_REPEATS, "Timed repeats per path, taken in turns "
                         f"(eager, graph, xla, eager, ...); >= {MIN_REPEATS} outside --quick.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("steps", 3, "Least steps per timed repeat of each path.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_float("min_repeat_s", 1.0, "Each path takes as many steps per repeat as "
                       "its calibration step says fill this many seconds (at least --steps).",
                       lower_bound=0.0, flag_values=flag_values)
    flags.DEFINE_integer("warmup", 2, "Untimed calls per path before calibration; the "
                         "first (tracing, XLA compilation) is reported as compile_s.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("resnet50_image_size", 64, "Height and width of resnet50's RGB "
                         "images.", lower_bound=32, flag_values=flag_values)
    flags.DEFINE_integer("sequence_length", 64, "Words per text of text_rnn (the model "
                         "pads every text to it).", lower_bound=MIN_TEXT_WORDS,
                         flag_values=flag_values)
    flags.DEFINE_integer("matmul_n", 2048, "Size N of the N x N fp32 matmul that measures "
                         "the peak.", lower_bound=64, flag_values=flag_values)
    flags.DEFINE_integer("profile_steps", 3, f"Train steps of {GOAL_MODEL}'s {GOAL_PATH} path "
                         "run under the TensorFlow profiler, for op-time shares (where the "
                         "time goes); 0 skips the profile.", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_list("onednn", None, "TensorFlow CPU kernel libraries to measure, from "
                      "on (oneDNN, TF_ENABLE_ONEDNN_OPTS=1), off (TensorFlow's own Eigen "
                      "kernels, TF_ENABLE_ONEDNN_OPTS=0); each runs in a child process of its "
                      "own (the variable is read when TensorFlow is imported), or in this one "
                      "when a single setting matches it. Default: on,off on an x86-64 CPU "
                      "host; on a GPU or non-x86 host the setting is not varied (recorded as "
                      "not applicable).", flag_values=flag_values)
    flags.DEFINE_integer("kernel_trace_steps", 2, "Train steps of each model's graph and xla "
                         "paths run under the TensorFlow profiler, to record which kernels "
                         "ran (oneDNN, Eigen, XLA); 0 skips the traces.", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of the batches and of the weight initializers.",
                         lower_bound=0, flag_values=flag_values)
    flags.DEFINE_boolean("quick", False, "Smoke run: " + ", ".join(
        f"--{k}={v}" for k, v in QUICK.items()) + " (flags given explicitly win); "
        "its figures are smoke figures, not measurements to quote.", flag_values=flag_values)
    flags.DEFINE_string("output_dir", "benchmarks/results",
                        "Directory for the JSON and markdown results (created if missing).",
                        flag_values=flag_values)
    # absl's bounds let NaN through (every comparison with it is False), and
    # an infinite repeat would never end.
    flags.register_validator(
        "min_repeat_s", math.isfinite,
        message="--min_repeat_s must be a finite number of seconds >= 0",
        flag_values=flag_values)


def _log(message):
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Choosing a path.



def path_of(model):
    """The path a compiled model takes: `"eager"`, `"xla"` or `"graph"`."""
    if model.run_eagerly:
        return "eager"
    return "xla" if model.jit_compile else "graph"


# --------------------------------------------------------------------------
# FLOPs.


def einsum_flops(equation, input_shapes, output_shape):
    """FLOPs of one Einsum: 2 x output elements x contracted size (one
    operand: its element count, a reduction or a transpose).

    >>> einsum_flops("nhwc,hwck->nk", [(8, 4, 4, 1), (4, 4, 1, 32)], (8, 32))
    8192
    >>> einsum_flops("...i,ik->...k", [(8, 5, 16), (16, 3)], (8, 5, 3))
    3840
    """
    lhs, out = equation.replace(" ", "").split("->")
    terms = lhs.split(",")
    sizes = {}
    for term, shape in zip(terms, input_shapes):
        dims = list(shape)
        head, _, tail = term.partition("...")
        for letter, size in zip(head, dims[:len(head)]):
            sizes[letter] = int(size)
        for letter, size in zip(tail, dims[len(dims) - len(tail):] if tail else []):
            sizes[letter] = int(size)
    out_elements = math.prod(int(d) for d in output_shape)
    if len(terms) == 1:
        return math.prod(int(d) for d in input_shapes[0])
    contracted = set(lhs.replace(",", "").replace(".", "")) - set(out.replace(".", ""))
    return 2 * out_elements * math.prod(sizes[c] for c in contracted)


def graph_flops(graph):
    """Float operations of a graph: the TensorFlow profiler's count, plus Einsum.

    Returns:
        `(total, by_op_type)`; ops whose shapes are not fully known are not
        counted (by the profiler, nor here).
    """
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    profile = tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options)
    # The "op" view is a chain, one node per op type, each the child of the
    # one before; a node's float_ops are its own (total_float_ops include
    # the rest of the chain).
    by_type, stack = {}, list(profile.children)
    while stack:
        node = stack.pop()
        if node.float_ops:
            by_type[node.name] = by_type.get(node.name, 0) + int(node.float_ops)
        stack.extend(node.children)
    einsum = 0
    for op in graph.get_operations():
        if op.type != "Einsum":
            continue
        shapes = [t.shape for t in op.inputs] + [op.outputs[0].shape]
        if all(s.is_fully_defined() for s in shapes):
            einsum += einsum_flops(op.get_attr("equation").decode(),
                                   [s.as_list() for s in shapes[:-1]], shapes[-1].as_list())
    if einsum:
        by_type["Einsum"] = by_type.get("Einsum", 0) + einsum
    return sum(by_type.values()), dict(sorted(by_type.items(), key=lambda kv: -kv[1]))


def rnn_forward_flops(model, length):
    """Analytic forward FLOPs per example of text_rnn: every recurrent layer,
    direction and padded time step (the generic kernel runs them all), then
    the classifier on the last state."""
    gates = {"lstm": 4, "gru": 3}[model.rnn]
    directions = 2 if model.bidirectional else 1
    flops, width = 0, model.embedding_dim
    for _ in range(model.num_layers):
        per_step = 2 * gates * model.units * (width + model.units) + gates * model.units
        flops += directions * length * per_step
        width = directions * model.units
    return flops + 2 * width * model.num_classes


def flops_per_example(name, model, x, y, batch_size, sequence_length):
    """Forward and training FLOPs per example, with how they were counted."""
    if name in TEXT_MODELS:
        forward = rnn_forward_flops(model, sequence_length)
        return {"forward_flops_per_example": float(forward),
                "train_flops_per_example": float(3 * forward),
                "train_graph_flops_per_example": None,
                "flops_method": ("analytic (the profiler cannot see into the recurrent While "
                                 "loop): recurrent matmuls + bias over every padded step and "
                                 "direction, plus the classifier; training = 3 x forward"),
                "flops_by_op_type": None}
    forward_fn = tf.function(lambda inputs: model(inputs, training=False))
    forward, _ = graph_flops(forward_fn.get_concrete_function(x).graph)
    result = {"forward_flops_per_example": forward / batch_size,
              "train_flops_per_example": 3 * forward / batch_size,
              "train_graph_flops_per_example": None,
              "flops_method": "TensorFlow profiler on model(x, training=False); training = "
                              "3 x forward",
              "flops_by_op_type": None}
    try:
        concrete, source = common.traced_train_step(model, x, y)
        train, by_type = graph_flops(concrete.graph)
    except Exception as exc:  # noqa: BLE001 - the 3 x forward convention stands
        result["train_graph_error"] = common.first_line(exc)
        return result
    if train > forward:
        result.update({
            "train_flops_per_example": train / batch_size,
            "train_graph_flops_per_example": train / batch_size,
            "flops_method": (f"TensorFlow profiler on the traced train step ({source}: "
                             "forward, gradients and the SGD update) and on "
                             "model(x, training=False)"),
            "flops_by_op_type": {k: v / batch_size for k, v in by_type.items()},
        })
    return result


# --------------------------------------------------------------------------
# Evidence of the path that ran.


def _xla_must_compile(function_def):
    attr = function_def.attr.get("_XlaMustCompile")
    return bool(attr.b) if attr is not None else False


def path_evidence(name, model, x, y, requested_jit):
    """What ran: compile settings read back, and the traced graphs' XLA marks."""
    evidence = {
        "run_eagerly": bool(model.run_eagerly),
        "jit_compile_requested": requested_jit,
        "jit_compile": bool(model.jit_compile),
        "train_step_source": None,
        "train_step_xla_must_compile": None,
        "predict_xla_functions": None,
        "ran": path_of(model),
    }
    if not model.run_eagerly:
        try:
            concrete, source = common.traced_train_step(model, x, y)
            evidence["train_step_source"] = source
            evidence["train_step_xla_must_compile"] = _xla_must_compile(concrete.function_def)
        except Exception as exc:  # noqa: BLE001 - evidence, not the measurement
            evidence["train_step_error"] = common.first_line(exc)
        try:
            if isinstance(model.predict_function, tf.types.experimental.PolymorphicFunction):
                graph_def = model.predict_function.get_concrete_function(
                    [(x,)]).graph.as_graph_def()
                evidence["predict_xla_functions"] = sum(
                    _xla_must_compile(f) for f in graph_def.library.function)
        except Exception as exc:  # noqa: BLE001
            evidence["predict_error"] = common.first_line(exc)
        if evidence["train_step_xla_must_compile"] is not None:
            evidence["ran"] = "xla" if evidence["train_step_xla_must_compile"] else "graph"
    if name in TEXT_MODELS:
        try:
            evidence["rnn_kernel"] = common.detect_rnn_kernel(model, x, y)
        except Exception as exc:  # noqa: BLE001
            evidence["rnn_kernel"] = {"kernel": None, "error": common.first_line(exc)}
    return evidence



class _Steps:
    """Runs `step` `n` times per call (`n` = 1 until calibrated); with
    `single_next`, the next call runs one step only."""

    def __init__(self, step, warnings_sink):
        self.step, self.sink = step, warnings_sink
        self.n, self.single_next, self.calls = 1, False, 0

    def __call__(self):
        n = 1 if self.single_next else self.n
        self.single_next = False
        result = None
        for _ in range(n):
            if self.calls == 0:  # the first call: record what Keras warns
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


# --------------------------------------------------------------------------
# Models and batches.


def model_input(name, resnet50_image_size):
    """The input shape of an image model, or None for text."""
    if name == "resnet50":
        return (resnet50_image_size, resnet50_image_size, 3)
    return IMAGE_SHAPES.get(name)


def build_model(name, input_shape, sequence_length, seed):
    """A seeded zoo model as `zoo.train` builds it (text_rnn: with a vocabulary)."""
    import zoo

    keras.utils.set_random_seed(seed)
    if name in TEXT_MODELS:
        model = zoo.create_model(name, num_classes=NUM_CLASSES, sequence_length=sequence_length)
        model.set_vocabulary(list(VOCABULARY))
        return model
    return zoo.create_model(name, num_classes=NUM_CLASSES, input_shape=input_shape,
                            data_format="channels_last")


def make_batch(name, input_shape, batch_size, sequence_length, seed, device):
    """One fixed seeded batch: images (standard normal) or texts of
    MIN_TEXT_WORDS..sequence_length vocabulary words (the first full length),
    and labels."""
    rng = np.random.default_rng(seed)
    if name in TEXT_MODELS:
        lengths = rng.integers(MIN_TEXT_WORDS, sequence_length + 1, size=batch_size)
        lengths[0] = sequence_length
        x = np.array([" ".join(rng.choice(VOCABULARY, size=n)) for n in lengths], dtype=object)
    else:
        x = rng.standard_normal((batch_size,) + tuple(input_shape)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(batch_size,)).astype("int32")
    with tf.device(device):
        return tf.constant(x), tf.constant(labels)


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
        zoo_default = path_of(model)
        keras.Model.compile(model, **_compile_kwargs())
        keras_default = path_of(model)
    common.warning_lines(caught, caught_lines)
    return zoo_default, keras_default, caught_lines


# --------------------------------------------------------------------------
# Timing.


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
        log=lambda m: log(m.replace("first step", "untimed step")
                          .replace(" for 1 steps", "")))
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
    """GFLOP/s of each timed block of `steps` N x N matmuls."""
    return [2.0 * n ** 3 * steps / s / 1e9 for s in repeat_s]


def matmul_peak(matmul, n, steps, repeats, warmup, min_repeat_s):
    """fp32 matmul GFLOP/s per repeat, timed on its own; and the steps per repeat."""
    guard = common.GuardedStep(_Steps(matmul, []))
    t = timed({MATMUL: guard}, steps=steps, repeats=repeats, warmup=warmup,
              min_repeat_s=min_repeat_s, log=lambda m: None)[MATMUL]
    if guard.error:
        raise RuntimeError(f"the matmul peak could not be measured: {guard.error}")
    return matmul_gflops(n, t["steps"], t["repeat_s"]), t["steps"]


# --------------------------------------------------------------------------
# Where the time goes: op types in a profiled train step.

CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative")


def op_time_shares(events):
    """Shares of op time by op type.

    Args:
        events: iterable of `(event_name, seconds)` from the TensorFlow
            profiler's host trace; op events are named `"op_name:OpType"`
            (oneDNN kernels as `_MklNative<Type>`), others (executor and
            thread-pool bookkeeping, with `::` in their names, and function
            calls, whose ops are listed on their own) are skipped.

    Returns:
        `{"op_seconds", "by_op_type" {type: share, largest first},
        "convolution_share", "other_share"}`; op types are stripped of the
        `_MklNative`/`_Mkl` prefix.

    >>> shares = op_time_shares([("c1:_MklNativeConv2D", 3.0), ("bn/mul:Mul", 1.0),
    ...                          ("ExecutorState::Process", 9.0),
    ...                          ("step: __inference_one_step_on_data_7", 4.0)])
    >>> shares["by_op_type"], shares["convolution_share"]
    ({'Conv2D': 0.75, 'Mul': 0.25}, 0.75)
    """
    seconds = {}
    for name, duration in events:
        if "::" in name or ":" not in name:
            continue
        op_type = name.rsplit(":", 1)[1].strip()
        if op_type.startswith("__") or op_type in CALL_OPS:
            continue  # a function call: its ops are counted on their own
        for prefix in ("_MklNative", "_Mkl"):
            if op_type.startswith(prefix):
                op_type = op_type[len(prefix):]
                break
        seconds[op_type] = seconds.get(op_type, 0.0) + duration
    total = sum(seconds.values())
    if total <= 0:
        raise ValueError("no op events with a duration in the profile")
    shares = {k: v / total for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
    conv = sum(v for k, v in shares.items() if k in CONV_OPS or k.startswith("FusedConv2D"))
    return {"op_seconds": total, "by_op_type": shares, "convolution_share": conv,
            "other_share": 1.0 - conv}


def read_trace(step, steps):
    """Runs `step` `steps` times under the TensorFlow profiler; its host events.

    Reads the host trace (XPlane protobuf) the profiler writes: every event
    on every thread. Executor ops are named `"op_name:OpType"` (oneDNN
    kernels `_MklNative<Type>`/`_Mkl<Type>`); ops XLA compiled appear as
    their HLO instructions (`convolution.3`, `dot.2`, `ynn_fusion`...),
    marked with an `hlo_op` stat.

    Returns:
        `(events, wall_s)`: events a list of `(name, seconds, is_xla)`.
    """
    import glob
    import tempfile

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory(prefix="xla_profile_") as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        try:
            for _ in range(steps):
                step()
        finally:
            wall = time.perf_counter() - start
            tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        names = plane.event_metadata
        hlo_stats = {k for k, v in plane.stat_metadata.items() if v.name == "hlo_op"}
        xla_metadata = {k for k, m in names.items()
                        if any(s.metadata_id in hlo_stats for s in m.stats)}
        for line in plane.lines:
            for e in line.events:
                is_xla = (e.metadata_id in xla_metadata
                          or any(s.metadata_id in hlo_stats for s in e.stats))
                events.append((names[e.metadata_id].name, e.duration_ps * 1e-12, is_xla))
    return events, wall


def profile_op_time(step, steps):
    """Runs `step` `steps` times under the TensorFlow profiler; op-time shares.

    Every executor op's duration, on every inter-op thread (`read_trace`).
    Durations are thread time, so ops that overlap each count in full.
    """
    events, wall = read_trace(step, steps)
    shares = op_time_shares((name, seconds) for name, seconds, is_xla in events if not is_xla)
    top = dict(list(shares["by_op_type"].items())[:12])
    return {**shares, "by_op_type": top, "steps": steps, "wall_s": wall,
            "method": "tf.profiler.experimental host trace of train_on_batch steps; shares "
                      "of summed op (thread) time, op types without the _MklNative prefix"}


# Which kernels ran: the convolutions and matmuls of a traced train step.
ONEDNN_PREFIXES = ("_MklNative", "_Mkl")
HEAVY_TF_OP = re.compile(r"Conv[23]D|DepthwiseConv|MatMul|Einsum")
HEAVY_HLO = re.compile(r"^(convolution|dot|ynn_fusion|xnn_fusion)|Conv[23]D|MatMul|Einsum|onednn",
                       re.IGNORECASE)
LIBRARY_LABELS = {"onednn": "oneDNN", "eigen": "Eigen", "xla": "XLA"}


def kernel_counts(events):
    """Counts the convolution and matmul kernels in a trace, by library.

    Args:
        events: iterable of `(event_name, is_xla)` (see `read_trace`).

    Returns:
        `{"onednn", "eigen", "xla"}`: how many convolution/matmul executions
        ran as oneDNN executor ops (`_Mkl*` op types), as TensorFlow's own
        (Eigen) executor ops (plain `Conv2D`, `MatMul`, `_FusedMatMul`,
        `Einsum`...), or inside XLA-compiled code (HLO `convolution`, `dot`,
        XNNPACK `ynn_fusion`, and instructions named after the TF ops they
        came from); `"onednn_ops"`: every `_Mkl*` op execution;
        `"xla_events"`: every XLA instruction executed; `"op_types"`: count
        per op type as it ran (HLO names without their `.N` suffix);
        `"library"`: `"onednn"`, `"eigen"`, `"xla"`, combinations such as
        `"xla+onednn"`, or `"none"` when no convolution or matmul was seen.
        Eagerly dispatched ops (`EagerLocalExecute: Type`) are not counted:
        their events name the op asked for, not the kernel that ran.

    >>> counts = kernel_counts([("m/conv/Conv2D:_MklNativeConv2D", False),
    ...                         ("m/dense/MatMul:_MklMatMul", False),
    ...                         ("m/bn/Rsqrt:_MklNativeFusedBatchNormV3", False),
    ...                         ("m/add:AddV2", False),
    ...                         ("ExecutorState::Process", False)])
    >>> counts["library"], counts["onednn"], counts["eigen"], counts["onednn_ops"]
    ('onednn', 2, 0, 3)
    >>> counts = kernel_counts([("convolution.3", True), ("ynn_fusion.1", True),
    ...                         ("multiply_add_fusion", True), ("end: copy.2", False)])
    >>> counts["library"], counts["xla"], counts["xla_events"], counts["op_types"]
    ('xla', 2, 3, {'convolution': 1, 'ynn_fusion': 1})
    >>> kernel_counts([("d/MatMul:MatMul", False), ("e/Einsum:Einsum", False)])["library"]
    'eigen'
    """
    counts = {"onednn": 0, "eigen": 0, "xla": 0, "onednn_ops": 0, "xla_events": 0}
    op_types = collections.Counter()
    for name, is_xla in events:
        if is_xla:
            counts["xla_events"] += 1
            hlo = re.sub(r"\.\d+$", "", name.strip())
            if HEAVY_HLO.search(hlo):
                counts["xla"] += 1
                op_types[hlo] += 1
            continue
        if "::" in name or ":" not in name or name.startswith(("EagerLocalExecute", "end:")):
            continue
        op_type = name.rsplit(":", 1)[1].strip()
        onednn = op_type.startswith(ONEDNN_PREFIXES)
        counts["onednn_ops"] += onednn
        if HEAVY_TF_OP.search(op_type):
            counts["onednn" if onednn else "eigen"] += 1
            op_types[op_type] += 1
    libraries = [lib for lib in ("xla", "onednn", "eigen") if counts[lib]]
    counts["library"] = "+".join(libraries) or "none"
    counts["op_types"] = dict(op_types.most_common())
    return counts


def trace_kernels(step, steps):
    """`kernel_counts` of `steps` calls of `step` under the profiler."""
    events, wall = read_trace(step, steps)
    return {**kernel_counts((name, is_xla) for name, _, is_xla in events),
            "steps": steps, "wall_s": wall}


def meets_default_goal(zoo_default_vs_best):
    """Whether the zoo's default path is within the goal of the best one:
    its train examples/s >= GOAL_DEFAULT_VS_BEST x the best path's (medians);
    None when either was not measured.

    >>> meets_default_goal(1.0), meets_default_goal(0.95), meets_default_goal(0.9)
    (True, True, False)
    >>> meets_default_goal(None) is None
    True
    """
    if zoo_default_vs_best is None:
        return None
    return bool(zoo_default_vs_best >= GOAL_DEFAULT_VS_BEST - 1e-12)


def _ratio_stats(numerators, denominators):
    per_repeat = common.per_repeat_ratios(numerators, denominators)
    return {**common.summarize(per_repeat), "per_repeat": per_repeat}


def run_model(name, paths, batch_size, repeats, steps, warmup, min_repeat_s,
              resnet50_image_size, sequence_length, seed, matmul, matmul_n, profile_steps,
              tf_device, kernel_trace_steps=0):
    """Measures one model on its paths; returns its JSON entry.

    The N x N matmul takes a turn in the training repeats too (after the
    paths), so that each repeat's utilization divides by a peak measured
    under the same machine load (`utilization_same_repeat`). Utilization
    against the run's pooled peak is filled in by `run`.
    """
    input_shape = model_input(name, resnet50_image_size)
    x, y = make_batch(name, input_shape, batch_size, sequence_length, seed, tf_device)

    probe = build_model(name, input_shape, sequence_length, seed)
    zoo_default, keras_default, default_warnings = default_paths(probe)
    del probe
    measured = [p for p in PATHS if p in paths or p in (zoo_default, keras_default)]
    _log(f"{name}: zoo default {zoo_default}, keras default {keras_default}; "
         f"measuring {','.join(measured)}")

    cells, train_c, infer_c = {}, {}, {}
    for path in measured:
        cell = {"model": None, "warnings": [], "error": None, "build_s": None}
        cells[path] = cell
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    model = build_model(name, input_shape, sequence_length, seed)
                    model.compile(**_compile_kwargs(), **PATHS[path])
                finally:
                    common.warning_lines(caught, cell["warnings"])
        except Exception as exc:  # noqa: BLE001 - reported per cell
            cell["error"] = common.first_line(exc)
            _log(f"{name}/{path}: failed to build: {cell['error']}")
            continue
        cell["build_s"] = time.perf_counter() - start
        cell["model"] = model
        train_c[path] = common.GuardedStep(
            _Steps(lambda m=model: m.train_on_batch(x, y), cell["warnings"]))
        infer_c[path] = common.GuardedStep(
            _Steps(lambda m=model: m.predict_on_batch(x), cell["warnings"]))
    if train_c:
        train_c[MATMUL] = common.GuardedStep(_Steps(matmul, []))

    def log(message):
        _log(f"{name}: {message}")

    timings = {}
    for kind, cands in (("train", train_c), ("inference", infer_c)):
        timings[kind] = timed(cands, steps=steps, repeats=repeats, warmup=warmup,
                              min_repeat_s=min_repeat_s, log=log) if cands else {}
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
                _log(f"{name}/{path} {kind}: failed: {guard.error}")
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
            flops = flops_per_example(name, flops_model, x, y, batch_size, sequence_length)
        except Exception as exc:  # noqa: BLE001
            flops["flops_error"] = common.first_line(exc)
    tfl = flops["train_flops_per_example"]

    path_rows = {}
    for path in measured:
        cell = cells[path]
        model = cell["model"]
        evidence = ({"warnings": cell["warnings"]} if model is None else
                    {**path_evidence(name, model, x, y, PATHS[path]["jit_compile"]),
                     "warnings": cell["warnings"]})
        refused = bool(PATHS[path]["jit_compile"] and model is not None
                       and evidence.get("ran") != "xla")
        evidence["xla_refused"] = refused
        row = {"requested": path in paths, "build_s": cell["build_s"]}
        for kind in ("train", "inference"):
            if path in ips[kind]:
                t = timings[kind][path]
                base = ips[kind].get(BASELINE)
                row[kind] = {
                    "examples_per_s": common.summarize(ips[kind][path]),
                    "examples_per_s_per_repeat": ips[kind][path],
                    "compile_s": t["compile_s"],
                    "steps_per_repeat": t["steps"],
                    "repeat_s": t["repeat_s"],
                    "ratio_vs_graph": _ratio_stats(ips[kind][path], base) if base else None,
                }
            else:
                row[kind] = None
        train = row["train"]
        row["achieved_train_gflops"] = (tfl * train["examples_per_s"]["median"] / 1e9
                                        if train and tfl else None)
        row["utilization"] = None  # against the pooled peak, set by run()
        row["inference_utilization"] = None
        row["utilization_same_repeat"] = None
        if train and tfl and interleaved:
            achieved = [tfl * v / 1e9 for v in ips["train"][path]]
            row["utilization_same_repeat"] = _ratio_stats(achieved, interleaved)
        row["evidence"] = evidence
        row["error"] = cell["error"]
        path_rows[path] = row

    # Which kernels ran: a few train steps of each compiled path under the
    # profiler (eager ops' events name the op asked for, not the kernel).
    for path, row in path_rows.items():
        model = cells[path]["model"]
        if (not kernel_trace_steps or path == "eager" or model is None
                or row["error"] is not None or row["train"] is None):
            continue
        try:
            row["evidence"]["kernels"] = trace_kernels(
                lambda m=model: m.train_on_batch(x, y), kernel_trace_steps)
        except Exception as exc:  # noqa: BLE001 - evidence, not the measurement
            row["evidence"]["kernels"] = {"library": None, "error": common.first_line(exc)}
    seen = {p: r["evidence"]["kernels"]["library"] for p, r in path_rows.items()
            if "kernels" in r["evidence"]}
    if seen:
        _log(f"{name}: kernels seen: " + ", ".join(f"{p} {lib}" for p, lib in seen.items()))

    profile = None
    goal = cells.get(GOAL_PATH)
    if (name == GOAL_MODEL and profile_steps and goal and goal["model"] is not None
            and goal["error"] is None):
        try:
            profile = profile_op_time(lambda m=goal["model"]: m.train_on_batch(x, y),
                                      profile_steps)
            _log(f"{name}/{GOAL_PATH}: op time in convolutions "
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
                  f"{batch_size} texts of {MIN_TEXT_WORDS}..{sequence_length} words from a "
                  f"{len(VOCABULARY)}-word vocabulary (set_vocabulary), padded to "
                  f"sequence_length={sequence_length}"),
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
        "meets_default_goal": meets_default_goal(zoo_vs_best),
        "zoo_default_vs_keras_default": (zoo_ips / keras_ips
                                         if zoo_ips and keras_ips else None),
        "meets_75pct_goal": None,  # set by run() for GOAL_MODEL
        "op_time_profile": profile,
    }


def measure(models, paths, batch_size, repeats, steps, warmup, min_repeat_s,
            resnet50_image_size, sequence_length, matmul_n, profile_steps, seed,
            kernel_trace_steps=0):
    """Measures every model in this process, with the kernels it runs.

    Returns:
        The setting's record (see `run`): `device`, `load_average`, `wall_s`,
        `tf_xla_flags`, `matmul` and `models`.
    """
    device = common.device_info()
    tf_device = "/GPU:0" if device["gpu_found"] else "/CPU:0"
    _log(f"device: {device['kind']} ({device['name']}); kernels: {device['kernels']}")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    started = time.perf_counter()

    matmul = make_matmul(matmul_n, seed, tf_device)
    mm_kwargs = dict(n=matmul_n, steps=steps, repeats=repeats, warmup=warmup,
                     min_repeat_s=min_repeat_s)
    before, mm_steps = matmul_peak(matmul, **mm_kwargs)
    _log(f"matmul {matmul_n}: {common.summarize(before)['median']:.1f} GFLOP/s (before)")

    entries = {}
    for name in models:
        entries[name] = run_model(
            name, paths, batch_size, repeats, steps, warmup, min_repeat_s,
            resnet50_image_size, sequence_length, seed, matmul, matmul_n, profile_steps,
            tf_device, kernel_trace_steps=kernel_trace_steps)

    after, _ = matmul_peak(matmul, **mm_kwargs)
    _log(f"matmul {matmul_n}: {common.summarize(after)['median']:.1f} GFLOP/s (after)")
    during = [g for e in entries.values() for g in e["matmul_gflops_same_repeats_per_repeat"] or []]
    pooled = common.summarize(before + during + after)
    peak = pooled["median"] * 1e9
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
                conv_flops = sum(v for k, v in by_type.items() if k in CONV_OPS) / tfl
                profile["convolution_flops_share"] = conv_flops
                # If the convolutions do conv_flops of the work in
                # convolution_share of the time, they alone run at this
                # fraction of the peak (op times are thread times: an estimate).
                profile["convolution_utilization_estimate"] = (
                    goal["utilization"] * conv_flops / profile["convolution_share"])
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
# Kernel libraries: which to measure, in which process, and what ran.


def current_setting():
    """The --onednn setting this process runs: "on" or "off"."""
    import zoo

    return "on" if zoo.ops.onednn_enabled() else "off"


def onednn_plan(requested=None, gpu=None, machine=None):
    """Which kernel-library settings to measure here.

    Args:
        requested: list of "on"/"off" (--onednn), or None for the default.
        gpu: whether TensorFlow sees a GPU (default: asked).
        machine: `platform.machine()` (default: this one).

    Returns:
        `{"applicable", "settings", "requested", "reason"}`: on an x86-64
        CPU host the requested settings (default on, off); on a GPU or
        non-x86 host the single setting "n/a" (the models run on the GPU;
        oneDNN's setting is only varied on x86-64 CPUs).

    >>> onednn_plan(None, gpu=False, machine="x86_64")["settings"]
    ['on', 'off']
    >>> onednn_plan(["off"], gpu=False, machine="x86_64")["settings"]
    ['off']
    >>> plan = onednn_plan(["on", "off"], gpu=True, machine="x86_64")
    >>> plan["applicable"], plan["settings"]
    (False, ['n/a'])
    """
    if gpu is None:
        gpu = bool(tf.config.list_physical_devices("GPU"))
    machine = (machine or platform.machine()).lower()
    asked = f" (--onednn={','.join(requested)} ignored)" if requested else ""
    if gpu:
        return {"applicable": False, "settings": [NOT_APPLICABLE], "requested": requested,
                "reason": "GPU host: the models run on the GPU (cuDNN kernels); oneDNN is "
                          f"TensorFlow's CPU kernel library, not varied here{asked}"}
    if machine not in X86_64:
        return {"applicable": False, "settings": [NOT_APPLICABLE], "requested": requested,
                "reason": f"{machine} CPU: the oneDNN setting is varied on x86-64 CPUs "
                          f"only{asked}"}
    settings = list(requested or ONEDNN_SETTINGS)
    return {"applicable": True, "settings": settings, "requested": requested,
            "reason": ("x86-64 CPU host: TensorFlow runs either oneDNN's CPU kernels or its "
                       f"own (Eigen), chosen by {ONEDNN_VARIABLE} when it is imported; "
                       "each setting is measured in a process of its own")}


def measures_in_process(plan):
    """Whether `plan`'s one setting is measured in this process: it is not
    varied (GPU, non-x86), this process already runs it, or this process is
    the child started for it (which measures whatever kernels it got, and
    flags a mismatch, rather than starting another)."""
    if len(plan["settings"]) != 1:
        return False
    setting = plan["settings"][0]
    return (not plan["applicable"] or setting == current_setting()
            or os.environ.get(CHILD_VARIABLE) == setting)


def kernels_read_back(setting):
    """The kernel library this process runs, read back, and what was asked.

    Returns:
        `{"requested", "expected_platform", "platform", "onednn_enabled",
        "TF_ENABLE_ONEDNN_OPTS", "describe", "decided_by"}`.
    """
    import zoo
    from zoo import _launch

    expected = ONEDNN_SETTINGS.get(setting, {}).get("platform")
    return {
        "requested": setting,
        "expected_platform": expected,
        "platform": zoo.ops.tensorflow_platform(),
        "onednn_enabled": zoo.ops.onednn_enabled(),
        ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE),
        "describe": zoo.ops.describe(),
        "decided_by": _decided_by(setting) or _launch.decision,
    }


def _decided_by(setting):
    """Who set TF_ENABLE_ONEDNN_OPTS in a child of this benchmark, or None."""
    if os.environ.get(CHILD_VARIABLE) == setting and setting in ONEDNN_SETTINGS:
        return (f"{ONEDNN_VARIABLE}={os.environ.get(ONEDNN_VARIABLE)} set by the parent "
                f"{MODULE} for --onednn={setting}")
    return None


def seen_kernels(models):
    """Convolution/matmul executions of every traced path, summed by library,
    and each model's library per path."""
    totals = {"onednn": 0, "eigen": 0, "xla": 0, "onednn_ops": 0}
    per_model = {}
    for name, entry in models.items():
        for path, row in (entry.get("paths") or {}).items():
            counts = (row.get("evidence") or {}).get("kernels")
            if not counts or counts.get("library") is None:
                continue
            per_model.setdefault(name, {})[path] = counts["library"]
            for key in totals:
                totals[key] += counts.get(key, 0)
    return totals, per_model


def kernel_mismatch(setting, platform_read_back, seen):
    """Why the kernels that ran are not the ones `setting` asked for, or None.

    Args:
        setting: "on", "off" or "n/a".
        platform_read_back: `zoo.ops.tensorflow_platform()` in that process.
        seen: `{"onednn", "eigen", "onednn_ops"}` counts from the traces.

    >>> kernel_mismatch("on", "cpu/onednn", {"onednn": 9, "eigen": 1, "onednn_ops": 12}) is None
    True
    >>> kernel_mismatch("off", "cpu/eigen", {"onednn": 0, "eigen": 9, "onednn_ops": 2})
    '--onednn=off: the traces show 2 oneDNN (_Mkl*) op executions'
    >>> kernel_mismatch("on", "cpu/eigen", {"onednn": 0, "eigen": 9, "onednn_ops": 0})
    '--onednn=on asked for cpu/onednn, TensorFlow reports cpu/eigen'
    """
    if setting not in ONEDNN_SETTINGS:
        return None
    expected = ONEDNN_SETTINGS[setting]["platform"]
    if platform_read_back != expected:
        return f"--onednn={setting} asked for {expected}, TensorFlow reports {platform_read_back}"
    if setting == "on" and seen["eigen"] and not seen["onednn"]:
        return (f"--onednn=on: the traces show {seen['eigen']} Eigen convolution/matmul "
                "executions and no oneDNN ones")
    if setting == "off" and seen["onednn_ops"]:
        return f"--onednn=off: the traces show {seen['onednn_ops']} oneDNN (_Mkl*) op executions"
    return None


def setting_record(setting, measured, process):
    """One setting's record: what was measured, the kernels read back and seen."""
    read_back = kernels_read_back(setting)
    totals, per_model = seen_kernels(measured["models"])
    label = (ONEDNN_SETTINGS[setting]["label"] if setting in ONEDNN_SETTINGS
             else read_back["platform"] or measured["device"]["kind"])
    return {
        "setting": setting,
        "label": label,
        "kernels": {**read_back, "seen": totals, "seen_per_model": per_model,
                    "mismatch": kernel_mismatch(setting, read_back["platform"], totals)},
        "process": process,
        **measured,
    }


def child_command(setting, output_dir, *, models, paths, batch_size, repeats, steps, warmup,
                  min_repeat_s, resnet50_image_size, sequence_length, matmul_n,
                  profile_steps, kernel_trace_steps, seed, quick):
    """The command line of the child that measures `setting`: every
    measurement flag given explicitly, so that it measures what this one would."""
    cmd = [sys.executable, "-m", MODULE, f"--onednn={setting}", f"--output_dir={output_dir}",
           f"--models={','.join(models)}", f"--paths={','.join(paths)}",
           f"--batch_size={batch_size}", f"--repeats={repeats}", f"--steps={steps}",
           f"--warmup={warmup}", f"--min_repeat_s={min_repeat_s!r}",
           f"--resnet50_image_size={resnet50_image_size}",
           f"--sequence_length={sequence_length}", f"--matmul_n={matmul_n}",
           f"--profile_steps={profile_steps}", f"--kernel_trace_steps={kernel_trace_steps}",
           f"--seed={seed}"]
    return cmd + (["--quick"] if quick else [])


def child_env(setting, environ=None):
    """The environment of the child measuring `setting`."""
    env = dict(os.environ if environ is None else environ)
    env[ONEDNN_VARIABLE] = ONEDNN_SETTINGS[setting]["env"]
    env[CHILD_VARIABLE] = setting
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_child(cmd, env, workdir, log=None):
    """Runs one child; its stderr is echoed as it comes and its last lines kept.

    Its stdout (its own report) goes to `workdir/stdout.txt`, and the result
    it writes into `workdir` is read back.

    Returns:
        `(result or None, process record)`: the record holds `command`,
        `returncode`, `wall_s`, `first_line` (of its stdout), and, when it
        failed (non-zero exit, or no result written), `stderr_tail` and
        `reason`.
    """
    log = log or (lambda message: None)
    stdout_path = os.path.join(workdir, "stdout.txt")
    with open(stdout_path, "w", encoding="utf-8") as stdout:
        returncode, wall_s, tail = common.run_process(cmd, cwd=REPO, env=env, stdout=stdout,
                                                      tail_lines=STDERR_TAIL_LINES)
    record = {"mode": "child", "command": shlex.join(["python"] + cmd[1:]),
              "env": {k: env.get(k) for k in (ONEDNN_VARIABLE, CHILD_VARIABLE)},
              "returncode": returncode, "wall_s": wall_s}
    with open(stdout_path, encoding="utf-8", errors="replace") as f:
        record["first_line"] = f.readline().rstrip("\n") or None
    if record["first_line"]:
        log(f"child said: {record['first_line']}")
    result, problem = None, None
    paths = sorted(pathlib.Path(workdir).glob(f"{NAME}_*.json"))
    if paths:
        try:
            result = json.loads(paths[0].read_text(encoding="utf-8"))
        except ValueError as exc:
            problem = f"unreadable result {paths[0].name}: {exc}"
    elif returncode == 0:
        problem = f"exited 0 but wrote no {NAME}_<device>.json"
    if returncode != 0:
        problem = f"exit code {returncode}" + (f"; {problem}" if problem else "")
    if problem:
        record["reason"] = problem
        record["stderr_tail"] = tail
    return result, record


def headline_rows(settings, failed):
    """One row per setting and model: graph and XLA train examples/s, the best
    and the zoo's default path, the goal, and the kernels seen. A failed
    setting gives one row saying so."""
    rows = []
    for setting, record in settings.items():
        mismatch = record["kernels"].get("mismatch")
        for name, entry in record.get("models", {}).items():
            paths = entry["paths"]

            def train(path):
                row = paths.get(path) if path else None
                return row["train"]["examples_per_s"] if row and row.get("train") else None

            xla_row = paths.get("xla") or {}
            best, default = entry["best_train_path"], entry["zoo_default_path"]
            ratio = entry.get("zoo_default_vs_best")
            if train(best) and train(default):  # of the medians, as the child computed it
                ratio = train(default)["median"] / train(best)["median"]
            rows.append({
                "model": name, "setting": setting, "label": record["label"],
                "platform": record["kernels"]["platform"],
                "graph": train("graph"), "xla": train("xla"),
                "xla_refused": bool((xla_row.get("evidence") or {}).get("xla_refused")),
                "xla_error": xla_row.get("error"),
                "best": best, "zoo_default": default,
                "zoo_default_vs_best": ratio,
                "meets_goal": meets_default_goal(ratio),
                "kernels_seen": {p: (r["evidence"].get("kernels") or {}).get("library")
                                 for p, r in paths.items()
                                 if "kernels" in (r.get("evidence") or {})},
                "kernel_counts": {p: {k: r["evidence"]["kernels"].get(k)
                                      for k in ("onednn", "eigen", "xla")}
                                  for p, r in paths.items()
                                  if "kernels" in (r.get("evidence") or {})},
                "mismatch": mismatch,
            })
    for setting, record in failed.items():
        if setting not in settings:
            rows.append({"model": None, "setting": setting,
                         "label": ONEDNN_SETTINGS.get(setting, {}).get("label", setting),
                         "failed": record.get("reason") or "failed"})
    return rows


def goal_summary(rows):
    """`{"rule", "met", "missed", "unknown"}` over the headline rows: met is
    True when every model meets the goal under every setting, False when one
    misses it, None when none misses it but some could not be judged (a
    setting that failed, a default path that was not measured)."""
    missed = [f"{r['model']} ({r['label']})" for r in rows if r.get("meets_goal") is False]
    unknown = [f"{r['model'] or 'every model'} ({r['label']})" for r in rows
               if r.get("meets_goal") is None]
    return {"rule": f"zoo default path's train examples/s >= {GOAL_DEFAULT_VS_BEST} x the "
                    "best path's (medians), for every model and kernel library",
            "met": False if missed else (None if unknown or not rows else True),
            "missed": missed, "unknown": unknown}


def merge(settings, failed, plan, config, device, command, started=None):
    """The benchmark's result from each setting's record (see `run`)."""
    settings = {s: settings[s] for s in plan["settings"] if s in settings}
    failed = {s: failed[s] for s in plan["settings"] if s in failed}
    rows = headline_rows(settings, failed)
    device = dict(device)
    if plan["applicable"]:
        device["kernels"] = " and ".join(
            f"{ONEDNN_SETTINGS[s]['label']} (--onednn={s})" for s in plan["settings"]) + (
            ", one process each" if len(plan["settings"]) > 1 else "")
    return {
        "benchmark": NAME,
        "description": ("train-step and inference throughput of zoo models, eager vs graph "
                        "vs XLA, with oneDNN's CPU kernels and without; FLOPs, utilization "
                        "of the matmul peak, the default paths and the kernels that ran"),
        "command": command,
        "timestamp": common.utc_timestamp(),
        "device": device,
        "versions": common.versions(),
        "config": {**config, "onednn": list(plan["settings"]),
                   "wall_s": None if started is None else time.perf_counter() - started},
        "onednn": plan,
        "settings": settings,
        "failed": failed,
        "mismatches": {s: r["kernels"]["mismatch"] for s, r in settings.items()
                       if r["kernels"].get("mismatch")},
        "headline": rows,
        "goal": goal_summary(rows),
    }


def run(models, paths, batch_size, repeats, steps, warmup, min_repeat_s, resnet50_image_size,
        sequence_length, matmul_n, profile_steps, seed, quick, output_dir, onednn=None,
        kernel_trace_steps=0, plan=None):
    """Measures every setting of --onednn and writes the merged result.

    Each setting runs in a child process of its own (`python -m
    benchmarks.xla --onednn=SETTING ...` with TF_ENABLE_ONEDNN_OPTS set),
    one after the other, except a single setting that this process already
    runs (or a GPU/non-x86 host's one "n/a" setting), measured here.

    Returns:
        The result dict, also written as xla_<device>.json and .md.
    """
    started = time.perf_counter()
    plan = plan or onednn_plan(onednn)
    measure_args = dict(models=models, paths=paths, batch_size=batch_size, repeats=repeats,
                        steps=steps, warmup=warmup, min_repeat_s=min_repeat_s,
                        resnet50_image_size=resnet50_image_size,
                        sequence_length=sequence_length, matmul_n=matmul_n,
                        profile_steps=profile_steps, seed=seed,
                        kernel_trace_steps=kernel_trace_steps)
    settings, failed = {}, {}
    if measures_in_process(plan):
        here = plan["settings"][0]
        process = {"mode": "in-process", "pid": os.getpid(),
                   "env": {ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE)}}
        settings[here] = setting_record(here, measure(**measure_args), process)
        mismatch = settings[here]["kernels"]["mismatch"]
        if mismatch:
            _log(f"kernel mismatch: {mismatch}")
    else:
        with tempfile.TemporaryDirectory(prefix="xla_onednn_") as workdir:
            for i, setting in enumerate(plan["settings"], 1):
                child_dir = os.path.join(workdir, setting)
                os.makedirs(child_dir)
                cmd = child_command(setting, child_dir, quick=quick, **measure_args)
                _log(f"[{i}/{len(plan['settings'])}] --onednn={setting} "
                     f"({ONEDNN_VARIABLE}={ONEDNN_SETTINGS[setting]['env']}) in a child "
                     "process")
                child, record = run_child(cmd, child_env(setting), child_dir, log=_log)
                entry = (child or {}).get("settings", {}).get(setting)
                if entry is not None:
                    settings[setting] = {**entry, "process": {**entry.get("process", {}),
                                                              **record}}
                if record.get("reason") or entry is None:
                    record.setdefault("reason", f"its result holds no --onednn={setting} "
                                                "setting")
                    record.setdefault("stderr_tail", [])
                    failed[setting] = record
                    _log(f"--onednn={setting}: FAILED ({record['reason']}); the other "
                         "settings still run")
                elif settings[setting]["kernels"].get("mismatch"):
                    _log(f"kernel mismatch: {settings[setting]['kernels']['mismatch']}")
    config = {
        "models": list(models),
        "paths": list(paths),
        "batch_size": batch_size,
        "repeats": repeats,
        "steps": steps,
        "min_repeat_s": min_repeat_s,
        "warmup": warmup,
        "resnet50_image_size": resnet50_image_size,
        "sequence_length": sequence_length,
        "matmul_n": matmul_n,
        "profile_steps": profile_steps,
        "kernel_trace_steps": kernel_trace_steps,
        "seed": seed,
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
        "default_goal": (f"zoo default path >= {GOAL_DEFAULT_VS_BEST} x the best path "
                         "(train examples/s, medians), per model and kernel library"),
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
    result = merge(settings, failed, plan, config, common.device_info(),
                   common.command_line(MODULE), started=started)
    common.publish(NAME, result, render_markdown(result), output_dir,
                   result["device"]["kind"])
    return result


# --------------------------------------------------------------------------
# Report.


def _stats_cell(stats, fmt="{:.1f}"):
    return (f"{fmt.format(stats['median'])} "
            f"({fmt.format(stats['min'])}–{fmt.format(stats['max'])})")


def _ratio(value):
    return "n/a" if value is None else f"{value:.2f}"


def _yes_no(value):
    return "n/a" if value is None else ("yes" if value else "no")


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
            xla_cell = _stats_cell(r["xla"])
        elif r["xla_refused"]:
            xla_cell = "refused (runs graph)"
        elif r["xla_error"]:
            error = r["xla_error"]
            xla_cell = "error: " + (error if len(error) <= 60 else error[:59] + "…")
        else:
            xla_cell = "n/a"
        label = r["label"] + (" ⚠ kernel mismatch" if r["mismatch"] else "")
        rows.append([r["model"], label,
                     _stats_cell(r["graph"]) if r["graph"] else "n/a", xla_cell,
                     r["best"] or "n/a", r["zoo_default"] or "n/a",
                     _ratio(r["zoo_default_vs_best"]), _yes_no(r["meets_goal"]),
                     kernels_cell(r)])
    return common.markdown_table(
        ["model", "kernels", "graph train ex/s", "XLA train ex/s", "best",
         "zoo default", "default / best", f"≥ {GOAL_DEFAULT_VS_BEST}", "kernels seen"],
        rows, align="llrrllrcl")


def render_setting(record):
    """One setting's section: where it ran, its table, defaults and profile."""
    dev, mm, kernels = record["device"], record["matmul"], record["kernels"]
    rows = []
    for name, entry in record["models"].items():
        for path, row in entry["paths"].items():
            label = path if row["requested"] else f"{path} (default)"
            ev = row["evidence"]
            ran = ev.get("ran", "?")
            if ev.get("xla_refused"):
                ran += " (XLA refused)"
            if row["error"] and not row["train"]:
                error = row["error"] if len(row["error"]) <= 100 else row["error"][:99] + "…"
                rows.append([name, label, ran, f"error: {error}", "", "", "", "", "", ""])
                continue
            train, infer = row["train"], row["inference"]
            rows.append([
                name, label, ran,
                _stats_cell(train["examples_per_s"]) if train else "n/a",
                (_stats_cell(train["ratio_vs_graph"], "{:.2f}")
                 if train and train["ratio_vs_graph"] else "n/a"),
                _stats_cell(infer["examples_per_s"]) if infer else "n/a",
                (_stats_cell(infer["ratio_vs_graph"], "{:.2f}")
                 if infer and infer["ratio_vs_graph"] else "n/a"),
                (f"{train['compile_s']:.1f} / {infer['compile_s']:.1f}"
                 if train and infer else "n/a"),
                f"{100 * row['utilization']:.1f}%" if row["utilization"] is not None else "n/a",
                (_stats_cell({k: 100 * v for k, v in row["utilization_same_repeat"].items()
                              if k != "per_repeat"}, "{:.1f}") + "%"
                 if row["utilization_same_repeat"] else "n/a"),
            ])
    table = common.markdown_table(
        ["model", "path", "ran", "train ex/s median (min–max)", "train vs graph",
         "inference ex/s median (min–max)", "inference vs graph", "compile s (train / infer)",
         "utilization", "utilization, same-repeat peak"], rows, align="lllrrrrrrr")
    defaults = []
    for name, e in record["models"].items():
        gflop = e["train_flops_per_example"]
        defaults.append(
            f"- {name}: best {e['best_train_path']}, zoo default {e['zoo_default_path']}, "
            f"keras default {e['keras_default_path']}; zoo default / best = "
            f"{_ratio(e['zoo_default_vs_best'])} (≥ {GOAL_DEFAULT_VS_BEST}: "
            f"{_yes_no(e.get('meets_default_goal'))}), zoo default / keras default = "
            f"{_ratio(e['zoo_default_vs_keras_default'])}"
            + (f"; {gflop / 1e6:,.1f} train MFLOP/example" if gflop else "")
            + (f"; >= 75% goal met: {'yes' if e['meets_75pct_goal'] else 'no'}"
               if e["meets_75pct_goal"] is not None else ""))
        traced = {p: r["evidence"]["kernels"] for p, r in e["paths"].items()
                  if "kernels" in r["evidence"]}
        if traced:
            defaults.append("  - kernels seen (convolution/matmul executions in "
                            f"{next(iter(traced.values())).get('steps', '?')} traced train "
                            "step(s)): " + "; ".join(
                                f"{p} " + (f"trace failed: {k['error']}" if k.get("error") else
                                           ", ".join(f"{t} ×{n}" for t, n in
                                                     list(k["op_types"].items())[:6])
                                           or "none")
                                for p, k in traced.items()))
        profile = e.get("op_time_profile")
        if profile and "error" not in profile:
            top = ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                            list(profile["by_op_type"].items())[:8])
            defaults.append(
                f"  - where {name}'s {GOAL_PATH}-path train step spends its op time "
                f"({profile['steps']} profiled steps): convolutions "
                f"{100 * profile['convolution_share']:.0f}%, everything else "
                f"{100 * profile['other_share']:.0f}%; by op type: {top}")
            if profile.get("convolution_utilization_estimate") is not None:
                defaults.append(
                    f"  - convolutions are {100 * profile['convolution_flops_share']:.1f}% of "
                    f"the FLOPs in {100 * profile['convolution_share']:.0f}% of the op time: "
                    f"alone they run at about "
                    f"{100 * profile['convolution_utilization_estimate']:.0f}% of the matmul "
                    f"peak")
        elif profile:
            defaults.append(f"  - op-time profile failed: {profile['error']}")
    threads = dev["threads"]
    load = record["load_average"]
    process = record.get("process") or {}
    seen = kernels["seen"]
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
        f"- device: {dev['kind']}, {dev['name']}"
        + ("" if dev["gpu_found"] else " (no GPU found)") + f"; kernels: {dev['kernels']}",
        f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}"
        + (f"; load average start {load['start'][0]:.2f}, end {load['end'][0]:.2f}"
           if load["start"] and load["end"] else ""),
        f"- matmul peak (fp32 {mm['n']}x{mm['n']}): {_stats_cell(mm['gflops'])} GFLOP/s "
        f"(median, min–max, pooled: before the models "
        f"{mm['gflops_before']['median']:.1f}, in turn with their training repeats "
        + (f"{mm['gflops_during']['median']:.1f}" if mm["gflops_during"] else "n/a")
        + f", after {mm['gflops_after']['median']:.1f})",
        "",
        table,
        "",
        *defaults,
    ]
    return "\n".join(lines)


def render_markdown(result):
    """The report: context, the headline table, then one section per setting."""
    cfg, dev, ver = result["config"], result["device"], result["versions"]
    plan = result["onednn"]
    goal = result["goal"]
    notes = []
    if goal["met"] is True:
        notes.append(f"- goal (zoo default ≥ {GOAL_DEFAULT_VS_BEST} x best, every model and "
                     "kernel library): met")
    elif goal["met"] is False:
        notes.append(f"- goal (zoo default ≥ {GOAL_DEFAULT_VS_BEST} x best): **missed** for "
                     + ", ".join(goal["missed"])
                     + (f"; not judged: {', '.join(goal['unknown'])}" if goal["unknown"]
                        else ""))
    else:
        notes.append(f"- goal (zoo default ≥ {GOAL_DEFAULT_VS_BEST} x best): not judged for "
                     + ", ".join(goal["unknown"] or ["any model"]))
    for setting, message in result["mismatches"].items():
        notes.append(f"- **kernel mismatch** (--onednn={setting}): {message}")
    for setting, record in result["failed"].items():
        notes.append(f"- **--onednn={setting} failed**: {record.get('reason', 'failed')}"
                     + (f"; last stderr line: `{record['stderr_tail'][-1]}`"
                        if record.get("stderr_tail") else ""))
    lines = [
        "# Eager vs graph vs XLA per CPU kernel library: train and inference throughput, "
        "utilization",
        "",
        *(["**Smoke figures (--quick): reduced sizes, batch, steps and repeats; do not "
           "quote.**", ""] if cfg["quick"] else []),
        f"- device: {dev['kind']}, {dev['name']}"
        + ("" if dev["gpu_found"] else " (no GPU found)") + f"; kernels: {dev['kernels']}",
        "- kernel libraries: "
        + (", ".join(f"--onednn={s} ({ONEDNN_VARIABLE}={ONEDNN_SETTINGS[s]['env']}: "
                     f"{ONEDNN_SETTINGS[s]['label']})" for s in plan["settings"])
           + f"; {plan['reason']}" if plan["applicable"] else f"not varied: {plan['reason']}"),
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}",
        "- paths: " + "; ".join(f"{p}: compile({c})" for p, c in cfg["paths_compile"].items()),
        f"- batch {cfg['batch_size']}; resnet50 at {cfg['resnet50_image_size']}x"
        f"{cfg['resnet50_image_size']}x3, text_rnn texts padded to {cfg['sequence_length']} "
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
        lines += ["", render_setting(record)]
    lines += [
        "",
        "\"ran\" is read back from the compiled model and its traced train step "
        "(`_XlaMustCompile`); \"(default)\" marks a path measured only because it is a "
        "default. Ratios are examples/s over graph mode's within each repeat (> 1: faster). "
        "zoo default = `model.compile(optimizer, loss)` without jit_compile; keras default = "
        "`keras.Model.compile(model, ...)`."
        + (" An xla row that Keras refused runs the same graph as the graph row: its ratio "
           "to graph shows this run's noise floor (turn order included)."
           if any(r["evidence"].get("xla_refused") for s in result["settings"].values()
                  for e in s["models"].values() for r in e["paths"].values()) else ""),
    ]
    return "\n".join(lines) + "\n"


def parse_onednn(values):
    """--onednn's settings, or None for the default; a usage error naming the
    flag and the bad value otherwise."""
    if values is None:
        return None
    settings = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    unknown = [v for v in settings if v not in ONEDNN_SETTINGS]
    if not settings or unknown:
        raise app.UsageError(f"--onednn={','.join(values)}: unknown setting(s) "
                             f"{','.join(unknown) or '(none given)'}; choose from "
                             f"{','.join(ONEDNN_SETTINGS)}")
    return settings


def check_flags(flag_values=FLAGS):
    """What absl's parser cannot check, before any work.

    Applies --quick's presets; checks the lists, the repeats of a full run
    and that --output_dir can be written.

    Returns:
        dict: models, paths, onednn (the settings or None), output_dir.

    Raises:
        app.UsageError: naming the flag and the value received.
    """
    fv = flag_values
    models = list(dict.fromkeys(m.strip() for m in fv.models if m.strip()))
    unknown = [m for m in models if m not in MODELS]
    if not models or unknown:
        raise app.UsageError(f"--models={','.join(fv.models)}: unknown model(s) "
                             f"{','.join(unknown) or '(none given)'}; choose from "
                             f"{','.join(MODELS)}")
    paths = list(dict.fromkeys(p.strip() for p in fv.paths if p.strip()))
    unknown = [p for p in paths if p not in PATHS]
    if not paths or unknown:
        raise app.UsageError(f"--paths={','.join(fv.paths)}: unknown path(s) "
                             f"{','.join(unknown) or '(none given)'}; choose from "
                             f"{','.join(PATHS)}")
    onednn = parse_onednn(fv.onednn)
    if fv.quick:
        common.apply_quick(fv, QUICK)
    elif fv.repeats < MIN_REPEATS:
        raise app.UsageError(f"--repeats={fv.repeats}: at least {MIN_REPEATS} repeats "
                             "for a full run (use --quick for a smoke run)")
    return {"models": models, "paths": paths, "onednn": onednn,
            "output_dir": common.validate_output_dir(fv.output_dir)}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    checked = check_flags(FLAGS)
    models, paths, onednn = checked["models"], checked["paths"], checked["onednn"]
    output_dir = checked["output_dir"]
    plan = onednn_plan(onednn)
    line = common.launch_line(MODULE, why=_decided_by(plan["settings"][0]))
    if not plan["applicable"]:
        line += f"; oneDNN setting not varied ({plan['reason'].split(':')[0]})"
    elif not measures_in_process(plan):
        line += ("; measuring --onednn=" + ",".join(plan["settings"]) + ": "
                 + " and ".join(ONEDNN_SETTINGS[s]["label"] for s in plan["settings"])
                 + (" kernels, each in a child process of its own"
                    if len(plan["settings"]) > 1 else " kernels, in a child process"))
    print(line, flush=True)
    if plan["requested"] and not plan["applicable"]:
        _log(plan["reason"])
    result = run(models=models, paths=[p for p in PATHS if p in paths],
                 batch_size=FLAGS.batch_size, repeats=FLAGS.repeats, steps=FLAGS.steps,
                 warmup=FLAGS.warmup, min_repeat_s=FLAGS.min_repeat_s,
                 resnet50_image_size=FLAGS.resnet50_image_size,
                 sequence_length=FLAGS.sequence_length, matmul_n=FLAGS.matmul_n,
                 profile_steps=FLAGS.profile_steps, seed=FLAGS.seed, quick=FLAGS.quick,
                 output_dir=output_dir, kernel_trace_steps=FLAGS.kernel_trace_steps,
                 plan=plan)
    if result["failed"]:
        _log("failed: " + ", ".join(f"--onednn={s} ({r['reason']})"
                                    for s, r in result["failed"].items()))
        return 1
    return 0


if __name__ == "__main__":
    define_flags()
    _cli.run(main, MODULE)
