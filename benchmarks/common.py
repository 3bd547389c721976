"""The benchmark harness: the command line, models, timing and output every
benchmark shares.

A benchmark module (`python -m benchmarks.NAME`) keeps only what it
measures. It defines `MODULE`, `define_flags(flag_values)` (calling
`define_common_flags`: --output_dir, --repeats, --warmup, --seed, --quick,
and --models from the registry), `check_flags(flag_values)` (calling
`check_flags`) and `run_from_flags(flag_values, checked)`, and ends with
`common.main(MODULE, define_flags, check_flags, run_from_flags)`. Then it
follows the same recipe (DESIGN.md, "Benchmarks"):

1. say where it runs: `main` prints `launch_line(MODULE)` first (backend,
   device, kernel library and who chose them); the result records
   `device_info()` and `versions()` (`envelope`);
2. time the candidates in one process with `time_repeats(...)`: the first
   call of each (tracing, graph building, compilation) is timed on its own,
   further warm-up calls are discarded, then the candidates take turns
   (A, B, C, A, B, C, ...) so that machine noise hits all of them alike;
3. reduce with `throughputs(...)`, `per_repeat_ratios(...)` and
   `summarize(...)` (median, min, max);
4. report with `markdown_table(...)` and `publish(...)`, which writes
   `<name>_<device>.json` and `.md` atomically, the JSON carrying the
   headline `benchmarks.report` joins (`summary`, built with
   `summary_item`, `ratio_cell`, `number_cell`).

Models come from the registry and the family contract: `default_models()`,
`check_models(names)`, `modality(name)`; never from a list of names here.

Example:
>>> stats = summarize([3.0, 1.0, 2.0])
>>> stats == {"median": 2.0, "min": 1.0, "max": 3.0}
True
>>> per_repeat_ratios([2.0, 3.0], [1.0, 2.0])
[2.0, 1.5]
"""

import collections
import datetime
import functools
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
        overrides: dict, flag name -> quick value, or a zero-argument callable
            returning it (computed only when applied, e.g. `QuickModels`).

    Returns:
        dict of the overrides actually applied.
    """
    applied = {}
    for name, value in overrides.items():
        if not flag_values[name].present:
            value = value() if callable(value) else value  # e.g. `QuickModels`
            flag_values[name].value = value
            applied[name] = value
    return applied


def command_line(module):
    """The command that produced a result, for the record."""
    return " ".join(["python", "-m", module] + sys.argv[1:])


def logger(name):
    """A progress logger: `logger("data")("x")` prints `[data] x` to stderr, flushed."""
    def log(message):
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return log


# --------------------------------------------------------------------------
# The command line every benchmark shares (see the module docstring).


COMMON_HELP = {
    "output_dir": "Directory for the JSON and markdown results (created if missing).",
    "repeats": "Timed repeats per candidate, taken in turns (A, B, C, ..., A, B, C, ...).",
    "warmup": "Untimed calls per candidate before timing; the first (tracing, compilation) "
              "is reported apart.",
    "seed": "Seed of the inputs and of the weight initializers.",
    "quick": "Smoke run",
    "models": "Models to measure: any registered name (zoo.list_models()); the default is "
              "what each model family puts forward (`benchmark_models`).",
}


def define_common_flags(flag_values, quick, *, repeats=5, warmup=1, models=False, help=None):
    """Defines the flags every benchmark takes, on `flag_values`.

    --output_dir, --repeats, --warmup, --seed and --quick (whose help lists
    the presets `quick`), and with `models=True` --models (default
    `default_models()`). Called from a benchmark's `define_flags`, so that
    importing a benchmark (tests) adds nothing to absl's global FLAGS.

    Args:
        flag_values: `absl.flags.FlagValues`.
        quick: dict, flag name -> value under --quick.
        repeats, warmup: the defaults of --repeats and --warmup.
        models: bool. Define --models too.
        help: optional dict, flag name -> help text replacing `COMMON_HELP`'s.

    >>> from absl import flags
    >>> fv = flags.FlagValues()
    >>> define_common_flags(fv, {"repeats": 2}, warmup=3)
    >>> fv(["prog", "--quick"]) and (fv.repeats, fv.warmup, fv.output_dir)
    (5, 3, 'benchmarks/results')
    """
    from absl import flags

    text = {**COMMON_HELP, **(help or {})}
    presets = ", ".join(f"--{k}={v}" for k, v in quick.items())
    flags.DEFINE_string("output_dir", "benchmarks/results", text["output_dir"],
                        flag_values=flag_values)
    flags.DEFINE_integer("repeats", repeats, text["repeats"], lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("warmup", warmup, text["warmup"], lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, text["seed"], lower_bound=0, flag_values=flag_values)
    flags.DEFINE_boolean("quick", False, f"{text['quick']}: {presets} (flags given explicitly "
                         "win).", flag_values=flag_values)
    if models:
        flags.DEFINE_list("models", default_models(), text["models"], flag_values=flag_values)


def check_flags(flag_values, quick, *, min_repeats=None):
    """What absl's parser cannot check of the shared flags, before any work.

    Applies --quick's presets (`quick`: flag name -> value); outside
    --quick, --repeats must be at least `min_repeats` (the rule for a
    published figure); --models, where defined, is checked
    (`check_models`) and replaced by its clean list; --output_dir must be
    writable.

    Returns:
        The output directory (`validate_output_dir`).

    Raises:
        app.UsageError: naming the flag and the value received.
    """
    if flag_values.quick:
        apply_quick(flag_values, quick)
    elif min_repeats is not None and (flag_values.repeats or min_repeats) < min_repeats:
        raise app.UsageError(f"--repeats={flag_values.repeats}: at least {min_repeats} "
                             "repeats for a full run (use --quick for a smoke run)")
    if "models" in flag_values:
        flag_values.models = check_models(flag_values.models)
    return validate_output_dir(flag_values.output_dir)


def flag_checker(quick, *, min_repeats=None):
    """`check_flags` with a benchmark's --quick presets bound: its module's
    `check_flags(flag_values)` when the shared checks are all it needs."""
    return functools.partial(check_flags, quick=quick, min_repeats=min_repeats)


def main(module, define_flags, check_flags, run_from_flags, *, launch=True):
    """Runs a benchmark from the command line: its `if __name__ == "__main__"` body.

    Defines the flags on absl's FLAGS, parses them through `zoo._cli.run`
    (a bad flag, or an `app.UsageError` from `check_flags` or the run, exits
    2 with a usage line and no traceback), rejects stray arguments, checks
    the flags before any work, prints the launch line (unless `launch` is
    False: the run prints its own), then exits with what
    `run_from_flags(FLAGS, checked)` returns (None: 0).

    Args:
        module: the command, e.g. `"benchmarks.export"`.
        define_flags: callable(flag_values).
        check_flags: callable(flag_values) -> `checked`, passed on as is.
        run_from_flags: callable(flag_values, checked) -> exit code or None.
        launch: bool. Print `launch_line(module)` after the checks.
    """
    from absl import flags

    from zoo import _cli

    define_flags(flags.FLAGS)

    def checked_main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        checked = check_flags(flags.FLAGS)
        if launch:
            print_launch_line(module)
        return run_from_flags(flags.FLAGS, checked)

    _cli.run(checked_main, module)


def parse_flags(module, argv):
    """`argv` parsed and checked as `python -m MODULE ARGV` would, nothing run.

    Args:
        module: a benchmark module (`MODULE`, `define_flags`, `check_flags`).
        argv: list of flags.

    Returns:
        `(flag_values, checked)`, on a fresh `FlagValues`.

    Raises:
        absl.flags.Error, app.UsageError: as the command line would report them.
    """
    from absl import flags

    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    flag_values([module.MODULE, *argv])
    return flag_values, module.check_flags(flag_values)


def run_module_in_process(module, argv):
    """Runs `module` (see `parse_flags`) in this process; returns what its run returns."""
    flag_values, checked = parse_flags(module, argv)
    return module.run_from_flags(flag_values, checked)


# --------------------------------------------------------------------------
# Which models: from the registry and the family contract.


def _family(name):
    from zoo import registry

    return registry.model_family(name)


def default_models():
    """What the model families put forward for benchmarks, in registry order.

    Each family's `benchmark_models` (None: all of its registered names).
    Functions registered without a family are measured only when named.
    """
    import zoo

    chosen = []
    for name in zoo.list_models():
        family = _family(name)
        if family is None:
            continue
        wanted = family.benchmark_models
        if wanted is None or name in wanted:
            chosen.append(name)
    return chosen


def model_size(name):
    """How big registered model `name` is for a smoke run: `(weight tensors,
    parameters)` of `zoo.create_model(name)` as built by default.

    The number of weight tensors counts the layers that hold state, a proxy
    for the ops a train step traces, optimizes and (with XLA) compiles: what
    a `--quick` run's time goes to (a first step takes seconds, a timed one
    milliseconds). Parameters break ties.
    """
    import zoo

    return _size_of(zoo.create_model(name))


def _size_of(model):
    return len(model.weights), int(model.count_params())


def smallest_models(names=None, also=None):
    """The models a `--quick` run measures: of `names` (default
    `default_models()`), the smallest (`model_size`) of each modality, in
    `names`' order.

    Args:
        names: registered model names, or None for `default_models()`.
        also: optional iterable of predicates, `predicate(model) -> bool` on
            a built model: for each one that no chosen model satisfies, the
            smallest model of `names` that does is added too (a path that
            only some models take, e.g. BatchNorm folding, is still
            exercised once).

    Returns:
        list of names.
    """
    import zoo

    names = list(default_models() if names is None else names)
    models = {name: zoo.create_model(name) for name in names}
    size = {name: _size_of(model) for name, model in models.items()}
    chosen = set()
    for kind in dict.fromkeys(modality(n) for n in names):
        chosen.add(min((n for n in names if modality(n) == kind), key=size.__getitem__))
    for predicate in also or ():
        takers = [n for n in names if predicate(models[n])]
        if takers and not chosen.intersection(takers):
            chosen.add(min(takers, key=size.__getitem__))
    return [n for n in names if n in chosen]


class QuickModels:
    """`--quick`'s preset of --models: `smallest_models(also=also)`, computed
    when the preset is applied (`apply_quick`); reads as `description` in
    --quick's help.

    >>> str(QuickModels())
    'the smallest default model of each modality (fewest weight tensors)'
    """

    def __init__(self, also=None, description=None):
        self.also = tuple(also or ())
        self.description = description or ("the smallest default model of each modality "
                                            "(fewest weight tensors)")

    def __call__(self):
        return smallest_models(also=self.also)

    def __str__(self):
        return self.description


def check_models(names, flag="models"):
    """`names` stripped and deduplicated, each a registered model.

    Raises:
        app.UsageError: `--FLAG=...` with the unknown names (or none given)
            and the registered ones.
    """
    import zoo

    known = zoo.list_models()
    clean = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [n for n in clean if n not in known]
    if not clean or unknown:
        what = (f"unknown model(s) {', '.join(map(repr, unknown))}" if unknown
                else "(none given)")
        raise app.UsageError(f"--{flag}={','.join(names)}: {what}; choose from "
                             f"{', '.join(known)}")
    return clean


def modality(name):
    """`"image"` or `"text"`: what registered model `name` takes, from its family
    (no model built); `"image"` for a function registered without a family."""
    family = _family(name)
    return getattr(family, "modality", None) or "image"


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


def tf_device(device):
    """The TensorFlow device a benchmark's models run on, from `device_info()`."""
    return "/GPU:0" if device["gpu_found"] else "/CPU:0"


def envelope(name, description, device, config, module=None):
    """The keys every result starts with: benchmark, description, command,
    timestamp, device, versions, config. A benchmark adds its own after them."""
    return {
        "benchmark": name,
        "description": description,
        "command": command_line(module or f"benchmarks.{name}"),
        "timestamp": utc_timestamp(),
        "device": device,
        "versions": versions(),
        "config": config,
    }


def publish(name, result, markdown, output_dir, device_kind=None, *, summary=None):
    """Prints the report and writes `<name>_<kind>.json` and `.md` atomically.

    Args:
        name: the benchmark's name.
        result: its JSON-ready result.
        markdown: its report.
        output_dir: where to write.
        device_kind: "cpu" or "gpu"; default `result["device"]["kind"]`.
        summary: optional callable, `summary(result)` -> the dict stored as
            `result["summary"]`, the one field `benchmarks.report` reads
            (`{"title", "markdown", "items", "chart"}`, see `summary_item`;
            `chart`: None, or one grouped-bar panel or a list of them, see
            `benchmarks.report.chart_panels`).

    Returns:
        `(json path, markdown path)`.
    """
    kind = device_kind or result["device"]["kind"]
    if summary is not None:
        result["summary"] = summary(result)
    print(markdown)
    json_path = write_json_atomic(os.path.join(output_dir, f"{name}_{kind}.json"), result)
    md_path = write_text_atomic(os.path.join(output_dir, f"{name}_{kind}.md"), markdown)
    print(f"\nwrote {json_path}\nwrote {md_path}")
    return json_path, md_path


def context_lines(result, device_note="", threads_note=""):
    """A report's first lines: the device, its threads and the versions.

    Args:
        result: a result holding `device_info()` and `versions()` (`envelope`).
        device_note, threads_note: text appended to those lines, e.g. where
            each part of the benchmark runs.

    Returns:
        list of three markdown list items.
    """
    dev, ver, threads = result["device"], result["versions"], result["device"]["threads"]
    return [
        f"- device: {dev['kind']}, {dev['name']}" + ("" if dev["gpu_found"] else " (no GPU found)")
        + f"; kernels: {dev['kernels']}{device_note}",
        f"- threads: intra_op={threads['intra_op']}, inter_op={threads['inter_op']} "
        f"(0 = TF default), usable CPUs: {threads['usable_cpus']}{threads_note}",
        f"- versions: TensorFlow {ver['tensorflow']}, Keras {ver['keras']} "
        f"({ver['keras_backend']}), Python {ver['python']}",
    ]


# --------------------------------------------------------------------------
# A result's summary: the headline the report shows, and its rows.


def _finite(value):
    """A finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def stats_of(value):
    """`{"median", "min", "max"}` from a summary dict or a bare number, or None.

    >>> stats_of(2) == {"median": 2.0, "min": 2.0, "max": 2.0}
    True
    >>> stats_of({"median": 1.5}) == {"median": 1.5, "min": 1.5, "max": 1.5}
    True
    >>> stats_of(None) is None and stats_of({"median": float("nan")}) is None
    True
    """
    if isinstance(value, dict):
        median = _finite(value.get("median"))
        if median is None:
            return None
        low, high = _finite(value.get("min")), _finite(value.get("max"))
        return {"median": median, "min": median if low is None else low,
                "max": median if high is None else high}
    number = _finite(value)
    return None if number is None else {"median": number, "min": number, "max": number}


def number_cell(value, digits=2, like=None):
    """`value` with `digits` decimals, none from 100 up (judged on `like` when
    given, so that a median and its range read alike); "n/a" for no number.

    >>> number_cell(1.234), number_cell(123.4), number_cell(12345.6), number_cell(None)
    ('1.23', '123', '12,346', 'n/a')
    """
    value = _finite(value)
    if value is None:
        return "n/a"
    size = abs(value if _finite(like) is None else like)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def ratio_cell(stats, digits=2):
    """A median and its range, `"1.50 (1.40–1.60)"`; one number when they agree.

    >>> ratio_cell({"median": 1.5, "min": 1.4, "max": 1.6}), ratio_cell(0.5), ratio_cell(None)
    ('1.50 (1.40–1.60)', '0.50', 'n/a')
    """
    stats = stats_of(stats)
    if stats is None:
        return "n/a"
    median = stats["median"]
    if stats["min"] == stats["max"] == median:
        return number_cell(median, digits)
    return (f"{number_cell(median, digits)} ({number_cell(stats['min'], digits, median)}–"
            f"{number_cell(stats['max'], digits, median)})")


def summary_item(benchmark, key, label, stats, note, **extra):
    """One row of a result's `summary["items"]` (and of the report's merged summary).

    Args:
        benchmark: the benchmark's name.
        key: str, unique within the benchmark, e.g. `"resnet20@1/tflite/ratio_vs_keras"`.
        label: what the number is, in words.
        stats: `{"median", "min", "max"}` or a number (None: no figure).
        note: how to read it, e.g. `"> 1: faster"`.
        **extra: further JSON-ready fields; `ran=False` marks a path that did
            not run as labelled (refused, skipped): the table still shows
            it, the report's chart draws no bar for it.

    >>> summary_item("data", "digits/x", "digits: x", 2.0, "> 1: more")["min"]
    2.0
    """
    stats = stats_of(stats)
    return {"benchmark": benchmark, "key": key, "label": label,
            "median": stats and stats["median"], "min": stats and stats["min"],
            "max": stats and stats["max"], "note": note, **extra}
