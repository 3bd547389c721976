"""Eager vs graph vs XLA per CPU kernel library: throughput, utilization, default paths.

Usage: `python -m benchmarks.xla [--quick] [--onednn=on] [--models=resnet50 --paths=graph,xla]`.
"""

import collections
import functools
import json
import math
import os
import pathlib
import platform
import tempfile
import time

import keras
import numpy as np
import opt_einsum
import tensorflow as tf

import zoo
from benchmarks import common
from zoo import _launch
from zoo.train import jit
from zoo.train.jit import choose_faster  # the trainer's rule for the faster path

NAME = "xla"
TITLE = "XLA: eager vs graph vs XLA train throughput"
NUM_CLASSES = 10
PATHS = {"eager": {"run_eagerly": True, "jit_compile": False},  # in turn order
         "graph": {"jit_compile": False}, "xla": {"jit_compile": True}}
BASELINE, MATMUL = "graph", "matmul"
GOAL_MODEL, GOAL_PATH, GOAL_UTILIZATION, GOAL_DEFAULT_VS_BEST = "resnet50", "graph", 0.75, 0.95
ONEDNN_VARIABLE, CHILD_VARIABLE = "TF_ENABLE_ONEDNN_OPTS", "BENCHMARKS_XLA_CHILD"
ONEDNN_SETTINGS = {"on": {"env": "1", "platform": "cpu/onednn", "label": "oneDNN"},
                   "off": {"env": "0", "platform": "cpu/eigen", "label": "Eigen"}}
CONV_AND_MATMUL_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
                       "DepthwiseConv2dNative", "MatMul", "FusedMatMul", "_FusedMatMul",
                       "BatchMatMulV2", "BatchMatMulV3")
MIN_REPEATS = 5
LAUNCH = False  # run() says which settings run where
DEFAULTS = {"warmup": 2}
FLAGS = {
    "models": common.MODELS_FLAG,
    "paths": common.flag(list(PATHS), "Paths to measure (and the default ones).",
                         choices=list(PATHS)),
    "batch_size": common.flag(32, "Examples per step."),
    "steps": common.flag(3, "Least steps per timed repeat."),
    "min_repeat_s": common.flag(1.0, "Least seconds per timed repeat.", lower_bound=0.0),
    "image_size": common.flag(64, "Largest height and width of an image model's input.",
                              lower_bound=32),
    "sequence_length": common.flag(64, "Words per text of a text model.", lower_bound=16),
    "matmul_n": common.flag(2048, "N of the N x N fp32 matmul, the peak.", lower_bound=64),
    "profile_steps": common.flag(3, f"{GOAL_MODEL} {GOAL_PATH}-path train steps profiled for "
                                 "op-time shares; 0: none.", lower_bound=0),
    "kernel_trace_steps": common.flag(2, "Train steps per compiled path profiled for the "
                                      "kernels that ran; 0: none.", lower_bound=0),
    "onednn": common.flag(None, "CPU kernel libraries, each in a process of its own: on "
                          "(oneDNN), off (Eigen); default both on x86-64, else not varied.",
                          kind="list", choices=list(ONEDNN_SETTINGS)),
}
QUICK = {"repeats": 2, "steps": 2, "warmup": 1, "min_repeat_s": 0.0, "batch_size": 8,
         "image_size": 32, "sequence_length": 32, "matmul_n": 1024, "profile_steps": 1,
         "kernel_trace_steps": 1, "models": common.smallest_models}
log = common.logger(NAME)


BATCH_MATMULS = ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")


def einsum_flops(equation, input_shapes):
    """FLOPs of one Einsum by opt_einsum's cost model (the profiler counts none).

    >>> einsum_flops("nhwc,hwck->nk", [(8, 4, 4, 1), (4, 4, 1, 32)])
    8192
    """
    _, info = opt_einsum.contract_path(equation, *input_shapes, shapes=True, optimize=False)
    return int(info.naive_cost)


def batch_matmul_flops(a_shape, output_shape, adj_x):
    """FLOPs of one BatchMatMul: 2 x contraction x outputs.

    The profiler's count takes the contraction from `a`'s last axis even
    when `adj_x` makes it the one before (the weight gradients of a Dense on
    3D inputs), which multiplied a ViT's train-step FLOPs by 24.

    >>> batch_matmul_flops([8, 17, 192], [8, 192, 768], adj_x=True)
    40108032
    """
    return 2 * a_shape[-2 if adj_x else -1] * math.prod(output_shape)


def graph_flops(graph):
    """`(total, by_op_type)`: the profiler's float operations of a graph, plus its Einsums.

    Einsums (which the profiler counts as none) and BatchMatMuls (which it
    miscounts) are counted here, from their static shapes.
    """
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    by_type = collections.Counter()
    stack = list(tf.compat.v1.profiler.profile(graph=graph, cmd="op", options=options).children)
    while stack:  # the "op" view: a chain, one node per op type
        node = stack.pop()
        by_type[node.name] += int(node.float_ops)
        stack.extend(node.children)
    for op_type in BATCH_MATMULS:
        by_type.pop(op_type, None)
    for op in graph.get_operations():
        shapes = [t.shape for t in op.inputs]
        if not all(s.is_fully_defined() for s in shapes):
            continue
        if op.type == "Einsum":
            by_type["Einsum"] += einsum_flops(op.get_attr("equation").decode(),
                                              [s.as_list() for s in shapes])
        elif op.type in BATCH_MATMULS and op.outputs[0].shape.is_fully_defined():
            by_type[op.type] += batch_matmul_flops(shapes[0].as_list(),
                                                   op.outputs[0].shape.as_list(),
                                                   op.get_attr("adj_x"))
    by_type = {k: v for k, v in by_type.most_common() if v}
    return sum(by_type.values()), by_type


def weight_flops(model, time_steps):
    """`(recurrent, dense)` forward FLOPs per example, from the weights."""
    weights = {w.path: w for w in model.weights}
    recurrent = dense = 0
    for path, w in weights.items():
        if path.endswith("/recurrent_kernel"):
            kernel = weights[path[:-len("recurrent_kernel")] + "kernel"]
            recurrent += time_steps * (2 * (math.prod(kernel.shape) + math.prod(w.shape))
                                       + int(w.shape[-1]))
        elif path.endswith("/kernel") and path[:-6] + "recurrent_kernel" not in weights:
            dense += 2 * math.prod(w.shape)
    return recurrent, dense


def flops_per_example(model, x, y, batch_size, time_steps):
    """Forward and training FLOPs per example, and how they were counted."""
    recurrent, dense = weight_flops(model, time_steps)
    result = {"train_graph_flops_per_example": None, "flops_by_op_type": None}
    if recurrent:
        return {**result, "forward_flops_per_example": float(recurrent + dense),
                "train_flops_per_example": 3.0 * (recurrent + dense),
                "flops_method": "analytic from the weights (recurrent matmuls and bias at "
                                "every padded step, the dense layers); training = 3 x forward"}
    forward, _ = graph_flops(tf.function(lambda inputs: model(inputs, training=False))
                             .get_concrete_function(x).graph)
    result.update(forward_flops_per_example=forward / batch_size,
                  train_flops_per_example=3 * forward / batch_size,
                  flops_method="TensorFlow profiler on model(x); training = 3 x forward")
    try:
        concrete, source = common.traced_train_step(model, x, y)
        train, by_type = graph_flops(concrete.graph)
    except Exception as exc:  # noqa: BLE001 - the 3 x forward convention stands
        return {**result, "train_graph_error": common.first_line(exc)}
    if train > forward:
        result.update(train_flops_per_example=train / batch_size,
                      train_graph_flops_per_example=train / batch_size,
                      flops_method=f"TensorFlow profiler on the traced train step ({source}) "
                                   "and on model(x)",
                      flops_by_op_type={k: v / batch_size for k, v in by_type.items()})
    return result


def op_time_shares(events):
    """Shares of op (thread) time by op type, `_Mkl*` prefixes stripped, of `(event_name,
    seconds, is_xla)`; XLA, calls and executor bookkeeping skipped.

    >>> shares = op_time_shares([("c:_MklNativeConv2D", 3.0, False), ("m:Mul", 1.0, False),
    ...                          ("ExecutorState::Process", 9.0, False), ("dot.1", 5.0, True)])
    >>> shares["by_op_type"], shares["convolution_share"]
    ({'Conv2D': 0.75, 'Mul': 0.25}, 0.75)
    """
    seconds = collections.Counter()
    for name, duration, is_xla in events:
        op = name.rsplit(":", 1)[-1].strip()
        if not is_xla and "::" not in name and ":" in name and not op.startswith("__") \
                and not op.endswith("PartitionedCall"):
            for prefix in common.ONEDNN_PREFIXES:
                op = op[len(prefix):] if op.startswith(prefix) else op
            seconds[op] += duration
    total = sum(seconds.values())
    if total <= 0:
        raise ValueError("no op events with a duration in the profile")
    shares = {k: v / total for k, v in seconds.most_common()}
    conv = sum(v for k, v in shares.items()
               if k in CONV_AND_MATMUL_OPS or k.startswith("FusedConv2D"))
    return {"op_seconds": total, "by_op_type": dict(list(shares.items())[:12]),
            "convolution_share": conv, "other_share": 1.0 - conv}


def build_model(name, overrides, seed):
    """A seeded zoo model, as `zoo.train` builds it."""
    keras.utils.set_random_seed(seed)
    return zoo.create_model(name, num_classes=NUM_CLASSES, **overrides)


def _sgd():
    return {"optimizer": keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}


def matmul_gflops(n, steps, repeat_s):
    """GFLOP/s of each timed block of `steps` N x N matmuls.

    >>> matmul_gflops(1000, 2, [4.0, 1.0])
    [1.0, 4.0]
    """
    return [2.0 * n ** 3 * steps / s / 1e9 for s in repeat_s]


def _timed(candidates, args, log=log):
    return common.time_repeats(candidates, steps=args["steps"], repeats=args["repeats"],
                               warmup=args["warmup"], min_repeat_s=args["min_repeat_s"], log=log)


def run_model(name, args, matmul, device):
    """Measures one model on its paths, the matmul in turn; returns its JSON entry."""
    batch_size, seed, size = args["batch_size"], args["seed"], args["image_size"]
    overrides = {"sequence_length": args["sequence_length"]}  # a text model's padded length
    if common.modality(name) == "image":  # at most `image_size` square, channels last
        *spatial, channels = build_model(name, {}, seed).input_signature.shape[1:]
        overrides = {"input_shape": (*(min(d or size, size) for d in spatial), channels),
                     "data_format": "channels_last"}
    probe = build_model(name, overrides, seed)
    inputs = probe.example_inputs(batch_size=batch_size, seed=seed)
    with tf.device(device):
        x = tf.constant(inputs)
        y = tf.constant(np.random.default_rng(seed).integers(0, NUM_CLASSES, batch_size), tf.int32)
    probe.adapt(inputs)
    defaults_warnings = []
    with common.recording_warnings(defaults_warnings):  # what compile() picks, unasked
        probe.compile(**_sgd())
        zoo_default = common.path_of(probe)
        keras.Model.compile(probe, **_sgd())
        keras_default = common.path_of(probe)
    measured = [p for p in PATHS if p in args["paths"] or p in (zoo_default, keras_default)]
    log(f"{name}: zoo default {zoo_default}, keras default {keras_default}")

    cells, candidates = {}, {"train": {}, "inference": {}}
    for path in measured:
        cell = cells[path] = {"model": None, "warnings": [], "error": None, "build_s": None}
        start = time.perf_counter()
        try:
            with common.recording_warnings(cell["warnings"]):
                model = build_model(name, overrides, seed)
                model.adapt(inputs)
                model.compile(**_sgd(), **PATHS[path])
        except Exception as exc:  # noqa: BLE001 - reported per path
            cell["error"] = common.first_line(exc)
            continue
        cell.update(model=model, build_s=time.perf_counter() - start)
        candidates["train"][path] = common.GuardedStep(lambda m=model: m.train_on_batch(x, y),
                                                       cell["warnings"])
        candidates["inference"][path] = common.GuardedStep(lambda m=model: m.predict_on_batch(x),
                                                           cell["warnings"])
    if candidates["train"]:
        candidates["train"][MATMUL] = common.GuardedStep(matmul)
    timings = {kind: _timed(c, args, lambda m, k=kind: log(f"{name} {k}: {m}")) if c else {}
               for kind, c in candidates.items()}
    mm = candidates["train"].get(MATMUL)
    interleaved = mm and not mm.error and matmul_gflops(
        args["matmul_n"], timings["train"][MATMUL]["steps"], timings["train"][MATMUL]["repeat_s"])
    ips = {kind: {} for kind in candidates}
    for kind, c in candidates.items():
        for path, guard in c.items():
            if guard.error and path != MATMUL:
                cells[path]["error"] = cells[path]["error"] or guard.error
            elif path != MATMUL:
                t = timings[kind][path]
                ips[kind][path] = common.throughputs(t["repeat_s"], batch_size * t["steps"])

    flops_model = next((cells[p]["model"] for p in ("graph", "xla", "eager")
                        if p in cells and cells[p]["model"] and not cells[p]["error"]), None)
    flops = dict.fromkeys(("forward_flops_per_example", "train_flops_per_example",
                           "train_graph_flops_per_example", "flops_method", "flops_by_op_type"))
    if flops_model is not None:
        flops = common.attempt(lambda: flops_per_example(
            flops_model, x, y, batch_size, args["sequence_length"]), "flops_error", **flops)
    tfl = flops["train_flops_per_example"]

    rows = {}
    for path in measured:
        model, evidence = cells[path]["model"], {"warnings": cells[path]["warnings"]}
        if model is not None:
            evidence = {**common.path_evidence(model, x, y, PATHS[path]["jit_compile"],
                                               weight_flops(model, 1)[0] > 0), **evidence}
        evidence["xla_refused"] = bool(PATHS[path]["jit_compile"] and model is not None
                                       and evidence.get("ran") != "xla")
        row = rows[path] = {"requested": path in args["paths"], "build_s": cells[path]["build_s"]}
        for kind in ("train", "inference"):
            t, base = timings[kind].get(path), ips[kind].get(BASELINE)
            row[kind] = {"examples_per_s": common.summarize(ips[kind][path]),
                         "examples_per_s_per_repeat": ips[kind][path],
                         "compile_s": t["first_step_s"], "steps_per_repeat": t["steps"],
                         "repeat_s": t["repeat_s"], "ratio_vs_graph": base and common.ratio_stats(
                             ips[kind][path], base)} if path in ips[kind] else None
        same = row["train"] and tfl and interleaved and common.ratio_stats(
            [tfl * v / 1e9 for v in ips["train"][path]], interleaved)
        row.update(utilization=None, inference_utilization=None,
                   utilization_same_repeat=same or None, evidence=evidence,
                   error=cells[path]["error"])
        if args["kernel_trace_steps"] and path != "eager" and row["train"] and not row["error"]:
            evidence["kernels"] = common.attempt(lambda: common.read_trace(
                lambda: model.train_on_batch(x, y), args["kernel_trace_steps"],
                common.kernel_counts), library=None)

    profile, goal = None, cells.get(GOAL_PATH) or {}
    if name == GOAL_MODEL and args["profile_steps"] and goal.get("model") and not goal["error"]:
        profile = common.attempt(lambda: common.read_trace(
            lambda: goal["model"].train_on_batch(x, y), args["profile_steps"], op_time_shares))

    def median(path):
        row = rows.get(path)
        return row["train"]["examples_per_s"]["median"] if row and row["train"] else None

    eligible = {p: batch_size / median(p) for p in jit.PATHS if median(p)
                and not rows[p]["error"] and not rows[p]["evidence"]["xla_refused"]}
    best = choose_faster(eligible) if eligible else None
    vs_best = median(zoo_default) / median(best) if best and median(zoo_default) else None
    return {"input_shape": list(probe.input_signature.shape[1:])
            if probe.modality == "image" else ["string"], "batch_size": batch_size,
            "params": flops_model and int(flops_model.count_params()), **flops,
            "matmul_gflops_same_repeats_per_repeat": interleaved or None, "paths": rows,
            "best_train_path": best, "zoo_default_path": zoo_default,
            "keras_default_path": keras_default, "defaults_warnings": defaults_warnings,
            "zoo_default_vs_best": vs_best, "meets_default_goal": meets_default_goal(vs_best),
            "zoo_default_vs_keras_default": median(zoo_default) / median(keras_default)
            if median(zoo_default) and median(keras_default) else None,
            "meets_75pct_goal": None, "op_time_profile": profile}


def measure(args):
    """Every model in this process, and the matmul peak before, among and after them."""
    device, started = common.device_info(), time.perf_counter()
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    rng = np.random.default_rng(args["seed"])
    with tf.device(common.tf_device(device)):
        a, b = (tf.constant(rng.standard_normal((args["matmul_n"],) * 2), tf.float32)
                for _ in range(2))
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))  # a scalar to fetch
    matmul = functools.partial(product, a, b)

    def peak():
        guard = common.GuardedStep(matmul)
        t = _timed({MATMUL: guard}, args, log=lambda m: None)[MATMUL]
        if guard.error:
            raise RuntimeError(f"the matmul peak could not be measured: {guard.error}")
        return matmul_gflops(args["matmul_n"], t["steps"], t["repeat_s"]), t["steps"]

    before, steps = peak()
    models = {name: run_model(name, args, matmul, common.tf_device(device))
              for name in args["models"]}
    after = peak()[0]
    during = [g for e in models.values() for g in e["matmul_gflops_same_repeats_per_repeat"] or []]
    pooled = common.summarize(before + during + after)
    for name, entry in models.items():  # utilization against the pooled peak
        tfl, ffl = entry["train_flops_per_example"], entry["forward_flops_per_example"]
        for row in entry["paths"].values():
            for key, kind, flops in (("utilization", "train", tfl),
                                     ("inference_utilization", "inference", ffl)):
                if row[kind] and flops:
                    row[key] = flops * row[kind]["examples_per_s"]["median"] / (
                        pooled["median"] * 1e9)
        goal, profile = entry["paths"].get(GOAL_PATH), entry["op_time_profile"]
        if name == GOAL_MODEL and goal and goal["utilization"] is not None:
            entry["meets_75pct_goal"] = bool(goal["utilization"] >= GOAL_UTILIZATION)
            by_type = entry["flops_by_op_type"]
            if profile and "error" not in profile and by_type and tfl:
                # This share of the FLOPs in convolution_share of the time: this much of the peak.
                share = sum(v for k, v in by_type.items() if k in CONV_AND_MATMUL_OPS) / tfl
                profile.update(convolution_flops_share=share, convolution_utilization_estimate=(
                    goal["utilization"] * share / profile["convolution_share"]))
    return {"device": device, "load_average": {"start": load, "end": load and list(
                os.getloadavg())}, "wall_s": time.perf_counter() - started,
            "matmul": {"n": args["matmul_n"], "steps_per_repeat": steps, "gflops": pooled,
                       "gflops_before": common.summarize(before),
                       "gflops_during": during and common.summarize(during) or None,
                       "gflops_after": common.summarize(after),
                       "gflops_per_repeat": before + during + after},
            "models": models}


def current_setting():
    return "on" if zoo.ops.onednn_enabled() else "off"


def onednn_plan(requested=None, gpu=None, machine=None):
    """`{"applicable", "settings", "requested", "reason"}`: on an x86-64 CPU the settings asked for
    (default on, off); elsewhere one, "n/a".

    >>> onednn_plan(None, gpu=False, machine="x86_64")["settings"]
    ['on', 'off']
    >>> onednn_plan(["on"], gpu=True, machine="x86_64")["settings"]
    ['n/a']
    """
    gpu = bool(tf.config.list_physical_devices("GPU")) if gpu is None else gpu
    machine = (machine or platform.machine()).lower()
    if not gpu and machine in ("x86_64", "amd64"):
        return {"applicable": True, "settings": list(requested or ONEDNN_SETTINGS),
                "requested": requested,
                "reason": "x86-64 CPU host: TensorFlow runs oneDNN's CPU kernels or its own "
                          f"(Eigen), chosen by {ONEDNN_VARIABLE} when it is imported; each "
                          "setting is measured in a process of its own"}
    return {"applicable": False, "settings": ["n/a"], "requested": requested,
            "reason": ("GPU host: the models run on the GPU; oneDNN, a CPU kernel library, is "
                       "not varied" if gpu else f"{machine} CPU: the oneDNN setting is varied "
                       "on x86-64 CPUs only")
            + (f" (--onednn={','.join(requested)} ignored)" if requested else "")}


def decided_by(setting):
    """Who set TF_ENABLE_ONEDNN_OPTS in a child of this benchmark, or None."""
    if os.environ.get(CHILD_VARIABLE) == setting and setting in ONEDNN_SETTINGS:
        return (f"{ONEDNN_VARIABLE}={os.environ.get(ONEDNN_VARIABLE)} set by the parent "
                f"benchmarks.{NAME} for --onednn={setting}")
    return None


def kernel_mismatch(setting, read_back, seen):
    """Why the kernels that ran are not the ones `setting` asked for, or None.

    >>> kernel_mismatch("off", "cpu/eigen", {"onednn": 0, "eigen": 9, "onednn_ops": 2})
    '--onednn=off: the traces show 2 oneDNN (_Mkl*) op executions'
    """
    expected = ONEDNN_SETTINGS.get(setting, {}).get("platform")
    if expected and read_back != expected:
        return f"--onednn={setting} asked for {expected}, TensorFlow reports {read_back}"
    if setting == "on" and seen["eigen"] and not seen["onednn"]:
        return (f"--onednn=on: the traces show {seen['eigen']} Eigen convolution/matmul "
                "executions and no oneDNN ones")
    if setting == "off" and seen["onednn_ops"]:
        return f"--onednn=off: the traces show {seen['onednn_ops']} oneDNN (_Mkl*) op executions"
    return None


def setting_record(setting, measured, process):
    """One setting's record: what was measured, the kernels read back and seen."""
    traced = [c for e in measured["models"].values() for r in e["paths"].values()
              if (c := r["evidence"].get("kernels") or {}).get("library") is not None]
    seen = {k: sum(c.get(k, 0) for c in traced) for k in ("onednn", "eigen", "xla", "onednn_ops")}
    read_back = zoo.ops.tensorflow_platform()
    return {"setting": setting, "label": ONEDNN_SETTINGS.get(setting, {}).get(
                "label", read_back or measured["device"]["kind"]),
            "kernels": {"requested": setting, "platform": read_back,
                        "expected_platform": ONEDNN_SETTINGS.get(setting, {}).get("platform"),
                        "onednn_enabled": zoo.ops.onednn_enabled(),
                        ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE),
                        "describe": zoo.ops.describe(),
                        "decided_by": decided_by(setting) or _launch.decision,
                        "seen": seen, "mismatch": kernel_mismatch(setting, read_back, seen)},
            "process": process, **measured}


def run_child(cmd, env, workdir):
    """Runs one child; returns `(the result it wrote or None, its process record)`."""
    stdout_path = pathlib.Path(workdir) / "stdout.txt"
    with open(stdout_path, "w", encoding="utf-8") as stdout:
        record, wrote = common.run_benchmark(cmd, workdir, NAME, env=env, stdout=stdout)
    tail, result = record.pop("stderr_tail"), None
    record.update(mode="child", env={k: env.get(k) for k in (ONEDNN_VARIABLE, CHILD_VARIABLE)},
                  first_line=(stdout_path.read_text(errors="replace").splitlines() or [None])[0])
    try:
        result = wrote and json.loads(pathlib.Path(common.result_path(
            workdir, NAME, wrote[0])).read_text())
    except ValueError as exc:
        unreadable = f"unreadable result {NAME}_{wrote[0]}.json: {exc}"
        record["reason"] = f"{record['reason']}; {unreadable}" if "reason" in record else unreadable
    if "reason" in record:
        record["stderr_tail"] = tail
    return result or None, record


def meets_default_goal(zoo_default_vs_best):
    """Whether the default trains at >= 0.95 x the best path; None unmeasured.

    >>> meets_default_goal(0.95), meets_default_goal(0.9), meets_default_goal(None)
    (True, False, None)
    """
    return None if zoo_default_vs_best is None else bool(
        zoo_default_vs_best >= GOAL_DEFAULT_VS_BEST - 1e-12)


def headline_rows(settings, failed):
    """Per setting and model: graph vs XLA, the best and default paths, kernels seen."""
    rows = []
    for setting, record in settings.items():
        for name, entry in record.get("models", {}).items():
            paths = entry["paths"]
            train = {p: r["train"]["examples_per_s"] for p, r in paths.items() if r.get("train")}
            traced = {p: r["evidence"]["kernels"] for p, r in paths.items()
                      if "kernels" in (r.get("evidence") or {})}
            best, default, xla_row = (entry["best_train_path"], entry["zoo_default_path"],
                                      paths.get("xla") or {})
            ratio = (train[default]["median"] / train[best]["median"]
                     if best in train and default in train else entry.get("zoo_default_vs_best"))
            rows.append({
                "model": name, "setting": setting, "label": record["label"],
                "platform": record["kernels"]["platform"], "graph": train.get("graph"),
                "xla": train.get("xla"), "xla_error": xla_row.get("error"),
                "xla_refused": bool((xla_row.get("evidence") or {}).get("xla_refused")),
                "best": best, "zoo_default": default, "zoo_default_vs_best": ratio,
                "meets_goal": meets_default_goal(ratio),
                "kernels_seen": {p: k.get("library") for p, k in traced.items()},
                "kernel_counts": {p: {lib: k.get(lib) for lib in ("onednn", "eigen", "xla")}
                                  for p, k in traced.items()},
                "mismatch": record["kernels"].get("mismatch")})
    return rows + [{"model": None, "setting": setting, "failed": record.get("reason", "failed"),
                    "label": ONEDNN_SETTINGS.get(setting, {}).get("label", setting)}
                   for setting, record in failed.items() if setting not in settings]


def merge(settings, failed, plan, config, device, description, wall_s=None):
    """The benchmark's result from each setting's record."""
    settings = {s: settings[s] for s in plan["settings"] if s in settings}
    failed = {s: failed[s] for s in plan["settings"] if s in failed}
    rows = headline_rows(settings, failed)
    if plan["applicable"]:
        device = {**device, "kernels": " and ".join(
            f"{ONEDNN_SETTINGS[s]['label']} (--onednn={s})" for s in plan["settings"])
            + (", one process each" if len(plan["settings"]) > 1 else "")}
    missed = [f"{r['model']} ({r['label']})" for r in rows if r.get("meets_goal") is False]
    unknown = [f"{r['model'] or 'every model'} ({r['label']})" for r in rows
               if r.get("meets_goal") is None]
    return {**common.envelope(NAME, description, {**config, "onednn": plan["settings"],
                                                  "wall_s": wall_s}, device),
            "onednn": plan, "settings": settings, "failed": failed,
            "mismatches": {s: r["kernels"]["mismatch"] for s, r in settings.items()
                           if r["kernels"].get("mismatch")}, "headline": rows,
            "goal": {"rule": f"zoo default path's train examples/s >= {GOAL_DEFAULT_VS_BEST} x "
                             "the best path's (medians), for every model and kernel library",
                     "met": False if missed else (None if unknown or not rows else True),
                     "missed": missed, "unknown": unknown}}


def run(output_dir, models, paths, batch_size, repeats, steps, warmup, min_repeat_s,
        image_size, sequence_length, matmul_n, profile_steps, seed, quick=False,
        kernel_trace_steps=0, onednn=None, plan=None):
    """Measures each setting of --onednn, here or in child processes; writes the result."""
    args = {k: v for k, v in locals().items() if k not in ("output_dir", "quick", "onednn", "plan")}
    args["paths"], plan = [p for p in PATHS if p in paths], plan or onednn_plan(onednn)
    started, setting = time.perf_counter(), plan["settings"][0]
    here = len(plan["settings"]) == 1 and (  # one setting, the one this process runs
        not plan["applicable"] or setting in (current_setting(), os.environ.get(CHILD_VARIABLE)))
    print(common.launch_line(f"benchmarks.{NAME}", why=decided_by(setting)) + (
        f"; oneDNN setting not varied ({plan['reason'].split(':')[0]})" if not plan["applicable"]
        else "" if here else f"; measuring --onednn={','.join(plan['settings'])}: " + " and ".join(
            ONEDNN_SETTINGS[s]["label"] for s in plan["settings"]) + " kernels, each in a child "
        "process of its own"), flush=True)
    settings, failed = {}, {}
    if here:
        settings[setting] = setting_record(setting, measure(args), {
            "mode": "in-process", "env": {ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE)}})
    for setting in [] if here else plan["settings"]:
        with tempfile.TemporaryDirectory(prefix="xla_onednn_") as workdir:
            child, record = run_child(
                common.command_line(f"benchmarks.{NAME}", onednn=setting, output_dir=workdir,
                                    **args, quick=quick),
                common.child_env(**{ONEDNN_VARIABLE: ONEDNN_SETTINGS[setting]["env"],
                                    CHILD_VARIABLE: setting}), workdir)
        entry = (child or {}).get("settings", {}).get(setting)
        if entry is not None:
            settings[setting] = {**entry, "process": {**entry.get("process", {}), **record}}
        if record.get("reason") or entry is None:
            failed[setting] = {"stderr_tail": [], "reason": f"its result holds no --onednn="
                               f"{setting} setting", **record}
            log(f"--onednn={setting}: FAILED ({failed[setting]['reason']}); the others still run")
    config = {**args, "quick": quick, "figures": "smoke figures (--quick): not measurements "
              "to quote" if quick else "full run", "num_classes": NUM_CLASSES,
              "optimizer": "SGD(learning_rate=0.01, momentum=0.9)",
              "loss": "SparseCategoricalCrossentropy(from_logits=True)",
              "paths_compile": {p: ", ".join(f"{k}={v}" for k, v in kw.items())
                                for p, kw in PATHS.items()},
              "train_flops_convention": "training FLOPs = the profiled train-step graph "
                                        "(forward, gradients, SGD update) where available, "
                                        "else 3 x forward",
              "utilization": "train FLOPs per example x median train examples/s / median fp32 "
                             "matmul FLOP/s of the setting's run; utilization_same_repeat: "
                             "per repeat, over the matmul timed in the same turn"}
    result = merge(settings, failed, plan, config, common.device_info(),
                   "train-step and inference throughput of zoo models, eager vs graph vs XLA, "
                   "per CPU kernel library; utilization, default paths, kernels that ran",
                   wall_s=time.perf_counter() - started)
    for setting, message in result["mismatches"].items():
        log(f"kernel mismatch (--onednn={setting}): {message}")
    return common.publish(NAME, result, output_dir, markdown, summary)


def _cell(stats):
    return "{median:.1f} ({min:.1f}–{max:.1f})".format(**stats) if stats else "n/a"


def render_headline(result):
    """Per model and kernel library: graph vs XLA, the paths, the goal, the kernels seen."""
    rows = []
    for r in result["headline"]:
        if r.get("failed"):
            rows.append(["(all)", r["label"], f"failed: {r['failed']}", *[""] * 6])
            continue
        kernels = "; ".join(f"{p} trace failed" if lib is None else f"{p} " + "+".join(
            {"onednn": "oneDNN", "eigen": "Eigen", "xla": "XLA"}.get(x, x)
            for x in lib.split("+")) + "".join(f" ×{n}" for n in [sum(
                r["kernel_counts"][p].get(x) or 0 for x in lib.split("+"))] if n)
            for p, lib in r["kernels_seen"].items()) or "not traced"
        rows.append([r["model"], r["label"] + " ⚠ kernel mismatch" * bool(r["mismatch"]),
                     _cell(r["graph"]), "refused (runs graph)" if r["xla_refused"] else
                     _cell(r["xla"]) if r["xla"] else f"error: {common.cut(r['xla_error'], 60)}"
                     if r["xla_error"] else "n/a", r["best"] or "n/a", r["zoo_default"] or "n/a",
                     common.number_cell(r["zoo_default_vs_best"]),
                     {None: "n/a", True: "yes", False: "no"}[r["meets_goal"]], kernels])
    return common.markdown_table(
        ["model", "kernels", "graph train ex/s", "XLA train ex/s", "best", "zoo default",
         "default / best", f"≥ {GOAL_DEFAULT_VS_BEST}", "kernels seen"], rows,
        align="llrrllrcl")


def _profile_notes(name, e):
    profile = e.get("op_time_profile") or {}
    lines = [f"- {name}: op-time profile failed: {profile['error']}"] if "error" in profile else []
    if "by_op_type" in profile:
        lines.append(f"- where {name}'s {GOAL_PATH}-path train step spends its op time "
                     f"({profile['steps']} profiled steps): convolutions and matmuls "
                     f"{profile['convolution_share']:.0%}, everything else "
                     f"{profile['other_share']:.0%}; by op type: " + ", ".join(
                         f"{k} {v:.0%}" for k, v in list(profile["by_op_type"].items())[:8]))
    if profile.get("convolution_utilization_estimate") is not None:
        lines.append(f"  - convolutions and matmuls are {profile['convolution_flops_share']:.1%}"
                     f" of the FLOPs in {profile['convolution_share']:.0%} of the op time: alone "
                     f"they run at about {profile['convolution_utilization_estimate']:.0%} of "
                     "the matmul peak")
    return lines


def render_setting(record):
    """One kernel library's section: what ran, where, and the matmul peak."""
    dev, mm, kernels, load = (record["device"], record["matmul"], record["kernels"],
                              record["load_average"])
    process, seen = record.get("process") or {}, kernels["seen"]
    return "\n".join([
        f"## {record['label']} " + (f"(--onednn={record['setting']}, {ONEDNN_VARIABLE}="
                                    f"{kernels.get(ONEDNN_VARIABLE)})"
                                    if record["setting"] in ONEDNN_SETTINGS
                                    else "(kernel library not varied)"), "",
        *([f"**Kernel mismatch: {kernels['mismatch']}.**", ""] if kernels["mismatch"] else []),
        f"- kernels read back: {kernels['describe']}; onednn_enabled="
        f"{kernels['onednn_enabled']}, tensorflow_platform={kernels['platform']} "
        f"({kernels['decided_by']})",
        f"- kernels seen in the traces (convolution/matmul executions, all compiled paths): "
        f"oneDNN {seen['onednn']}, Eigen {seen['eigen']}, XLA {seen['xla']}; oneDNN ops of "
        f"any kind {seen['onednn_ops']}",
        f"- process: {process.get('mode', '?')}" + (f", `{process['command']}`" if process.get(
            "command") else "") + (f", {record['wall_s']:.0f} s measuring"
                                   if record.get("wall_s") else ""),
        common.device_line(dev) + f"; usable CPUs: {dev['threads']['usable_cpus']}" + (
            f"; load average start {load['start'][0]:.2f}, end {load['end'][0]:.2f}"
            if load["start"] and load["end"] else ""),
        f"- matmul peak (fp32 {mm['n']}x{mm['n']}): {_cell(mm['gflops'])} GFLOP/s (pooled: "
        f"before the models {mm['gflops_before']['median']:.1f}, in turn with their training "
        f"repeats " + (f"{mm['gflops_during']['median']:.1f}" if mm["gflops_during"] else "n/a")
        + f", after {mm['gflops_after']['median']:.1f})",
        *(line for name, e in record["models"].items() for line in _profile_notes(name, e))])


def markdown(result):
    """The report: context, the headline table, then one section per setting."""
    cfg, plan, goal = result["config"], result["onednn"], result["goal"]
    rule = f"- goal (zoo default ≥ {GOAL_DEFAULT_VS_BEST} x best"
    notes = [rule + ", every model and kernel library): met" if goal["met"] else
             rule + "): **missed** for " + ", ".join(goal["missed"]) + (
                 f"; not judged: {', '.join(goal['unknown'])}" if goal["unknown"] else "")
             if goal["met"] is False else
             rule + "): not judged for " + ", ".join(goal["unknown"] or ["any model"])]
    notes += [f"- **kernel mismatch** (--onednn={s}): {m}" for s, m in result["mismatches"].items()]
    notes += [f"- **--onednn={s} failed**: {r.get('reason', 'failed')}" + (
        f"; last stderr line: `{r['stderr_tail'][-1]}`" if r.get("stderr_tail") else "")
        for s, r in result["failed"].items()]
    lines = common.header(
        "Eager vs graph vs XLA per CPU kernel library: train and inference throughput, "
        "utilization", result,
        "- kernel libraries: " + (", ".join(
            f"--onednn={s} ({ONEDNN_VARIABLE}={ONEDNN_SETTINGS[s]['env']}: "
            f"{ONEDNN_SETTINGS[s]['label']})" for s in plan["settings"]) + f"; {plan['reason']}"
            if plan["applicable"] else f"not varied: {plan['reason']}"),
        "- paths: " + "; ".join(f"{p}: compile({c})" for p, c in cfg["paths_compile"].items()),
        f"- batch {cfg['batch_size']}; image models at most {cfg['image_size']}x"
        f"{cfg['image_size']}, texts padded to {cfg['sequence_length']} words; "
        f"{cfg['optimizer']}, {cfg['loss']}",
        f"- repeats of >= {cfg['min_repeat_s']:g} s; then {cfg['kernel_trace_steps']} traced "
        "train step(s) per compiled path",
        f"- FLOPs: {cfg['train_flops_convention']}; utilization = {cfg['utilization']}")
    if cfg["quick"]:
        lines[1:1] = ["", "**Smoke figures (--quick): reduced sizes, batch, steps and repeats; "
                          "do not quote.**"]
    lines += [
        "## Headline: graph vs XLA and the zoo's default path, per kernel library", "",
        render_headline(result), "", *notes, "",
        "Train examples/s, median (min–max) over the repeats. best = the faster of graph and "
        "xla (`choose_faster`; never eager, nor an xla Keras refused); zoo default = the path "
        "`model.compile(optimizer, loss)` picks in that process; keras default = "
        "`keras.Model.compile(model, ...)`'s. Kernels seen: the library of the convolutions "
        "and matmuls in a profiler trace of the path's train steps (oneDNN: `_Mkl*` ops; "
        "Eigen: TensorFlow's own; XLA: HLO instructions), with their count."]
    lines += ["", "## Per path", "", summary(result, full=True)["markdown"], "",
              "\"ran\": read back from the compiled model and its traced train step "
              "(`_XlaMustCompile`); \"(default)\": measured only as a default path. Ratios: "
              "examples/s over graph mode's within each repeat (> 1: faster); an xla that "
              "Keras refused runs graph mode, so its ratio shows the run's noise."]
    lines += [line for record in result["settings"].values()
              for line in ("", render_setting(record))]
    return "\n".join(lines) + "\n"


def summary(result, full=False):
    """Per setting, model and path: train examples/s vs graph, defaults, goals; a chart."""
    rows, items, groups, notes = [], [], {}, []
    settings = result.get("settings") if isinstance(result.get("settings"), dict) else None
    records = ([(key, r.get("label") or key, r.get("models") or {}) for key, r in
                settings.items()] if settings else [(None, None, result.get("models") or {})])
    per_setting = settings is not None
    for setting, label, models in records:
        for model, info in models.items():
            paths = info.get("paths") if isinstance(info.get("paths"), dict) else {}
            key = model if label is None else f"{model}@{label}"
            named = model + (f" ({label})" if label else "")
            train = {p: common.stats_of(((e or {}).get("train") or {}).get("examples_per_s"))
                     for p, e in paths.items()}
            for path in sorted(paths, key=lambda p: list(PATHS).index(p) if p in PATHS else 9):
                entry, eps = paths[path] or {}, train[path]
                evidence = entry.get("evidence") or {}
                refused = bool(evidence.get("xla_refused"))
                vs_graph = common.stats_of((entry.get("train") or {}).get("ratio_vs_graph"))
                if path == "graph" and eps:
                    vs_graph = {"median": 1.0, "min": 1.0, "max": 1.0}
                elif vs_graph is None and eps and train.get("graph"):  # of graph's median
                    vs_graph = {k: v / train["graph"]["median"] for k, v in eps.items()}
                marks = ", ".join(m for m, on in (
                    ("zoo default", info.get("zoo_default_path") == path),
                    ("Keras default", info.get("keras_default_path") == path),
                    ("best", info.get("best_train_path") == path), ("XLA refused", refused)) if on)
                lead = [model] + [label] * per_setting + [path + " (default)" * (
                    full and entry.get("requested") is False)] + [evidence.get("ran", "?")] * full
                if entry.get("error") and eps is None:
                    rows.append(lead + [f"error: {common.cut(str(entry['error']), 80)}",
                                        *[""] * (1 + 3 * full), marks, *[""] * (1 + full)])
                    continue
                infer, same = entry.get("inference") or {}, entry.get("utilization_same_repeat")
                util, compiled = entry.get("utilization"), [
                    (entry.get(kind) or {}).get("compile_s") for kind in ("train", "inference")]
                rows.append(lead + [common.ratio_cell(eps, 1), common.ratio_cell(vs_graph)] + [
                    common.ratio_cell(infer.get("examples_per_s"), 1),
                    common.ratio_cell(infer.get("ratio_vs_graph")),
                    " / ".join(common.number_cell(c, 1) for c in compiled)] * full + [
                    marks, "" if util is None else f"{util:.1%}"] + [common.ratio_cell(
                        same and {k: 100 * same[k] for k in ("median", "min", "max")}, 1)
                        + "%" * bool(same)] * full)
                ran = vs_graph is not None and not refused  # else no bar
                if ran:
                    groups.setdefault(label, {}).setdefault(model, {})[path] = [
                        vs_graph[k] for k in ("median", "min", "max")]
                items.append(common.summary_item(
                    NAME, f"{key}/{path}", f"{named} {path}: train examples/s / graph", vs_graph,
                    "> 1: faster than graph mode", ran=ran, examples_per_s=eps,
                    zoo_default=info.get("zoo_default_path") == path,
                    keras_default=info.get("keras_default_path") == path,
                    **({"setting": setting, "kernels": label, "kernels_seen": (evidence.get(
                        "kernels") or {}).get("library")} if per_setting else {})))
            parts = [f"{name} {info[k]}" for k, name in (
                ("zoo_default_path", "zoo default"), ("keras_default_path", "Keras default"),
                ("best_train_path", "best")) if info.get(k)]
            for k, name in (("zoo_default_vs_best", "zoo default / best"),
                            ("zoo_default_vs_keras_default", "zoo default / Keras default")):
                if common.stats_of(info.get(k)):
                    parts.append(f"{name} {common.ratio_cell(info[k])}")
                    items.append(common.summary_item(NAME, f"{key}/{k}", f"{named}: {name}",
                                                     info[k], "train examples/s; < 1: the "
                                                     "default is slower"))
            parts += [f"{name}: " + ("met" if info[k] else "not met") for k, name in (
                ("meets_default_goal", "default ≥ 0.95 x best"),
                ("meets_75pct_goal", "75% utilization goal")) if info.get(k) is not None]
            notes += [f"- {named}: " + "; ".join(parts)] if parts else []
    goal = result.get("goal") if isinstance(result.get("goal"), dict) else {}
    if goal.get("met") is not None or goal.get("missed"):
        notes.append("- zoo default ≥ 0.95 x best, every model and kernel library: " + (
            "met" if goal.get("met") else "missed for " + ", ".join(goal.get("missed") or [])))
    notes += [f"- kernel mismatch (--onednn={s}): {m}"
              for s, m in (result.get("mismatches") or {}).items()]
    notes += [f"- --onednn={s} failed: {r.get('reason') if isinstance(r, dict) else r}"
              for s, r in (result.get("failed") or {}).items()]
    chart = [{"title": (f"{kernels} kernels: " if kernels else "") + "train examples/s per "
              "path, graph = 1.0 (no bar: refused or failed)", "ylabel": "train examples/s / "
              "graph", "groups": models} for kernels, models in groups.items()] or None
    if not rows and not result.get("failed"):
        return {"title": TITLE, "markdown": "No per-model paths in the result.", "items": items,
                "chart": chart}
    table = common.markdown_table(
        ["model"] + ["kernels"] * per_setting + ["path"] + ["ran"] * full + [
            "train ex/s median (min–max)", "vs graph median (min–max)"] + [
            "inference ex/s median (min–max)", "inference vs graph",
            "compile s (train / infer)"] * full + ["default", "utilization"] + [
            "utilization, same-repeat peak"] * full, rows,
        align="l" * (2 + per_setting + full) + "rr" + "rrr" * full + "ll" + "r" * full)
    return {"title": TITLE, "items": items, "chart": chart, "markdown": "\n".join(
        [table, "", *notes, "", "Train examples/s; \"vs graph\" > 1 is faster than graph mode "
         "(jit_compile=False); utilization: achieved train FLOP/s over the measured matmul "
         "peak" + ("; kernels: the CPU kernel library the setting ran." if per_setting else ".")])}


if __name__ == "__main__":
    common.main(__name__)
