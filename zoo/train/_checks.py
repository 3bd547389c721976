"""Every argument of `zoo.train.train(...)` checked once, before any work.

`train()` and its CLI share these checks: the CLI's flags map one for one
onto `train()`'s arguments, so messages name the flag (`--learning_rate`),
which is also the argument's name, and show the value received. A
`ValueError` from here reaches a CLI user as a usage error (exit status 2).

The generic checks (ints, bools) are `zoo.data._checks`'; what is particular
to training (finite rates, metric names, writable output places) is here.

Example:
>>> check_finite("--learning_rate", float("nan"), low=0.0, low_open=True)
Traceback (most recent call last):
...
ValueError: --learning_rate must be a finite number > 0.0, received --learning_rate=nan
"""

import math
import numbers
import os

from zoo.data._checks import check_bool, is_int
from zoo.train.choices import (JIT_SETTINGS, LOOPS, MIXED_PRECISION, OPTIMIZERS, SCHEDULES,
                               STRATEGIES)

# The log keys a run has: the compiled loss and metric, and with validation
# their `val_` twins (zoo.train compiles exactly one metric, "accuracy").
TRAINING_METRICS = ("loss", "accuracy")
VERBOSITY = ("auto", 0, 1, 2)


def metrics_of_run(validate):
    """The metric names `--monitor` may take for a run (`validate`: with val_*)."""
    return list(TRAINING_METRICS) + ([f"val_{m}" for m in TRAINING_METRICS] if validate else [])


def check_finite(flag, value, low=None, high=None, low_open=False, high_open=False):
    """A real, finite number within the given bounds (`*_open`: bound excluded)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high}")
        raise ValueError(f"{flag} must be a finite number {' and '.join(bounds)}, "
                         f"received {flag}={value!r}")


def check_int(flag, value, low, optional=False):
    if value is None and optional:
        return
    if not is_int(value) or value < low:
        raise ValueError(f"{flag} must be an int >= {low}{' or None' if optional else ''}, "
                         f"received {flag}={value!r}")


def check_choice(flag, value, choices, optional=False):
    if value is None and optional:
        return
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{flag} must be one of {list(choices)}, received {flag}={value!r}")


def check_name(flag, value, optional=False):
    """A non-empty string (a name or a path); an empty one would be silently ignored."""
    if value is None and optional:
        return
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{flag} must be a non-empty {'name or path' if optional else 'name'}"
                         f", received {flag}={value!r}")


def check_writable(flag, path, directory):
    """Fails unless `path` can be written: checked before training, not after it.

    Args:
        flag: the flag to name, e.g. `--model_dir`.
        path: str. The target.
        directory: bool. The target is itself a directory to create or fill
            (`--model_dir`); otherwise only its parent must take it.
    """
    target = os.path.abspath(os.fspath(path))
    if directory and os.path.exists(target) and not os.path.isdir(target):
        raise ValueError(f"{flag}={path} is a file, not a directory")
    existing = target if directory else os.path.dirname(target)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{flag}={path} cannot be written: it lies under {existing}, "
                         "a regular file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}={path} cannot be written: {existing} is not writable")


def check_arguments(arguments):
    """Checks `train()`'s arguments (a dict of them); raises a `ValueError` naming one.

    Args:
        arguments: dict, argument name -> value, of a `zoo.train.train` call.
    """
    import zoo
    import zoo.data

    a = arguments
    check_name("--model", a["model_name"])
    check_name("--dataset", a["dataset"])
    for flag, call in (("--model", zoo.registry.get_constructor),
                       ("--dataset", zoo.data.info)):
        value = a["model_name" if flag == "--model" else "dataset"]
        try:
            call(value)
        except ValueError as error:
            raise ValueError(f"{flag}={value}: {error}") from None
    check_int("--epochs", a["epochs"], 1, optional=True)
    check_int("--batch_size", a["batch_size"], 1)
    check_int("--image_size", a["image_size"], 1)
    check_int("--num_classes", a["num_classes"], 1, optional=True)
    check_choice("--optimizer", a["optimizer"], OPTIMIZERS, optional=True)
    if a["learning_rate"] is not None:
        check_finite("--learning_rate", a["learning_rate"], low=0.0, low_open=True)
    if a["weight_decay"] is not None:
        check_finite("--weight_decay", a["weight_decay"], low=0.0)
    check_choice("--lr_schedule", a["lr_schedule"], SCHEDULES)
    check_finite("--warmup_epochs", a["warmup_epochs"], low=0.0)
    check_finite("--label_smoothing", a["label_smoothing"], low=0.0, high=1.0, high_open=True)
    check_choice("--loop", a["loop"], LOOPS)
    check_choice("--strategy", a["strategy"], STRATEGIES)
    check_name("--tpu", a["tpu"])
    check_choice("--jit_compile", a["jit_compile"], JIT_SETTINGS)
    check_choice("--mixed_precision", a["mixed_precision"], MIXED_PRECISION)
    for flag in ("deterministic", "validate", "save_best"):
        check_bool(f"--{flag}", a[flag])
    if not is_int(a["seed"]) or a["seed"] < 0:
        raise ValueError(f"--seed must be a non-negative int, received --seed={a['seed']!r}")
    if a["verbose"] not in VERBOSITY or isinstance(a["verbose"], bool):
        raise ValueError(f"--verbose must be one of {list(VERBOSITY)}, "
                         f"received --verbose={a['verbose']!r}")
    check_int("--keep_checkpoints", a["keep_checkpoints"], 1)
    for flag in ("checkpoint_steps", "early_stopping_patience", "histogram_freq"):
        check_int(f"--{flag}", a[flag], 0)
    _check_outputs(a["model_dir"], a["export"])
    check_name("--init_from", a["init_from"], optional=True)
    check_name("--freeze_upto", a["freeze_upto"], optional=True)
    _check_monitor(a["monitor"], a["validate"], a["early_stopping_patience"],
                   a["save_best"] and a["model_dir"])
    _check_combinations(a)


def _check_outputs(model_dir, export):
    check_name("--model_dir", model_dir, optional=True)
    if model_dir is not None:
        check_writable("--model_dir", model_dir, directory=True)
    if isinstance(export, (str, os.PathLike)) or not isinstance(export, (list, tuple)):
        raise ValueError("--export must be a list of paths, received "
                         f"--export={export!r}")
    import zoo.export

    for path in export:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).strip():
            raise ValueError("--export must be a list of non-empty paths, received "
                             f"--export={','.join(map(str, export))!r} (an empty entry)")
        # Exports replace what is there (overwrite=True), but only a model
        # file of the same kind: zoo.export refuses, before training, a
        # user's directory or a file where a SavedModel goes.
        try:
            zoo.export.check_save_target(path, overwrite=True)
        except (TypeError, ValueError) as error:
            raise ValueError(f"--export={path}: {error}") from None


def _check_monitor(monitor, validate, early_stopping, saves_best):
    valid = metrics_of_run(True)
    if not isinstance(monitor, str) or monitor not in valid:
        raise ValueError(f"--monitor must be one of the metrics of the run, {valid} "
                         f"(val_* with --validate), received --monitor={monitor!r}")
    if monitor.startswith("val_") and not validate and (early_stopping or saves_best):
        raise ValueError(f"--monitor={monitor} needs validation; drop --novalidate or "
                         f"monitor a training metric: one of {metrics_of_run(False)}")


def _check_combinations(a):
    """Flags valid one by one that do not go together."""
    if a["strategy"] == "multi_worker" and a["loop"] == "fit":
        raise ValueError(
            "--strategy=multi_worker runs on --loop=custom: Keras 3 fit fails under "
            "MultiWorkerMirroredStrategy (Attempt to convert a value (PerReplica...)); "
            "received --loop=fit")
    if a["jit_compile"] == "probe" and a["strategy"] != "default":
        raise ValueError(f"--jit_compile=probe times single-device steps; with "
                         f"--strategy={a['strategy']} use --jit_compile=auto, on or off")
    if a["checkpoint_steps"] and a["loop"] != "custom":
        raise ValueError(f"--checkpoint_steps={a['checkpoint_steps']} needs --loop=custom "
                         "(Keras fit checkpoints at epoch ends only)")
    if a["checkpoint_steps"] and not a["model_dir"]:
        raise ValueError(f"--checkpoint_steps={a['checkpoint_steps']} needs --model_dir")
