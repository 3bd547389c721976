"""Train a registered model on a dataset: `python -m zoo.train`.

Example:

    python -m zoo.train --model=resnet20 --dataset=digits --epochs=15
    python -m zoo.train --model=text_rnn --dataset=sentiment --loop=custom
    python -m zoo.train --flagfile=runs/resnet20.flags --model_dir=runs/r20

Trains with Keras `fit` or the explicit GradientTape loop, evaluates on the
test split and prints one summary line. Flags left unset (epochs, optimizer,
learning rate, weight decay) take the model family's `training_defaults`.
Text models build their vocabulary from the training split first
(`model.adapt`). `--helpfull` lists every flag; `--flagfile` reads flags
from a file, one per line.

Every flag but `--cpu_devices` and `--log_device_placement` (which act on
the process) is an option of `zoo.train.TrainConfig`, generated from it,
and checked before any work (`check_flags`: the config's own checks, as
`zoo.train.train` runs them); a bad one, or a bad combination, prints a
usage line and the error, naming the flag, and exits with status 2
(`zoo._cli`).
"""

import sys

from absl import app, flags, logging

from zoo.train import config as train_config

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines a flag for every `TrainConfig` option, and the two of the process.

    Called by `run()`, not at import: tests parse flags into a fresh
    `flags.FlagValues`, and a module that defined them on the global FLAGS at
    import would clash with other programs' flags of the same names. Defined
    here, not in `zoo.train.config`: absl lists under `--help` the flags the
    main module defines.
    """
    for field, default, option in train_config.options():
        define, keywords = option.kind.flag()
        if isinstance(default, tuple):  # export: absl's lists are lists
            default = list(default)
        elif default is not None and isinstance(option.kind, train_config.Choice):
            default = str(default)
        define(option.flag or field, default=default, help=option.help, flag_values=flag_values,
               **keywords)
    # Both act on the process before TensorFlow initializes its devices.
    flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (to try "
                         "--strategy=mirrored on a host without GPUs).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_bool("log_device_placement", False, "Log the device of every op "
                      "(tf.debugging.set_log_device_placement).", flag_values=flag_values)


def check_flags(flag_values=FLAGS):
    """The `TrainConfig` the parsed flags ask for, checked before any work.

    Its checks are `zoo.train.train`'s own, run here first so that a bad
    value costs a second, not a run; they name options as flags. An
    explicitly empty list (`--export=`) is refused here: as a list it is the
    same as no flag. Without `--loop`, `--strategy=multi_worker` runs the
    custom loop (the only one it can run).

    Raises:
        app.UsageError: naming the flag and the value.
    """
    if flag_values["export"].present and not flag_values.export:
        raise app.UsageError("--export must name at least one path, received --export=''")
    values = {}
    for field, _, option in train_config.options():
        values[field] = option.kind.from_flag(flag_values[option.flag or field].value)
    if not flag_values["loop"].present and values["strategy"] == "multi_worker":
        values["loop"] = "custom"
    try:
        with train_config.naming_flags():
            return train_config.TrainConfig(**values)
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    config = check_flags(FLAGS)
    import tensorflow as tf

    from zoo.data.tfds_common import DatasetNotPreparedError
    from zoo.train import distribute, train

    # TensorFlow's checkpoint saver logs every save at INFO level, through
    # absl logging.
    logging.set_verbosity(logging.WARNING)
    # Both must happen before TensorFlow initializes its devices.
    if FLAGS.cpu_devices > 1:
        distribute.split_cpu(FLAGS.cpu_devices)
    if FLAGS.log_device_placement:
        tf.debugging.set_log_device_placement(True)
    try:
        with train_config.naming_flags():
            result = train(config=config)
    except (FloatingPointError, DatasetNotPreparedError) as error:
        # A divergence, or data not on disk offline: the message says what
        # to do; a traceback would add nothing.
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        # A bad combination of valid flags found in the run (e.g. an image
        # too small for the model) reaches the user as a usage error, not a
        # traceback.
        raise app.UsageError(str(error)) from None
    print(
        f"model={result['model']} dataset={result['dataset']} epochs={result['epochs']} "
        f"test_accuracy={result['test_accuracy']:.4f} "
        f"train_time={result['train_seconds']:.1f}s"
        + (f" checkpoint={result['checkpoint']}" if result["checkpoint"] else "")
        + (f" best={result['best']}" if result["best"] else "")
        + (f" exports={','.join(result['exports'])}" if result["exports"] else "")
        + f" weights_sha256={result['weights_sha256'][:16]}"
    )
    return 0


def run():
    """The `zoo-train` console script and `python -m zoo.train`: usage errors exit 2."""
    from zoo import _cli

    define_flags()
    _cli.run(main, "zoo.train")


if __name__ == "__main__":
    sys.exit(run())
