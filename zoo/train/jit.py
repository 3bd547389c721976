"""`--jit_compile`: XLA on, off, the measured default (`auto`), or timed (`probe`).

- `auto`: the model family's `xla_defaults` for this device and kernel
  library (`zoo.ops.tensorflow_platform()`: `cpu/onednn`, `cpu/eigen`,
  `gpu`, `tpu`), set from what `python -m benchmarks.xla` measured
  (`ZooModel.preferred_jit_compile`). A table, not a probe: it costs
  nothing at start-up, gives the same answer on every run, and XLA's
  compile time (up to a minute for ResNet-50 on a CPU) would make a probe
  the slowest part of a short run. `probe` is there for machines unlike
  the measured ones.
- `probe`: a few train steps of each path on a real batch, timed on twins
  of the model (same config and weights) so the model itself is untouched;
  the faster path wins (`choose_faster`).

Example:

>>> choose_faster({"graph": 0.031, "xla": 0.092})
'graph'
"""

import math
import time

from zoo.train.config import JIT_SETTINGS, shown

# Path names, in the order that breaks ties: graph mode needs no compile.
PATHS = {"graph": False, "xla": True}


def choose_faster(timings):
    """The path with the lowest time per step.

    Args:
        timings: dict path name -> seconds per step (finite, > 0). Ties go
            to the first of `PATHS` (graph), then to dict order.

    Returns:
        The key of the fastest path.

    Raises:
        ValueError: for an empty dict or a time that is not a positive finite number.
    """
    if not timings:
        raise ValueError("timings must name at least one path, received timings={}")
    for path, seconds in timings.items():
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not math.isfinite(seconds) or seconds <= 0):
            raise ValueError(f"timings must be positive finite seconds, received "
                             f"timings[{path!r}]={seconds!r}")
    order = list(PATHS) + [p for p in timings if p not in PATHS]
    candidates = [p for p in order if p in timings]
    return min(candidates, key=lambda p: (timings[p], candidates.index(p)))


def probe(model, batch, make_optimizer, loss, steps=3, warmup=2):
    """Times train steps of graph and XLA on twins of `model`.

    Args:
        model: a built zoo model (left untouched).
        batch: `(inputs, labels)`, one real training batch.
        make_optimizer: callable returning a fresh optimizer.
        loss: the training loss.
        steps, warmup: timed and untimed steps per path (the first untimed
            step traces and, for XLA, compiles).

    Returns:
        `(jit_compile, timings, errors)`: the faster path as a bool, median
        seconds per step by path, and the error of any path that failed
        (XLA cannot compile every op; then graph wins).
    """
    import numpy as np

    inputs, labels = batch
    timings, errors = {}, {}
    for path, jit_compile in PATHS.items():
        twin = type(model).from_config(model.get_config())
        twin.set_weights(model.get_weights())
        twin.compile(optimizer=make_optimizer(), loss=loss, jit_compile=jit_compile)
        try:
            for _ in range(warmup):
                twin.train_on_batch(inputs, labels)
            seconds = []
            for _ in range(steps):
                start = time.perf_counter()
                twin.train_on_batch(inputs, labels)
                seconds.append(time.perf_counter() - start)
            timings[path] = float(np.median(seconds))
        except Exception as error:  # an op XLA cannot compile: not a candidate
            errors[path] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return PATHS[choose_faster(timings)], timings, errors


def xla_cannot_run(device_type, replicas):
    """Why XLA cannot train on this setup, or None when it can.

    XLA on CPU has no collectives (TensorFlow: "Collectives are not yet
    implemented for CPU devices when compiling with XLA"), and a
    `MirroredStrategy` over logical CPUs fails in XLA with "Trying to access
    resource ... located in device CPU:1 from device CPU:0": a step that
    all-reduces gradients across CPU replicas runs in graph mode only.

    Example:
    >>> xla_cannot_run("cpu/eigen", 2)[:31]
    'XLA has no collectives on CPUs '
    >>> xla_cannot_run("gpu", 2) is None
    True
    """
    if str(device_type or "cpu").startswith("cpu") and replicas > 1:
        return (f"XLA has no collectives on CPUs ({replicas} replicas all-reduce their "
                "gradients)")
    return None


def resolve(setting, model, device_type=None, log=print, replicas=1, **probe_args):
    """`--jit_compile` -> bool; `probe` takes `probe()`'s batch, make_optimizer, loss.

    `device_type` is a key of the family's `xla_defaults` (`"cpu"` meaning
    this process's CPU kernels); None means where this process runs.
    `replicas` is the strategy's replica count: over CPU replicas `auto`
    is graph mode and `on` an error (`xla_cannot_run`). `log` receives the
    probe's timings.

    Raises:
        ValueError: an unknown setting, or `on` where XLA cannot run.
    """
    if setting not in JIT_SETTINGS:
        raise ValueError(f"jit_compile must be one of {list(JIT_SETTINGS)}, "
                         f"received jit_compile={setting!r}")
    blocker = xla_cannot_run(device_type, replicas)
    if setting == "on" and blocker:
        raise ValueError(f"{shown('jit_compile', 'on')} cannot train here: {blocker}; use "
                         f"{shown('jit_compile', 'off')} or auto, or one device")
    if setting in ("on", "off"):
        return setting == "on"
    if setting == "auto":
        return bool(model.preferred_jit_compile(device_type)) and not blocker
    use_xla, timings, errors = probe(model, **probe_args)
    timed = ", ".join(f"{p} {t * 1000:.1f} ms/step" for p, t in timings.items())
    failed = "".join(f"; {p} failed: {e}" for p, e in errors.items())
    log(f"{shown('jit_compile', 'probe')}: {timed}{failed} -> jit_compile={use_xla}")
    return use_xla


def explain(setting, model, use_xla, platform, replicas=1):
    """Why `resolve` chose `use_xla`, for the run's first line.

    Example:
    >>> import zoo
    >>> print(explain("auto", zoo.create_model("resnet20", num_classes=10), False, "cpu/eigen"))
    jit_compile=False (graph mode: jit_compile='auto', the measured default of ResNet
    on cpu/eigen)
    """
    path = "XLA" if use_xla else "graph mode"
    blocker = xla_cannot_run(platform, replicas)
    if setting == "auto" and blocker and not use_xla:
        why = blocker
    elif setting == "auto":
        why = f"the measured default of {type(model).__name__} on {platform}"
    elif setting == "probe":
        why = "the faster of both, timed on this machine"
    else:
        why = "as asked"
    return f"jit_compile={use_xla} ({path}: {shown('jit_compile', setting)}, {why})"
