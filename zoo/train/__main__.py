"""Train a registered model on a dataset: `python -m zoo.train`.

Example:

    python -m zoo.train --model=resnet20 --dataset=digits --epochs=15
    python -m zoo.train --flagfile=runs/resnet20.flags --model_dir=runs/r20

Every flag but `--cpu_devices` and `--log_device_placement` is a
`TrainConfig` option; a bad one prints a usage line naming the flag and
exits with status 2.
"""

import sys

from absl import app, flags, logging

from zoo.train import config as train_config

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines a flag for every `TrainConfig` option, and the two of the process.

    Called by `run()`, not at import: other programs' flags would clash.
    """
    for field, default, option in train_config.options():
        define, keywords = option.kind.flag()
        if isinstance(default, tuple):  # export: absl's lists are lists
            default = list(default)
        elif default is not None and isinstance(option.kind, train_config.Choice):
            default = str(default)
        define(option.flag or field, default=default, help=option.help, flag_values=flag_values,
               **keywords)
    flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (to try "
                         "--strategy=mirrored on a host without GPUs).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_bool("log_device_placement", False, "Log the device of every op "
                      "(tf.debugging.set_log_device_placement).", flag_values=flag_values)


def check_flags(flag_values=FLAGS):
    """The checked `TrainConfig` the parsed flags ask for; `app.UsageError` names a bad flag.

    Without `--loop`, `--strategy=multi_worker` runs the custom loop, the
    only one it can run.
    """
    # As a list, `--export=` would be the same as no flag.
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

    # TensorFlow's checkpoint saver logs every save at INFO level.
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
        # The message says what to do; a traceback would add nothing.
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        # A bad combination found in the run (an image too small for the model).
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
