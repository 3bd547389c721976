"""The benchmark harness: registry, flags, models, timing, kernel evidence and output.

A benchmark module defines `NAME`, `FLAGS`, `QUICK`, `run(output_dir, ...)`,
`markdown(result)` and `summary(result)`, and ends with `common.main(__name__)`.

>>> summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
True
>>> ratio_cell({"median": 1.5, "min": 1.4, "max": 1.6}), number_cell(12345.6)
('1.50 (1.40–1.60)', '12,346')
"""

import collections
import contextlib
import datetime
import functools
import glob
import inspect
import json
import math
import os
import pathlib
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

import zoo
from zoo import _cli, _launch, ops
from zoo.export._atomic import write_bytes, write_text  # the one atomic writer

# name -> module, in the order `python -m benchmarks` runs them and the report shows them.
BENCHMARKS = {name: f"benchmarks.{name}"
              for name in ("xla", "resnet_vs_keras", "vs_keras", "cudnn", "export", "data")}
DEVICES = ("cpu", "gpu")
REPO = pathlib.Path(__file__).resolve().parents[1]
STDERR_TAIL_LINES = 20


def _cpu_name():
    with contextlib.suppress(OSError):
        names = re.findall(r"^(?:model name|Model|cpu model)\s*:\s*(.+)$",
                           pathlib.Path("/proc/cpuinfo").read_text(errors="replace"), re.M)
        if names:
            return names[0].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def device_info():
    """The device TensorFlow runs on, its threads and convolution library (cuDNN, oneDNN, Eigen)."""
    gpus, setting = tf.config.list_physical_devices("GPU"), os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    build, cpu = dict(tf.sysconfig.get_build_info()), _cpu_name()
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
    return {"kind": "gpu" if gpus else "cpu", "name": names[0] if gpus else cpu, "cpu": cpu,
        "gpu_found": bool(gpus), "gpus": names, "platform": platform.platform(),
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                    "usable_cpus": usable, "logical_cpus": os.cpu_count(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "kernels": f"cuDNN {build.get('cudnn_version', '?')} / CUDA "
                   f"{build.get('cuda_version', '?')}" if gpus else "oneDNN ({})".format(
                       "default" if setting is None else f"TF_ENABLE_ONEDNN_OPTS={setting}")
                   if ops.onednn_enabled() else "Eigen"}


def tf_device(device):
    return "/GPU:0" if device["gpu_found"] else "/CPU:0"


def versions():
    """Versions of Python and the libraries a result depends on."""
    build = dict(tf.sysconfig.get_build_info())
    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "keras_backend": keras.backend.backend(),
            "numpy": np.__version__, "cuda_build": build.get("cuda_version"),
            "cudnn_build": build.get("cudnn_version")}


def launch_line(module, why=None, initialize_devices=True):
    """The first line a benchmark prints: backend, device, kernel library and who chose them."""
    why = why or _launch.decision or f"{_launch.ONEDNN_VARIABLE} as the caller left it"
    if initialize_devices:
        return f"{module}: {ops.describe()} ({why})"
    kind = ("gpu" if tf.config.list_physical_devices("GPU")
            else "cpu/onednn" if ops.onednn_enabled() else "cpu/eigen")
    return (f"{module}: TensorFlow {tf.__version__} (Keras {keras.__version__}) on {kind}: "
            + {"gpu": "GPU kernels (cuDNN)", "cpu/onednn": "oneDNN CPU kernels",
               "cpu/eigen": "TensorFlow's own (Eigen) CPU kernels"}[kind] + f" ({why})")


def child_env(**extra):
    """This environment plus `extra`, with this checkout first on PYTHONPATH."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def command_line(module, **flag_values):
    """`python -m module --flag=value ...`: lists comma-joined, True as `--flag`, None and False
    left out.

    >>> command_line("m", a=[1, 2], quick=True, b=None)[1:]
    ['-m', 'm', '--a=1,2', '--quick']
    """
    return [sys.executable, "-m", module] + [
        f"--{k}" if v is True else f"--{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in flag_values.items() if v is not None and v is not False]


def run_benchmark(cmd, output_dir, name, env=None, stdout=None):
    """Runs `cmd` from the repository root, echoing its stderr. Returns its record (a failure
    sets "reason") and the devices it wrote a fresh `<name>_<device>.json` for."""
    tail, started = collections.deque(maxlen=STDERR_TAIL_LINES), time.time()
    start = time.perf_counter()
    sys.stdout.flush()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env or child_env(), stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        for line in proc.stderr:
            sys.stderr.write(line)
            tail.append(line.rstrip("\n"))
        returncode = proc.wait()
    except BaseException:  # do not leave the child running
        proc.kill()
        proc.wait()
        raise
    record = {"command": shlex.join(["python"] + cmd[1:]), "returncode": returncode,
              "wall_s": time.perf_counter() - start, "stderr_tail": list(tail)}
    wrote = [d for d in DEVICES if os.path.isfile(path := result_path(output_dir, name, d))
             and os.path.getmtime(path) >= started - 1.0]
    if returncode != 0:
        record["reason"] = f"exit code {returncode}"
    elif not wrote:
        record["reason"] = f"exited 0 but wrote no {name}_<device>.json"
    return record, wrote


def result_path(output_dir, name, device, suffix=".json"):
    return os.path.join(output_dir, f"{name}_{device}{suffix}")


def utc_timestamp():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def logger(name):
    return lambda message: print(f"[{name}] {message}", file=sys.stderr, flush=True)


def _block(result):
    for leaf in tf.nest.flatten(result):
        if hasattr(leaf, "numpy"):
            leaf.numpy()


def time_repeats(candidates, *, steps, repeats, warmup, min_repeat_s=0.0, sync=_block,
                 clock=time.perf_counter, log=None):
    """Times `candidates` (name -> step) in turns, warmed up; the first call (compiling) apart.

    Returns:
        name -> `{"first_step_s", "warmup_s", "steps", "repeat_s"}`.
    """
    for name, value in (("steps", steps), ("repeats", repeats), ("warmup", warmup)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    log = log or (lambda message: None)

    def once(step):
        start = clock()
        sync(step())
        return clock() - start

    results = {name: {"first_step_s": once(step), "warmup_s": [], "steps": steps,
                      "repeat_s": []} for name, step in candidates.items()}
    for _ in range(warmup - 1):  # in turns too: none enters the repeats cold
        for name, step in candidates.items():
            results[name]["warmup_s"].append(once(step))
    if min_repeat_s > 0:
        for name, step in candidates.items():
            estimate = once(step)
            if estimate > 0:
                results[name]["steps"] = max(steps, min(10_000, math.ceil(min_repeat_s / estimate)))
    for repeat in range(repeats):
        for name, step in candidates.items():
            start, result = clock(), None
            for _ in range(results[name]["steps"]):
                result = step()
            sync(result)
            results[name]["repeat_s"].append(clock() - start)
            log(f"repeat {repeat + 1}/{repeats} {name}: {results[name]['repeat_s'][-1]:.3f} s")
    return results


def timed(fn, *args, **kwargs):
    """`(fn(*args, **kwargs), the seconds it took)`."""
    start = time.perf_counter()
    return fn(*args, **kwargs), time.perf_counter() - start


def throughputs(seconds, items):
    return [items / s for s in seconds]


def latencies_ms(seconds, calls):
    """Milliseconds per call of each timed block of `calls` calls.

    >>> latencies_ms([0.5, 0.25], 10)
    [50.0, 25.0]
    """
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be a positive integer, received calls={calls!r}")
    return [1000.0 * s / calls for s in seconds]


def per_repeat_ratios(numerators, denominators):
    """`numerators[i] / denominators[i]`: ratios within a repeat cancel its noise."""
    if len(numerators) != len(denominators):
        raise ValueError("numerators and denominators must have the same length, received "
                         f"{len(numerators)} and {len(denominators)}")
    return [n / d for n, d in zip(numerators, denominators)]


def summarize(values):
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must be a non-empty list of numbers, received []")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"values must all be finite, received values={values}")
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio_stats(numerators, denominators):
    """The per-repeat ratios summarized, their list, and the ratio of the medians."""
    per_repeat = per_repeat_ratios(numerators, denominators)
    return {**summarize(per_repeat), "per_repeat": per_repeat,
            "of_medians": statistics.median(numerators) / statistics.median(denominators)}


def first_line(exc, kind=None):
    """How a failure (or a warning of `kind`) is reported: `"TypeName: first line of message"`."""
    lines, name = str(exc).strip().splitlines(), (kind or type(exc)).__name__
    return f"{name}: {lines[0]}" if lines else name


@contextlib.contextmanager
def recording_warnings(into):
    """Appends `"Category: first line"` of each warning raised inside, once, to `into`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                line = first_line(w.message, w.category).rstrip(": ")
                if line not in into:
                    into.append(line)


def attempt(fn, key="error", **fallback):
    """`fn()`, or `fallback` with the first line of what it raised as `key`.

    >>> attempt(lambda: 1 / 0, kernel=None)
    {'kernel': None, 'error': 'ZeroDivisionError: division by zero'}
    """
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - evidence, not the measurement
        return {**fallback, key: first_line(exc)}


class GuardedStep:
    """A step that records its first failure (`error`), then returns None; the others still run.

    >>> step = GuardedStep(lambda: 1 / 0)
    >>> step() is None and step.error
    'ZeroDivisionError: division by zero'
    """

    def __init__(self, step, warnings=None):
        self.step, self.warnings, self.error, self.calls = step, warnings, None, 0

    def __call__(self):
        if self.error:
            return None
        self.calls += 1
        first = self.calls == 1 and self.warnings is not None  # only the first call's warnings
        try:
            with recording_warnings(self.warnings) if first else contextlib.nullcontext():
                return self.step()
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            self.error = first_line(exc)
            return None


CUDNN_RNN_OP_PREFIX = "CudnnRNN"  # CudnnRNNV3 and its backprop: cuDNN's RNN kernel
WHILE_LOOP_OPS = ("While", "StatelessWhile")  # Keras' generic RNN kernel
ONEDNN_PREFIXES = ("_MklNative", "_Mkl")
HEAVY_TF_OP = re.compile(r"Conv[23]D|DepthwiseConv|MatMul|Einsum")
HEAVY_HLO = re.compile(r"^(convolution|dot|ynn_fusion|xnn_fusion)|Conv[23]D|MatMul|Einsum|onednn",
                       re.IGNORECASE)


def tf_functions_in(fn, max_objects=1000):
    """The `tf.function`s reachable from `fn` through closures (`model.train_function`)."""
    found, seen, queue = [], set(), [fn]
    while queue and len(seen) < max_objects:
        obj = queue.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, tf.types.experimental.PolymorphicFunction):
            found.append(obj)
        elif isinstance(obj, types.MethodType):
            queue.append(obj.__func__)
        elif isinstance(obj, functools.partial):
            queue.append(obj.func)
        elif isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell
                    queue.append(cell.cell_contents)
    return found


def op_type_counts(graph_or_function):
    """Op type -> count in a traced graph and every function of its library."""
    graph = getattr(graph_or_function, "graph", graph_or_function)
    graph_def = graph.as_graph_def() if hasattr(graph, "as_graph_def") else graph
    counts = collections.Counter(node.op for node in graph_def.node)
    for function_def in graph_def.library.function:
        counts.update(node.op for node in function_def.node_def)
    return counts


def rnn_kernel_from_op_types(op_counts):
    """`(kernel, evidence)`: "cudnn" when a `CudnnRNN*` op is traced (Keras picks the kernel while
    tracing), else "generic" (a `While` loop).

    >>> rnn_kernel_from_op_types({"CudnnRNNV3": 1, "MatMul": 4})
    ('cudnn', {'CudnnRNNV3': 1})
    """
    evidence = {op: int(n) for op, n in sorted(op_counts.items())
                if op.startswith(CUDNN_RNN_OP_PREFIX) or op in WHILE_LOOP_OPS}
    return ("cudnn" if any(op.startswith(CUDNN_RNN_OP_PREFIX) for op in evidence)
            else "generic"), evidence


def traced_train_step(model, x, y, sample_weight=None):
    """`(concrete function, source)` of a compiled model's train step."""
    data = (x, y, sample_weight)
    if getattr(model, "train_function", None) is not None:
        for fn in tf_functions_in(model.train_function):
            if fn.experimental_get_tracing_count():
                with contextlib.suppress(TypeError, ValueError):
                    return fn.get_concrete_function(data), "model.train_function"
    fn = tf.function(model.train_step, jit_compile=bool(model.jit_compile))
    return fn.get_concrete_function(data), "tf.function(model.train_step)"


def detect_rnn_kernel(model, x, y):
    """`{"kernel", "source", "ops"}` of `model`'s traced train step."""
    concrete, source = traced_train_step(model, x, y)
    kernel, evidence = rnn_kernel_from_op_types(op_type_counts(concrete))
    return {"kernel": kernel, "source": source, "ops": evidence}


def path_of(model):
    return "eager" if model.run_eagerly else "xla" if model.jit_compile else "graph"


def _xla_must_compile(function_def):
    attr = function_def.attr.get("_XlaMustCompile")
    return bool(attr.b) if attr is not None else False


def path_evidence(model, x, y, requested_jit, recurrent):
    """What ran: compile settings, `_XlaMustCompile` marks and, if `recurrent`, the RNN kernel."""
    evidence = {"run_eagerly": bool(model.run_eagerly), "jit_compile_requested": requested_jit,
                "jit_compile": bool(model.jit_compile), "train_step_source": None,
                "train_step_xla_must_compile": None, "predict_xla_functions": None,
                "ran": path_of(model)}
    if not model.run_eagerly:
        try:
            concrete, evidence["train_step_source"] = traced_train_step(model, x, y)
            must = evidence["train_step_xla_must_compile"] = _xla_must_compile(
                concrete.function_def)
            evidence["ran"] = "xla" if must else "graph"
        except Exception as exc:  # noqa: BLE001 - evidence, not the measurement
            evidence["train_step_error"] = first_line(exc)
        try:
            graph_def = model.predict_function.get_concrete_function([(x,)]).graph.as_graph_def()
            evidence["predict_xla_functions"] = sum(
                _xla_must_compile(f) for f in graph_def.library.function)
        except Exception as exc:  # noqa: BLE001
            evidence["predict_error"] = first_line(exc)
    if recurrent:
        evidence["rnn_kernel"] = attempt(lambda: detect_rnn_kernel(model, x, y), kernel=None)
    return evidence


def read_trace(step, steps, digest):
    """`digest(events)` of `steps` profiled calls of `step` (`(name, seconds, is_xla)` events),
    with `steps` and their `wall_s`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory(prefix="bench_profile_") as logdir:
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
        space.ParseFromString(pathlib.Path(path).read_bytes())
    events = []
    for plane in space.planes:
        hlo = {k for k, v in plane.stat_metadata.items() if v.name == "hlo_op"}
        xla = {k for k, m in plane.event_metadata.items() if any(s.metadata_id in hlo
                                                                  for s in m.stats)}
        for line in plane.lines:
            for e in line.events:
                is_xla = e.metadata_id in xla or any(s.metadata_id in hlo for s in e.stats)
                events.append((plane.event_metadata[e.metadata_id].name,
                               e.duration_ps * 1e-12, is_xla))
    return {**digest(events), "steps": steps, "wall_s": wall}


def kernel_counts(events):
    """Convolution and matmul executions of `(event_name, seconds, is_xla)` events by library:
    `onednn` (`_Mkl*` ops), `eigen` (TensorFlow's own), `xla` (HLO); `onednn_ops` (any `_Mkl*`
    op), `xla_events`, `op_types` and `library` ("xla+onednn", ..., "none").

    >>> kernel_counts([("c/Conv2D:_MklNativeConv2D", 1.0, False), ("d/MatMul:MatMul", 1.0, False),
    ...                ("convolution.3", 1.0, True)])["library"]
    'xla+onednn+eigen'
    """
    counts = {"onednn": 0, "eigen": 0, "xla": 0, "onednn_ops": 0, "xla_events": 0}
    op_types = collections.Counter()
    for name, _, is_xla in events:
        if is_xla:
            counts["xla_events"] += 1
            op = re.sub(r"\.\d+$", "", name.strip())
            library = "xla" if HEAVY_HLO.search(op) else None
        elif "::" in name or ":" not in name or name.startswith(("EagerLocalExecute", "end:")):
            continue
        else:
            op = name.rsplit(":", 1)[1].strip()
            onednn = op.startswith(ONEDNN_PREFIXES)
            counts["onednn_ops"] += onednn
            library = ("onednn" if onednn else "eigen") if HEAVY_TF_OP.search(op) else None
        if library:
            counts[library] += 1
            op_types[op] += 1
    counts["library"] = "+".join(k for k in ("xla", "onednn", "eigen") if counts[k]) or "none"
    counts["op_types"] = dict(op_types.most_common())
    return counts


def modality(name):
    return zoo.model_info(name).modality if zoo.registry.model_family(name) else "image"


def registered_models():
    return zoo.list_models()


def default_models():
    """What the model families put forward (`model_info(name).benchmarked`), in registry order."""
    return [n for n in registered_models() if zoo.registry.model_family(n)
            and zoo.model_info(n).benchmarked]


def model_size(name, model=None):
    """`(weight tensors, parameters)` of model `name` as built."""
    model = model or zoo.create_model(name)
    return len(model.weights), int(model.count_params())


def smallest_models(names=None, also=()):
    """--quick's models: the smallest of each modality (and of each predicate of `also`)."""
    names = list(default_models() if names is None else names)
    models = {name: zoo.create_model(name) for name in names}
    size = {n: model_size(n, m) for n, m in models.items()}
    chosen = {min((n for n in names if modality(n) == kind), key=size.__getitem__)
              for kind in dict.fromkeys(map(modality, names))}
    for predicate in also:
        takers = [n for n in names if predicate(models[n])]
        if takers and not chosen.intersection(takers):
            chosen.add(min(takers, key=size.__getitem__))
    return [n for n in names if n in chosen]


Flag = collections.namedtuple("Flag", "kind default help kwargs")
FLAG_KINDS = {bool: "boolean", int: "integer", float: "float", list: "list"}  # absl's DEFINE_*


def flag(default, help, kind=None, **kwargs):
    """A flag's spec, its kind from `default` (or `enum_values=`)."""
    kind = kind or ("enum" if "enum_values" in kwargs else FLAG_KINDS.get(type(default), "string"))
    return Flag(kind, default, help, kwargs)


COMMON_FLAGS = {
    "output_dir": flag("benchmarks/results", "Directory for the results (created if missing)."),
    "repeats": flag(5, "Timed repeats per candidate, taken in turns (A, B, C, A, B, C, ...)."),
    "warmup": flag(1, "Untimed calls per candidate before timing; the first (tracing, "
                      "compilation) is reported apart."),
    "seed": flag(0, "Seed of the inputs and of the weight initializers.", lower_bound=0),
    "quick": flag(False, "Smoke run"),
}
MODELS_FLAG = flag(default_models, "Models to measure: any registered name; default: what "
                   "each family puts forward (`benchmarked` in its metadata).", kind="list",
                   choices=registered_models)


def _specs(module):
    common = {name: COMMON_FLAGS[name] for name in getattr(module, "COMMON", COMMON_FLAGS)}
    for name, default in getattr(module, "DEFAULTS", {}).items():
        common[name] = common[name]._replace(default=default)
    return {**common, **module.FLAGS}


def define_flags(flag_values, module):
    """Defines the harness' flags (`module.COMMON`, default all) and `module.FLAGS`."""
    for name, spec in _specs(module).items():
        kwargs = {k: v for k, v in spec.kwargs.items() if k != "choices"}
        if spec.kind == "integer":
            kwargs.setdefault("lower_bound", 1)
        text = spec.help
        if name == "quick":
            text += ": " + ", ".join(
                f"--{k}=" + ("the smallest default models" if callable(v) else str(v))
                for k, v in getattr(module, "QUICK", {}).items()) + " (flags given win)."
        default = spec.default() if callable(spec.default) else spec.default
        getattr(flags, f"DEFINE_{spec.kind}")(name, default, help=text,
                                             flag_values=flag_values, **kwargs)
        if spec.kind == "float":  # absl's bounds let NaN through
            flags.register_validator(name, math.isfinite, flag_values=flag_values,
                                     message=f"--{name} must be a finite number")


def check_list(flag_name, values, choices):
    """`values` cleaned, each one of `choices`; else an `app.UsageError` naming them."""
    clean = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if choices is int:
        bad, known = [v for v in clean if not v.isdigit() or int(v) < 1], "positive integers"
    else:
        known = choices() if callable(choices) else choices
        bad, known = [v for v in clean if v not in known], ",".join(known)
    if not clean or bad:
        what = f"unknown value(s) {', '.join(map(repr, bad))}" if bad else "(none given)"
        raise app.UsageError(f"--{flag_name}={','.join(values)}: {what}; choose from {known}")
    return [int(v) for v in clean] if choices is int else clean


def validate_output_dir(path, flag_name="output_dir"):
    """`path`, created if needed and checked writable before any timing, absolute."""
    try:
        if not path:
            raise OSError("empty path")
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise app.UsageError(f"--{flag_name}={path!r} is not a writable directory: "
                             f"{exc.strerror or exc}") from None
    return os.path.abspath(path)


def check_flags(flag_values, module):
    """What absl cannot check, before any work; returns the --output_dir."""
    if "quick" in flag_values and flag_values.quick:
        for name, value in getattr(module, "QUICK", {}).items():
            if not flag_values[name].present:
                flag_values[name].value = value() if callable(value) else value
    if hasattr(module, "check"):
        module.check(flag_values)
    for name, spec in _specs(module).items():
        if "choices" in spec.kwargs and flag_values[name].value is not None:
            flag_values[name].value = check_list(name, flag_values[name].value,
                                                 spec.kwargs["choices"])
    least = getattr(module, "MIN_REPEATS", None)
    if least and not flag_values.quick and (flag_values.repeats or least) < least:
        raise app.UsageError(f"--repeats={flag_values.repeats}: at least {least} repeats "
                             "for a full run (use --quick for a smoke run)")
    return validate_output_dir(flag_values.output_dir)


def parse_flags(module, argv):
    """`(flag_values, output_dir)` of `argv`, parsed and checked on a fresh `FlagValues`."""
    flag_values = flags.FlagValues()
    define_flags(flag_values, module)
    flag_values([module.__name__, *argv])
    return flag_values, check_flags(flag_values, module)


def invoke(module, flag_values, output_dir):
    """`module.run` with the flags its keywords name; returns an exit code."""
    params = inspect.signature(module.run).parameters
    outcome = module.run(**{name: flag_values[name].value for name in params
                            if name in flag_values and name != "output_dir"},
                         output_dir=output_dir)
    if isinstance(outcome, int):
        return outcome
    return 1 if isinstance(outcome, dict) and outcome.get("failed") else 0


def run_module_in_process(module, argv):
    return invoke(module, *parse_flags(module, argv))


def main(name):
    """A benchmark's command line: bad flags exit 2 with a usage line."""
    module = sys.modules[name]
    command = f"benchmarks.{module.NAME}" if hasattr(module, "NAME") else "benchmarks"
    define_flags(flags.FLAGS, module)

    def checked_main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        output_dir = check_flags(flags.FLAGS, module)
        if getattr(module, "LAUNCH", True):
            print(launch_line(command), flush=True)
        return invoke(module, flags.FLAGS, output_dir)

    _cli.run(checked_main, command)


def write_json(path, data):
    """Writes `data` as indented JSON, atomically; NaN and infinity are refused."""
    return write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def arguments(values):
    """`run`'s arguments (`locals()`) but `output_dir`: the start of a result's config."""
    return {k: v for k, v in values.items() if k != "output_dir"}


def envelope(name, description, config, device=None):
    """The keys every result starts with."""
    return {"benchmark": name, "description": description,
            "command": " ".join(["python", "-m", f"benchmarks.{name}"] + sys.argv[1:]),
            "timestamp": utc_timestamp(), "device": device or device_info(),
            "versions": versions(), "config": config}


def publish(name, result, output_dir, markdown, summary, kind=None):
    """Stores `summary(result)`, prints `markdown(result)`, writes `<name>_<kind>.json/.md`."""
    kind = kind or result["device"]["kind"]
    result["summary"] = summary(result)
    text = markdown(result)
    print(text)
    for suffix, write, data in ((".json", write_json, result), (".md", write_text, text)):
        print("wrote", write(result_path(output_dir, name, kind, suffix), data))
    return result


def device_line(dev):
    return (f"- device: {dev['kind']}, {dev['name']}" + " (no GPU found)" * (not dev["gpu_found"])
            + f"; kernels: {dev['kernels']}")


def header(title, result, *lines):
    """A report's title and context lines, `lines` among them."""
    cfg, ver, threads = result["config"], result["versions"], result["device"]["threads"]
    steps = cfg.get("steps") or cfg.get("iterations")
    return [f"# {title}", "", device_line(result["device"]),
            f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
            f"(0 = TF default), usable CPUs: {threads['usable_cpus']}",
            f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
            f"({ver['keras_backend']}), Python {ver['python']}", *lines,
            *[f"- {cfg['warmup']} warm-up call(s) each (the first, tracing included, "
              f"reported apart), then {cfg['repeats']} repeats x {steps} timed calls, in "
              "turns"] * bool(steps), f"- {result['timestamp']}, `{result['command']}`", ""]


def markdown_table(headers, rows, align=None):
    """A GitHub table; `align`: l, r or c per column."""
    align = align or "l" * len(headers)
    if len(align) != len(headers) or any(len(row) != len(headers) for row in rows):
        raise ValueError("align and every row must have one entry per header")
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    return "\n".join(["| " + " | ".join(map(str, headers)) + " |",
                      "|" + "|".join(rule[a] for a in align) + "|"]
                     + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def cut(text, width=100):
    return text if len(text) <= width else text[:width - 1] + "…"


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def stats_of(value):
    """`{"median", "min", "max"}` of a summary or a number, or None.

    >>> stats_of(2) == {"median": 2.0, "min": 2.0, "max": 2.0}, stats_of({"median": None})
    (True, None)
    """
    value = value if isinstance(value, dict) else {"median": value}
    median, low, high = (_finite(value.get(k)) for k in ("median", "min", "max"))
    return None if median is None else {"median": median, "min": median if low is None else low,
                                        "max": median if high is None else high}


def number_cell(value, digits=2, like=None):
    """`value` with `digits` decimals, none from 100 up (judged on `like`).

    >>> number_cell(1.234), number_cell(123.4), number_cell(None)
    ('1.23', '123', 'n/a')
    """
    value = _finite(value)
    if value is None:
        return "n/a"
    size = abs(value if _finite(like) is None else like)
    return (f"{value:,.0f}" if size >= 1000 else f"{value:.0f}" if size >= 100
            else f"{value:.{digits}f}")


def ratio_cell(stats, digits=2):
    """`"median (min–max)"`; one number when they agree; "n/a" for none."""
    stats = stats_of(stats)
    if stats is None:
        return "n/a"
    median = stats["median"]
    if stats["min"] == stats["max"] == median:
        return number_cell(median, digits)
    return (f"{number_cell(median, digits)} ({number_cell(stats['min'], digits, median)}–"
            f"{number_cell(stats['max'], digits, median)})")


def summary_item(benchmark, key, label, stats, note, **extra):
    """A row of `summary["items"]`."""
    return {"benchmark": benchmark, "key": key, "label": label,
            **(stats_of(stats) or dict.fromkeys(("median", "min", "max"))), "note": note, **extra}


def headline(title, headers, rows, align, note, items, chart=None):
    """A result's `summary`: the report's headline table, its rows and chart."""
    return {"title": title, "items": items, "chart": chart, "markdown": "\n\n".join(
        [markdown_table(headers, rows, align), note]) if rows else "No figures in the result."}
