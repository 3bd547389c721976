"""`--jit_compile`: XLA on, off, the measured default (`auto`), or timed (`probe`).

`auto` reads the family's `xla_defaults` for this device (measured by
`benchmarks.xla`); `probe` times a few train steps of each path on twins
of the model, for unmeasured machines.

Example:

>>> choose_faster({"graph": 0.031, "xla": 0.092})
'graph'
"""

import math
import time

from zoo import _validation
from zoo.train.config import JIT_SETTINGS, shown

# Path names, in the order that breaks ties: graph mode needs no compile.
PATHS = {"graph": False, "xla": True}


def choose_faster(timings):
    """The key of `timings` (path -> positive seconds per step) with the lowest time.

    Ties go to the first of `PATHS` (graph), then to dict order.
    """
    if not timings:
        raise ValueError("timings must name at least one path, received timings={}")
    for path, seconds in timings.items():
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not math.isfinite(seconds) or seconds <= 0):
            raise ValueError(f"timings must be positive finite seconds, received "
                             f"timings[{path!r}]={seconds!r}")
    order = [p for p in PATHS if p in timings]
    order += [p for p in timings if p not in PATHS]
    return min(order, key=timings.get)  # the first of equal times


def probe(model, batch, make_optimizer, loss, steps=3, warmup=2):
    """Times train steps of graph and XLA on twins of `model` (left untouched).

    Returns:
        `(jit_compile, timings, errors)`: the faster path as a bool, median
        seconds per step by path, and the error of a path that failed.
    """
    import numpy as np

    inputs, labels = batch
    timings, errors = {}, {}
    for path, jit_compile in PATHS.items():
        twin = type(model).from_config(model.get_config())
        twin.set_weights(model.get_weights())
        twin.compile(optimizer=make_optimizer(), loss=loss, jit_compile=jit_compile)
        try:
            seconds = []
            for _ in range(warmup + steps):
                start = time.perf_counter()
                twin.train_on_batch(inputs, labels)
                seconds.append(time.perf_counter() - start)
            timings[path] = float(np.median(seconds[warmup:]))
        except Exception as error:  # an op XLA cannot compile: not a candidate
            errors[path] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
    return PATHS[choose_faster(timings)], timings, errors


def xla_cannot_run(device_type, replicas):
    """Why XLA cannot train on this setup (CPU replicas: no collectives), or None.

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

    `device_type`: a key of the family's `xla_defaults` (None: here); `log`
    receives the probe's timings.

    Raises:
        ValueError: an unknown setting, or `on` where XLA cannot run.
    """
    _validation.one_of("jit_compile", setting, JIT_SETTINGS)
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
    measured = f"the measured default of {type(model).__name__} on {platform}"
    why = {"auto": blocker if blocker and not use_xla else measured,
           "probe": "the faster of both, timed on this machine"}
    return (f"jit_compile={use_xla} ({path}: {shown('jit_compile', setting)}, "
            f"{why.get(setting, 'as asked')})")
