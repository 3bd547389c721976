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

Every flag is checked before any work (`check_flags`: the checks of
`zoo.train.train` itself); a bad one, or a bad combination, prints a usage
line and the error and exits with status 2 (`zoo._cli`).
"""

import sys

from absl import app, flags, logging

from zoo.train.choices import (JIT_SETTINGS, LOOPS, MIXED_PRECISION, OPTIMIZERS, SCHEDULES,
                               STRATEGIES)

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the training flags on `flag_values`.

    Called by `run()`, not at import: tests parse flags into a fresh
    `flags.FlagValues`, and a module that defined them on the global FLAGS at
    import would clash with other programs' flags of the same names.
    """
    flags.DEFINE_string("model", "resnet20", "Registered model name (see zoo.list_models()).",
                        flag_values=flag_values)
    flags.DEFINE_string("dataset", "digits", "Dataset name (see zoo.data.DATASETS).",
                        flag_values=flag_values)
    flags.DEFINE_integer("epochs", None, "Number of training epochs (default: the model's).",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("batch_size", 64, "Examples per training step, over all replicas.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("image_size", 32, "Height and width images are resized to "
                         "(digits; MNIST and CIFAR have a fixed size).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_enum("optimizer", None, list(OPTIMIZERS),
                      "sgd: SGD with Nesterov momentum 0.9; adam; adamw: Adam with decoupled "
                      "weight decay (default: the model's).", flag_values=flag_values)
    flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the model's).",
                       lower_bound=0.0, flag_values=flag_values)
    flags.DEFINE_enum("lr_schedule", "cosine", list(SCHEDULES),
                      "constant; cosine: decay to 0; step: /10 at 50% and 75% of the steps; "
                      "warmup: linear warm-up over --warmup_epochs, then cosine.",
                      flag_values=flag_values)
    flags.DEFINE_float("warmup_epochs", 1.0, "Warm-up length of --lr_schedule=warmup.",
                       lower_bound=0.0, flag_values=flag_values)
    flags.DEFINE_float("weight_decay", None, "Decoupled weight decay, sgd and adamw "
                       "(default: the model's).", lower_bound=0.0, flag_values=flag_values)
    flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing of the cross-entropy, in [0, 1).",
                       lower_bound=0.0, upper_bound=0.999, flag_values=flag_values)
    flags.DEFINE_enum("loop", None, list(LOOPS),
                      "fit: Keras fit; custom: explicit tf.GradientTape loop in a tf.function "
                      "(default: fit, custom for --strategy=multi_worker).",
                      flag_values=flag_values)
    flags.DEFINE_enum("strategy", "default", list(STRATEGIES),
                      "default: one device; mirrored: all local GPUs (or --cpu_devices logical "
                      "CPUs); multi_worker: several hosts, each with its TF_CONFIG (custom loop); "
                      "tpu: the TPU named by --tpu.", flag_values=flag_values)
    flags.DEFINE_string("tpu", "local", "TPU name or grpc:// address for --strategy=tpu "
                        "(local: this TPU VM).", flag_values=flag_values)
    flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (to try "
                         "--strategy=mirrored on a host without GPUs).", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_enum("jit_compile", "auto", list(JIT_SETTINGS),
                      "XLA: on, off, or auto (the path measured faster for this model family "
                      "and device: off on CPU).", flag_values=flag_values)
    flags.DEFINE_enum("mixed_precision", "none", list(MIXED_PRECISION),
                      "Keras dtype policy; mixed_float16 adds dynamic loss scaling.",
                      flag_values=flag_values)
    flags.DEFINE_bool("deterministic", False, "TensorFlow op determinism: with --seed, a run "
                      "(resumed or not) gives bit-identical weights.", flag_values=flag_values)
    flags.DEFINE_bool("log_device_placement", False, "Log the device of every op "
                      "(tf.debugging.set_log_device_placement).", flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of weights, data split, shuffling and augmentation.",
                         lower_bound=0, flag_values=flag_values)
    flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                      "Progress: 1 = progress bar, 2 = one line per epoch.",
                      flag_values=flag_values)
    flags.DEFINE_string("model_dir", None, "Checkpoints (tf.train.CheckpointManager, every "
                        "epoch), TensorBoard logs and best.keras go here; rerunning the same "
                        "command resumes from the latest checkpoint.", flag_values=flag_values)
    flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints --model_dir keeps.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("checkpoint_steps", 0, "Also checkpoint every this many steps inside an "
                         "epoch (--loop=custom; 0: epoch ends only).", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_bool("validate", True, "Evaluate on the test split after every epoch (val_loss, "
                      "val_accuracy; these datasets have no separate validation split).",
                      flag_values=flag_values)
    flags.DEFINE_integer("early_stopping_patience", 0, "Stop after this many epochs without "
                         "improvement of --monitor (0: never).", lower_bound=0,
                         flag_values=flag_values)
    flags.DEFINE_string("monitor", "val_accuracy", "Metric of early stopping and best.keras.",
                        flag_values=flag_values)
    flags.DEFINE_bool("save_best", True, "Keep --model_dir/best.keras, the model at its best "
                      "--monitor.", flag_values=flag_values)
    flags.DEFINE_integer("histogram_freq", 0, "Weight histograms in TensorBoard every this many "
                         "epochs (0: none).", lower_bound=0, flag_values=flag_values)
    flags.DEFINE_string("init_from", None, "Start from the weights of a saved model (.keras or "
                        "zoo .h5) or of a --model_dir's latest checkpoint, instead of random "
                        "weights; a classifier of another size is left freshly initialized "
                        "(a new head).", flag_values=flag_values)
    flags.DEFINE_integer("num_classes", None, "Classifier width (default: the dataset's classes); "
                         "with --init_from, another width than the source's is a new head.",
                         lower_bound=1, flag_values=flag_values)
    flags.DEFINE_string("freeze_upto", None, "Freeze the model up to and including this layer "
                        "or stage (e.g. stage3: the stem and stages 1-3) before training; see "
                        "zoo.finetune.freeze.", flag_values=flag_values)
    flags.DEFINE_list("export", [], "Paths to save the trained model to, format from each "
                      "suffix (.keras, .h5, .weights.h5, .tflite, or a directory for a "
                      "SavedModel); existing files are replaced.", flag_values=flag_values)


def train_arguments(flag_values=FLAGS):
    """The `zoo.train.train(...)` keyword arguments the parsed flags ask for."""
    fv = flag_values
    loop = fv.loop or ("custom" if fv.strategy == "multi_worker" else "fit")
    return dict(
        model_name=fv.model, dataset=fv.dataset, epochs=fv.epochs, batch_size=fv.batch_size,
        image_size=fv.image_size, optimizer=fv.optimizer, learning_rate=fv.learning_rate,
        weight_decay=fv.weight_decay, lr_schedule=fv.lr_schedule,
        warmup_epochs=fv.warmup_epochs, label_smoothing=fv.label_smoothing, loop=loop,
        strategy=fv.strategy, tpu=fv.tpu, jit_compile=fv.jit_compile,
        mixed_precision=fv.mixed_precision, deterministic=fv.deterministic, seed=fv.seed,
        verbose=fv.verbose if fv.verbose == "auto" else int(fv.verbose), export=fv.export,
        model_dir=fv.model_dir, keep_checkpoints=fv.keep_checkpoints,
        checkpoint_steps=fv.checkpoint_steps, validate=fv.validate,
        early_stopping_patience=fv.early_stopping_patience, monitor=fv.monitor,
        save_best=fv.save_best, histogram_freq=fv.histogram_freq, init_from=fv.init_from,
        freeze_upto=fv.freeze_upto, num_classes=fv.num_classes)


def check_flags(flag_values=FLAGS):
    """Checks the parsed flags before any work; returns `train()`'s arguments.

    The checks are `zoo.train.train`'s own (`zoo.train._checks`), run here
    first so that a bad value costs a second, not a run. An explicitly empty
    list (`--export=`) is refused here: as a list it is the same as no flag.

    Raises:
        app.UsageError: naming the flag and the value.
    """
    from zoo.train._checks import check_arguments

    if flag_values["export"].present and not flag_values.export:
        raise app.UsageError("--export must name at least one path, received --export=''")
    arguments = train_arguments(flag_values)
    try:
        check_arguments(arguments)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    return arguments


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    arguments = check_flags(FLAGS)
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
        result = train(**arguments)
    except (FloatingPointError, DatasetNotPreparedError) as error:
        # A divergence, or data not on disk offline: the message says what
        # to do; a traceback would add nothing.
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        # A bad combination of valid flags (e.g. an image too small for the
        # model) reaches the user as a usage error, not a traceback.
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
