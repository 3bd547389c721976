"""What `benchmarks.xla` reads from traced graphs and profiler traces: FLOPs,
the path that ran, the kernels that ran, and where the op time goes.

FLOPs are counted in one place, `flops_per_example`: the TensorFlow
profiler's float-operation count of a traced graph, Einsum ops (which it
does not count) through opt_einsum's cost model; a model with recurrent
layers (whose `While` loop it cannot see into) from its weights' shapes.

Example:
>>> einsum_flops("nhwc,hwck->nk", [(8, 4, 4, 1), (4, 4, 1, 32)])
8192
"""

import collections
import glob
import os
import re
import tempfile
import time

import opt_einsum
import tensorflow as tf

from benchmarks import common

CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative")
# Matrix multiplies: the dense head's, and the zoo's convolutions that train
# as one matmul (zoo.ops.conv2d). With CONV_OPS, the "convolution" work.
MATMUL_OPS = ("MatMul", "FusedMatMul", "_FusedMatMul", "BatchMatMulV2", "BatchMatMulV3")
CONV_AND_MATMUL_OPS = CONV_OPS + MATMUL_OPS
ONEDNN_PREFIXES = ("_MklNative", "_Mkl")
HEAVY_TF_OP = re.compile(r"Conv[23]D|DepthwiseConv|MatMul|Einsum")
HEAVY_HLO = re.compile(r"^(convolution|dot|ynn_fusion|xnn_fusion)|Conv[23]D|MatMul|Einsum|onednn",
                       re.IGNORECASE)


# --------------------------------------------------------------------------
# FLOPs.


def einsum_flops(equation, input_shapes):
    """FLOPs of one Einsum, by opt_einsum's cost model (TensorFlow's own
    einsum dependency): 2 x output elements x contracted size; one operand
    (a transpose, a reduction) costs its element count.

    >>> einsum_flops("...i,ik->...k", [(8, 5, 16), (16, 3)])
    3840
    >>> einsum_flops("ij->ji", [(3, 4)])
    12
    """
    _, info = opt_einsum.contract_path(equation, *input_shapes, shapes=True, optimize=False)
    return int(info.naive_cost)


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
    # one before; a node's float_ops are its own.
    by_type, stack = collections.Counter(), list(profile.children)
    while stack:
        node = stack.pop()
        if node.float_ops:
            by_type[node.name] += int(node.float_ops)
        stack.extend(node.children)
    for op in graph.get_operations():
        shapes = [t.shape for t in op.inputs]
        if op.type == "Einsum" and all(s.is_fully_defined() for s in shapes):
            by_type["Einsum"] += einsum_flops(op.get_attr("equation").decode(),
                                              [s.as_list() for s in shapes])
    return sum(by_type.values()), dict(by_type.most_common())


def weight_flops(model, time_steps):
    """Forward FLOPs per example from the weights' shapes: `(recurrent, dense)`.

    Every recurrent cell (each layer and direction has its own `kernel` and
    `recurrent_kernel`) runs both matmuls and its bias at each of
    `time_steps` steps: the generic kernel runs every padded step. Every
    other `kernel` is counted once, 2 x its size (a dense layer per example).
    """
    weights = {w.path: w for w in model.weights}
    recurrent, dense = 0, 0
    for path, variable in weights.items():
        if path.endswith("/recurrent_kernel"):
            kernel = weights[path[:-len("recurrent_kernel")] + "kernel"]
            per_step = 2 * (_size(kernel) + _size(variable)) + int(variable.shape[-1])
            recurrent += time_steps * per_step
        elif path.endswith("/kernel") and path[:-len("kernel")] + "recurrent_kernel" not in weights:
            dense += 2 * _size(variable)
    return recurrent, dense


def _size(variable):
    size = 1
    for dim in variable.shape:
        size *= int(dim)
    return size


def flops_per_example(model, x, y, batch_size, time_steps):
    """Forward and training FLOPs per example, with how they were counted.

    Forward: the profiler on `model(x, training=False)`; for a model with
    recurrent layers, whose loop the profiler cannot see into, the weights'
    shapes (`weight_flops`). Training: the profiled train step (forward,
    gradients and the SGD update) when it can be had; else 3 x forward.
    """
    recurrent, dense = weight_flops(model, time_steps)
    if recurrent:
        forward = recurrent + dense
        return {"forward_flops_per_example": float(forward),
                "train_flops_per_example": float(3 * forward),
                "train_graph_flops_per_example": None,
                "flops_method": ("analytic from the weights' shapes (the profiler cannot see "
                                 "into the recurrent While loop): recurrent matmuls + bias over "
                                 "every padded step and direction, plus the dense layers; "
                                 "training = 3 x forward"),
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


def path_of(model):
    """The path a compiled model takes: `"eager"`, `"xla"` or `"graph"`."""
    if model.run_eagerly:
        return "eager"
    return "xla" if model.jit_compile else "graph"


def _xla_must_compile(function_def):
    attr = function_def.attr.get("_XlaMustCompile")
    return bool(attr.b) if attr is not None else False


def path_evidence(model, x, y, requested_jit, recurrent):
    """What ran: compile settings read back, the traced graphs' XLA marks and,
    for a `recurrent` model, the RNN kernel."""
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
            evidence["ran"] = "xla" if evidence["train_step_xla_must_compile"] else "graph"
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
    if recurrent:
        try:
            evidence["rnn_kernel"] = common.detect_rnn_kernel(model, x, y)
        except Exception as exc:  # noqa: BLE001
            evidence["rnn_kernel"] = {"kernel": None, "error": common.first_line(exc)}
    return evidence


# --------------------------------------------------------------------------
# Profiler traces: where the time goes, and which kernels ran.


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


def op_time_shares(events):
    """Shares of op time by op type.

    Args:
        events: iterable of `(event_name, seconds)` from the profiler's host
            trace; op events are named `"op_name:OpType"` (oneDNN kernels as
            `_MklNative<Type>`), others (executor and thread-pool bookkeeping,
            with `::` in their names, and function calls, whose ops are
            listed on their own) are skipped.

    Returns:
        `{"op_seconds", "by_op_type" {type: share, largest first},
        "convolution_share", "other_share"}`; op types are stripped of the
        `_MklNative`/`_Mkl` prefix. `convolution_share` counts convolutions
        and matrix multiplies (`CONV_AND_MATMUL_OPS`): the zoo trains some
        convolutions as one `MatMul` (`zoo.ops.conv2d`).

    >>> shares = op_time_shares([("c1:_MklNativeConv2D", 3.0), ("bn/mul:Mul", 1.0),
    ...                          ("ExecutorState::Process", 9.0),
    ...                          ("step: __inference_one_step_on_data_7", 4.0)])
    >>> shares["by_op_type"], shares["convolution_share"]
    ({'Conv2D': 0.75, 'Mul': 0.25}, 0.75)
    """
    seconds = collections.Counter()
    for name, duration in events:
        if "::" in name or ":" not in name:
            continue
        op_type = name.rsplit(":", 1)[1].strip()
        if op_type.startswith("__") or op_type in CALL_OPS:
            continue  # a function call: its ops are counted on their own
        for prefix in ONEDNN_PREFIXES:
            if op_type.startswith(prefix):
                op_type = op_type[len(prefix):]
                break
        seconds[op_type] += duration
    total = sum(seconds.values())
    if total <= 0:
        raise ValueError("no op events with a duration in the profile")
    shares = {k: v / total for k, v in seconds.most_common()}
    conv = sum(v for k, v in shares.items()
               if k in CONV_AND_MATMUL_OPS or k.startswith("FusedConv2D"))
    return {"op_seconds": total, "by_op_type": shares, "convolution_share": conv,
            "other_share": 1.0 - conv}


def profile_op_time(step, steps):
    """Op-time shares (`op_time_shares`) of `steps` calls of `step` under the
    profiler: every executor op's duration, on every inter-op thread.
    Durations are thread time, so ops that overlap each count in full."""
    events, wall = read_trace(step, steps)
    shares = op_time_shares((name, seconds) for name, seconds, is_xla in events if not is_xla)
    top = dict(list(shares["by_op_type"].items())[:12])
    return {**shares, "by_op_type": top, "steps": steps, "wall_s": wall,
            "method": "tf.profiler.experimental host trace of train_on_batch steps; shares "
                      "of summed op (thread) time, op types without the _MklNative prefix"}


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
