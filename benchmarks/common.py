"""Timing and reporting helpers shared by the benchmarks.

Every benchmark follows the same recipe (DESIGN.md, "Benchmarks"):

1. say where it runs: `print_launch_line(MODULE)` first (backend, device,
   kernel library and who chose them), then `device_info()`, `versions()`;
2. time the candidates in one process with `time_repeats(...)`: the first
   call of each (tracing, graph building, compilation) is timed on its own,
   further warm-up calls are discarded, then the candidates take turns
   (A, B, C, A, B, C, ...) so that machine noise hits all of them alike;
3. reduce with `throughputs(...)`, `per_repeat_ratios(...)` and
   `summarize(...)` (median, min, max);
4. report with `markdown_table(...)`, `write_json_atomic(...)` and
   `write_text_atomic(...)` into a directory checked by
   `validate_output_dir(...)`.

Example:
>>> stats = summarize([3.0, 1.0, 2.0])
>>> stats == {"median": 2.0, "min": 1.0, "max": 3.0}
True
>>> per_repeat_ratios([2.0, 3.0], [1.0, 2.0])
[2.0, 1.5]
"""

import collections
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app


# --------------------------------------------------------------------------
# Where we run.


def cpu_model_name():
    """The CPU's marketing name, e.g. `"AMD EPYC 7B13"`.

    Read from `/proc/cpuinfo` on Linux, `platform.processor()` elsewhere.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cpu_count():
    """CPUs this process may run on (its affinity mask), or `os.cpu_count()`."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def device_info():
    """Describes the device TensorFlow will run on.

    TensorFlow places ops on the first GPU when one is visible, so the kind is
    `"gpu"` exactly when `tf.config.list_physical_devices("GPU")` finds one.

    Returns:
        A JSON-ready dict: `kind` (`"cpu"` or `"gpu"`), `name` (GPU or CPU
        model name), `cpu`, `gpu_found`, `gpus` (names), `platform`,
        `threads` (TensorFlow's intra/inter-op settings, 0 meaning TensorFlow
        picks, and the usable CPU count) and `kernels` (which kernel library
        runs convolutions: cuDNN on GPU, oneDNN or Eigen on CPU).
    """
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = []
    for gpu in gpus:
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (RuntimeError, ValueError):
            details = {}
        gpu_names.append(details.get("device_name", gpu.name))
    build = dict(tf.sysconfig.get_build_info())
    cpu = cpu_model_name()
    if gpus:
        kernels = (f"cuDNN {build.get('cudnn_version', '?')} / "
                   f"CUDA {build.get('cuda_version', '?')}")
    else:
        kernels = _cpu_kernel_library()
    return {
        "kind": "gpu" if gpus else "cpu",
        "name": gpu_names[0] if gpus else cpu,
        "cpu": cpu,
        "gpu_found": bool(gpus),
        "gpus": gpu_names,
        "platform": platform.platform(),
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "note": "0 = TensorFlow's default (one thread per usable CPU)",
            "usable_cpus": usable_cpu_count(),
            "logical_cpus": os.cpu_count(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "kernels": kernels,
    }


def _cpu_kernel_library():
    try:
        from tensorflow.python.util import _pywrap_util_port
        built_with_onednn = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        built_with_onednn = False
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if built_with_onednn and setting not in ("0", "false", "False"):
        how = "default" if setting is None else f"TF_ENABLE_ONEDNN_OPTS={setting}"
        return f"oneDNN ({how})"
    return "Eigen (oneDNN off)" if built_with_onednn else "Eigen"


def launch_line(module, why=None, initialize_devices=True):
    """The first line of a benchmark's output: what runs the models, and why.

    `"benchmarks.xla: TensorFlow 2.21.0 (Keras 3.15.1) on cpu/onednn: oneDNN
    CPU kernels (TF_ENABLE_ONEDNN_OPTS=1 set by zoo (...))"`: backend, device
    and kernel library (`zoo.ops.describe()`), then who chose the kernels
    (`zoo._launch.decision`, or `why` when the caller knows better, e.g. a
    child process whose parent set `TF_ENABLE_ONEDNN_OPTS`).

    Args:
        module: the command, e.g. `"benchmarks.xla"`.
        why: optional explanation replacing `zoo._launch.decision`.
        initialize_devices: False for a process that only starts others
            (the runner): the device is then read from the physical devices,
            so that no GPU context (and its memory) is held while the
            benchmarks run.
    """
    from zoo import _launch, ops

    why = why or _launch.decision or f"{_launch.ONEDNN_VARIABLE} as the caller left it"
    if initialize_devices:
        what = ops.describe()
    else:
        import keras

        gpu = bool(tf.config.list_physical_devices("GPU"))
        platform = "gpu" if gpu else ("cpu/onednn" if ops.onednn_enabled() else "cpu/eigen")
        kernels = {"gpu": "GPU kernels (cuDNN)", "cpu/onednn": "oneDNN CPU kernels",
                   "cpu/eigen": "TensorFlow's own (Eigen) CPU kernels"}[platform]
        what = (f"TensorFlow {tf.__version__} (Keras {keras.__version__}) on {platform}: "
                f"{kernels}")
    return f"{module}: {what} ({why})"


def print_launch_line(module, why=None, initialize_devices=True):
    """Prints `launch_line(...)` to stdout, flushed: call it first in `main`."""
    line = launch_line(module, why=why, initialize_devices=initialize_devices)
    print(line, flush=True)
    return line


def versions():
    """Versions of Python and the libraries a result depends on."""
    import keras

    build = dict(tf.sysconfig.get_build_info())
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "cuda_build": build.get("cuda_version"),
        "cudnn_build": build.get("cudnn_version"),
    }


def run_process(cmd, *, cwd, env, stdout=None, tail_lines=20):
    """Runs `cmd` to its end: its stderr is echoed as it comes and its last lines kept.

    Args:
        cmd: the command, a list.
        cwd, env: its working directory and environment.
        stdout: where its stdout goes (None: this process's stdout).
        tail_lines: how many of the last stderr lines to keep.

    Returns:
        `(returncode, wall seconds, last stderr lines)`. An interrupt
        (KeyboardInterrupt) kills the child before it propagates.
    """
    tail = collections.deque(maxlen=tail_lines)
    start = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1)
    try:
        for line in proc.stderr:
            sys.stderr.write(line)
            tail.append(line.rstrip("\n"))
        returncode = proc.wait()
    except BaseException:  # KeyboardInterrupt: do not leave the child running
        proc.kill()
        proc.wait()
        raise
    return returncode, time.perf_counter() - start, list(tail)


def utc_timestamp():
    """Now, as an ISO 8601 UTC string to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------
# Timing.


def _block(result):
    """Waits for `result` (any nest of tensors) to be computed."""
    for leaf in tf.nest.flatten(result):
        if hasattr(leaf, "numpy"):
            leaf.numpy()
    return result


def time_repeats(candidates, *, steps, repeats, warmup, sync=_block,
                 clock=time.perf_counter, log=None):
    """Times several step functions in turns, after warming each up.

    Each candidate is a zero-argument callable that runs one step. First,
    each candidate's first call is timed on its own (it includes tracing and
    graph optimization); then `warmup - 1` more calls per candidate, in
    turns, are timed but kept out of the results. Then, `repeats` times,
    every candidate in turn runs `steps` timed calls: A, B, C, A, B, C, ...
    so that a slow spell of the machine hits all candidates, and ratios taken
    within one repeat cancel it.

    Args:
        candidates: dict, name -> zero-argument callable running one step.
            Insertion order is the order of turns.
        steps: int >= 1. Calls per timed repeat.
        repeats: int >= 1. Timed repeats per candidate.
        warmup: int >= 1. Untimed calls per candidate before the repeats,
            the first of which is reported as `first_step_s`.
        sync: callable applied to the last result of each timed block before
            the clock stops, so asynchronous work is counted. The default
            fetches every tensor in the result.
        clock: callable returning seconds (injectable for tests).
        log: optional callable taking one progress string.

    Returns:
        dict, name -> `{"first_step_s": float, "warmup_s": [float, ...],
        "repeat_s": [float, ...]}` where `repeat_s[i]` is the wall time of
        the `steps` calls of repeat `i`.
    """
    for name, value in (("steps", steps), ("repeats", repeats), ("warmup", warmup)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    if not candidates:
        raise ValueError("candidates must name at least one step function, received {}")
    log = log or (lambda message: None)

    results = {}
    for name, step in candidates.items():
        start = clock()
        sync(step())
        first = clock() - start
        results[name] = {"first_step_s": first, "warmup_s": [], "repeat_s": []}
        log(f"first step {name}: {first:.2f} s")
    # The rest of the warm-up takes turns too, so that no candidate enters the
    # timed repeats long after its last step (cold caches, idle thread pools).
    for _ in range(warmup - 1):
        for name, step in candidates.items():
            start = clock()
            sync(step())
            results[name]["warmup_s"].append(clock() - start)

    for repeat in range(repeats):
        for name, step in candidates.items():
            start = clock()
            result = None
            for _ in range(steps):
                result = step()
            sync(result)
            elapsed = clock() - start
            results[name]["repeat_s"].append(elapsed)
            log(f"repeat {repeat + 1}/{repeats} {name}: {elapsed:.3f} s for {steps} steps")
    return results


def throughputs(seconds, items):
    """Items per second for each timed block of `items` items."""
    return [items / s for s in seconds]


def per_repeat_ratios(numerators, denominators):
    """`numerators[i] / denominators[i]` for each repeat `i`.

    Taking ratios within a repeat, then their median, cancels noise that hits
    both candidates of one repeat alike.
    """
    if len(numerators) != len(denominators):
        raise ValueError(
            "numerators and denominators must have the same length, received "
            f"{len(numerators)} and {len(denominators)}"
        )
    return [n / d for n, d in zip(numerators, denominators)]


def summarize(values):
    """Median, min and max of a non-empty list of finite numbers.

    Args:
        values: iterable of numbers.

    Returns:
        `{"median": float, "min": float, "max": float}`.
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must be a non-empty list of numbers, received []")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"values must all be finite, received values={values}")
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------
# Reporting.


def markdown_table(headers, rows, align=None):
    """A GitHub markdown table.

    Args:
        headers: list of column titles.
        rows: list of rows, each a list of cells (converted with `str`).
        align: optional string with one of `l`, `r`, `c` per column.

    Returns:
        The table, one line per row, without a trailing newline.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers) or any(len(row) != len(headers) for row in rows):
        raise ValueError("align and every row must have one entry per header")
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(str(h) for h in headers) + " |",
             "|" + "|".join(rule[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def validate_output_dir(path, flag_name="output_dir"):
    """Creates `path` if needed and checks that files can be written there.

    Called before any timing, so a bad directory fails in a second, not after
    minutes of benchmarking.

    Returns:
        The absolute path.

    Raises:
        absl.app.UsageError: naming `--flag_name`, when the directory cannot
            be created or written (the app prints usage, no traceback).
    """
    try:
        if not path:
            raise OSError("empty path")
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise app.UsageError(
            f"--{flag_name}={path!r} is not a writable directory: "
            f"{exc.strerror or exc}") from None
    return os.path.abspath(path)


def write_text_atomic(path, text):
    """Writes `text` (UTF-8) to `path` atomically; see `write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path, data):
    """Writes `data` to `path` atomically: a temp file in the same directory,
    flushed to disk, then `os.replace`d over `path`. Readers never see a
    half-written file, and an interrupted run leaves the old one intact."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it a normal file's mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def warning_lines(caught, into):
    """Appends `"Category: first line"` of each caught warning to `into`, once."""
    for w in caught:
        text = str(w.message).strip()
        line = f"{w.category.__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
        if line not in into:
            into.append(line)


def write_json_atomic(path, data):
    """Writes `data` as indented JSON to `path` atomically (see
    `write_text_atomic`). Non-finite floats are rejected, as JSON has none."""
    return write_text_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def apply_quick(flag_values, overrides):
    """Applies `--quick` presets to flags the user did not set explicitly.

    Args:
        flag_values: `absl.flags.FLAGS`.
        overrides: dict, flag name -> quick value.

    Returns:
        dict of the overrides actually applied.
    """
    applied = {}
    for name, value in overrides.items():
        if not flag_values[name].present:
            flag_values[name].value = value
            applied[name] = value
    return applied


def check_flags(flag_values, quick):
    """What absl's parser cannot check of the shared flags, before any work.

    Applies --quick's presets (`quick`: flag name -> value), then checks that
    --output_dir can be written.

    Returns:
        The output directory (`validate_output_dir`).

    Raises:
        app.UsageError: naming the flag and the value received.
    """
    if flag_values.quick:
        apply_quick(flag_values, quick)
    return validate_output_dir(flag_values.output_dir)


def command_line(module):
    """The command that produced a result, for the record."""
    return " ".join(["python", "-m", module] + sys.argv[1:])


# --------------------------------------------------------------------------
# Candidates that fail, and what a traced step contains.


def first_line(exc):
    """How a failed candidate is reported: `"TypeName: first line of message"`.

    >>> first_line(ValueError("bad shape\\nmore detail"))
    'ValueError: bad shape'
    """
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class GuardedStep:
    """A step function that records its first failure instead of raising.

    Wrap each candidate of `time_repeats` in one, so that one failing
    candidate (a compilation error, an unsupported op) is reported as such
    while the others are still measured. After a failure every call returns
    `None` at once; the timings of a failed candidate mean nothing and must
    be dropped (check `error`). `KeyboardInterrupt` and other
    non-`Exception`s still propagate.

    >>> def fails():
    ...     raise RuntimeError("no kernel for op\\nstack ...")
    >>> step = GuardedStep(fails)
    >>> step() is None and step() is None
    True
    >>> step.error
    'RuntimeError: no kernel for op'
    >>> GuardedStep(lambda: 3)()
    3
    """

    def __init__(self, step):
        self.step = step
        self.exception = None
        self.error = None

    def __call__(self):
        if self.exception is not None:
            return None
        try:
            return self.step()
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            self.exception = exc
            self.error = first_line(exc)
            return None


def tf_functions_in(fn, max_objects=1000):
    """The `tf.function`s reachable from `fn` through closures.

    Keras keeps its compiled train step (`tf.function(..., jit_compile=...)`)
    inside the closures of `model.train_function`; this finds it without
    relying on private attribute names. Follows closure cells, bound methods
    and `functools.partial`, breadth first, visiting each object once.

    Returns:
        list of `tf.types.experimental.PolymorphicFunction`, in the order found.
    """
    import functools
    import types

    polymorphic = tf.types.experimental.PolymorphicFunction
    found, seen, queue = [], set(), [fn]
    while queue and len(seen) < max_objects:
        obj = queue.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, polymorphic):
            found.append(obj)
        elif isinstance(obj, types.MethodType):
            queue.append(obj.__func__)
        elif isinstance(obj, functools.partial):
            queue.append(obj.func)
        elif isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                try:
                    queue.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
    return found


def op_type_counts(graph_or_function):
    """How many ops of each type a traced graph holds, nested functions included.

    Args:
        graph_or_function: a `tf.Graph`, a `GraphDef`, or a concrete function
            (anything with a `.graph`).

    Returns:
        `collections.Counter`, op type -> count, over the graph's own nodes
        and every function of its library (while-loop bodies, gradients,
        nested `tf.function`s), which `Graph.get_operations()` alone misses.
    """
    import collections

    graph = getattr(graph_or_function, "graph", graph_or_function)
    graph_def = graph.as_graph_def() if hasattr(graph, "as_graph_def") else graph
    counts = collections.Counter(node.op for node in graph_def.node)
    for function_def in graph_def.library.function:
        counts.update(node.op for node in function_def.node_def)
    return counts


# --------------------------------------------------------------------------
# Which recurrent kernel a Keras train step runs.

# cuDNN's RNN ops: CudnnRNN, CudnnRNNV2, CudnnRNNV3 and their Backprop ops.
CUDNN_RNN_OP_PREFIX = "CudnnRNN"
# Keras' generic RNN kernel: a tf.while_loop over the time steps.
WHILE_LOOP_OPS = ("While", "StatelessWhile")


def rnn_kernel_from_op_types(op_counts):
    """Names the RNN kernel a traced graph runs, from its op types.

    Keras 3 on TensorFlow picks the recurrent kernel while tracing (see
    `keras/src/backend/tensorflow/rnn.py`: `cudnn_ok`, `lstm`, `gru`), so the
    traced graph shows it: a `CudnnRNN*` op (`CudnnRNNV3` and its backprop)
    for cuDNN, a `While` loop over time steps for the generic kernel (also
    under XLA, which compiles that loop).

    Args:
        op_counts: mapping, op type -> count (see `op_type_counts`).

    Returns:
        `(kernel, evidence)`: `"cudnn"` when any `CudnnRNN*` op is present,
        else `"generic"`; evidence is `{op type: count}` of the cuDNN and
        while-loop ops found.

    >>> rnn_kernel_from_op_types({"CudnnRNNV3": 1, "CudnnRNNBackpropV3": 1, "MatMul": 4})
    ('cudnn', {'CudnnRNNBackpropV3': 1, 'CudnnRNNV3': 1})
    >>> rnn_kernel_from_op_types({"While": 1, "StatelessWhile": 1, "MatMul": 4})
    ('generic', {'StatelessWhile': 1, 'While': 1})
    """
    evidence = {op: int(n) for op, n in sorted(op_counts.items())
                if op.startswith(CUDNN_RNN_OP_PREFIX) or op in WHILE_LOOP_OPS}
    cudnn = any(op.startswith(CUDNN_RNN_OP_PREFIX) for op in evidence)
    return ("cudnn" if cudnn else "generic"), evidence


def traced_train_step(model, x, y, sample_weight=None):
    """The concrete function of a compiled Keras model's train step for a batch.

    Looks first for the `tf.function` that Keras built in
    `model.train_function` (present after one `train_on_batch` or `fit`) and
    takes its existing trace for `(x, y, sample_weight)`: the graph that
    actually ran. Falls back to tracing `model.train_step` in a fresh
    `tf.function` with the model's `jit_compile` (same code, same devices, so
    the same kernel choices) when Keras' internals do not expose it that way.

    Returns:
        `(concrete_function, source)`, source naming which of the two.
    """
    data = (x, y, sample_weight)  # what train_on_batch feeds its step function
    if getattr(model, "train_function", None) is not None:
        for fn in tf_functions_in(model.train_function):
            if fn.experimental_get_tracing_count() == 0:
                continue
            try:
                return fn.get_concrete_function(data), "model.train_function"
            except (TypeError, ValueError):
                continue
    fn = tf.function(model.train_step, jit_compile=bool(model.jit_compile))
    return fn.get_concrete_function(data), "tf.function(model.train_step)"


def detect_rnn_kernel(model, x, y, sample_weight=None):
    """Which RNN kernel `model`'s compiled train step runs on this batch.

    Returns:
        `{"kernel": "cudnn" | "generic", "source": ..., "ops": {...}}`, see
        `traced_train_step` and `rnn_kernel_from_op_types`.
    """
    concrete, source = traced_train_step(model, x, y, sample_weight)
    kernel, evidence = rnn_kernel_from_op_types(op_type_counts(concrete))
    return {"kernel": kernel, "source": source, "ops": evidence}


# --------------------------------------------------------------------------
# Latency.


def latencies_ms(seconds, calls):
    """Milliseconds per call for each timed block of `calls` calls.

    >>> latencies_ms([0.5, 0.25], 10)
    [50.0, 25.0]
    """
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be a positive integer, received calls={calls!r}")
    return [1000.0 * s / calls for s in seconds]


def publish(name, result, markdown, output_dir, device_kind):
    """Prints the report and writes `<name>_<device_kind>.json` and `.md` atomically."""
    print(markdown)
    json_path = write_json_atomic(os.path.join(output_dir, f"{name}_{device_kind}.json"), result)
    md_path = write_text_atomic(os.path.join(output_dir, f"{name}_{device_kind}.md"), markdown)
    print(f"\nwrote {json_path}\nwrote {md_path}")
    return json_path, md_path
