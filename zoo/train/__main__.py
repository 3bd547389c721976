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
"""

import sys

from absl import app, flags, logging

from zoo.train.choices import (JIT_SETTINGS, LOOPS, MIXED_PRECISION, OPTIMIZERS, SCHEDULES,
                               STRATEGIES)

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "resnet20", "Registered model name (see zoo.list_models()).")
flags.DEFINE_string("dataset", "digits", "Dataset name (see zoo.data.DATASETS).")
flags.DEFINE_integer("epochs", None, "Number of training epochs (default: the model's).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Examples per training step, over all replicas.",
                     lower_bound=1)
flags.DEFINE_integer("image_size", 32, "Height and width images are resized to "
                     "(digits; MNIST and CIFAR have a fixed size).", lower_bound=1)
flags.DEFINE_enum("optimizer", None, list(OPTIMIZERS),
                  "sgd: SGD with Nesterov momentum 0.9; adam; adamw: Adam with decoupled "
                  "weight decay (default: the model's).")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (default: the model's).",
                   lower_bound=0.0)
flags.DEFINE_enum("lr_schedule", "cosine", list(SCHEDULES),
                  "constant; cosine: decay to 0; step: /10 at 50% and 75% of the steps; "
                  "warmup: linear warm-up over --warmup_epochs, then cosine.")
flags.DEFINE_float("warmup_epochs", 1.0, "Warm-up length of --lr_schedule=warmup.",
                   lower_bound=0.0)
flags.DEFINE_float("weight_decay", None, "Decoupled weight decay, sgd and adamw "
                   "(default: the model's).", lower_bound=0.0)
flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing of the cross-entropy, in [0, 1).",
                   lower_bound=0.0, upper_bound=0.999)
flags.DEFINE_enum("loop", None, list(LOOPS),
                  "fit: Keras fit; custom: explicit tf.GradientTape loop in a tf.function "
                  "(default: fit, custom for --strategy=multi_worker).")
flags.DEFINE_enum("strategy", "default", list(STRATEGIES),
                  "default: one device; mirrored: all local GPUs (or --cpu_devices logical "
                  "CPUs); multi_worker: several hosts, each with its TF_CONFIG (custom loop); "
                  "tpu: the TPU named by --tpu.")
flags.DEFINE_string("tpu", "local", "TPU name or grpc:// address for --strategy=tpu "
                    "(local: this TPU VM).")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (to try "
                     "--strategy=mirrored on a host without GPUs).", lower_bound=1)
flags.DEFINE_enum("jit_compile", "auto", list(JIT_SETTINGS),
                  "XLA: on, off, or auto (the path measured faster for this model family "
                  "and device: off on CPU).")
flags.DEFINE_enum("mixed_precision", "none", list(MIXED_PRECISION),
                  "Keras dtype policy; mixed_float16 adds dynamic loss scaling.")
flags.DEFINE_bool("deterministic", False, "TensorFlow op determinism: with --seed, a run "
                  "(resumed or not) gives bit-identical weights.")
flags.DEFINE_bool("log_device_placement", False, "Log the device of every op "
                  "(tf.debugging.set_log_device_placement).")
flags.DEFINE_integer("seed", 0, "Seed of weights, data split, shuffling and augmentation.",
                     lower_bound=0)
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                  "Progress: 1 = progress bar, 2 = one line per epoch.")
flags.DEFINE_string("model_dir", None, "Checkpoints (tf.train.CheckpointManager, every epoch), "
                    "TensorBoard logs and best.keras go here; rerunning the same command "
                    "resumes from the latest checkpoint.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints --model_dir keeps.",
                     lower_bound=1)
flags.DEFINE_integer("checkpoint_steps", 0, "Also checkpoint every this many steps inside an "
                     "epoch (--loop=custom; 0: epoch ends only).", lower_bound=0)
flags.DEFINE_bool("validate", True, "Evaluate on the test split after every epoch (val_loss, "
                  "val_accuracy; these datasets have no separate validation split).")
flags.DEFINE_integer("early_stopping_patience", 0, "Stop after this many epochs without "
                     "improvement of --monitor (0: never).", lower_bound=0)
flags.DEFINE_string("monitor", "val_accuracy", "Metric of early stopping and best.keras.")
flags.DEFINE_bool("save_best", True, "Keep --model_dir/best.keras, the model at its best "
                  "--monitor.")
flags.DEFINE_integer("histogram_freq", 0, "Weight histograms in TensorBoard every this many "
                     "epochs (0: none).", lower_bound=0)
flags.DEFINE_string("init_from", None, "Start from the weights of a saved model (.keras or "
                    "zoo .h5) or of a --model_dir's latest checkpoint, instead of random "
                    "weights; a classifier of another size is left freshly initialized "
                    "(a new head).")
flags.DEFINE_integer("num_classes", None, "Classifier width (default: the dataset's classes); "
                     "with --init_from, another width than the source's is a new head.",
                     lower_bound=1)
flags.DEFINE_string("freeze_upto", None, "Freeze the model up to and including this layer "
                    "or stage (e.g. stage3: the stem and stages 1-3) before training; see "
                    "zoo.finetune.freeze.")
flags.DEFINE_list("export", [], "Paths to save the trained model to, format from each "
                  "suffix (.keras, .h5, .weights.h5, .tflite, or a directory for a "
                  "SavedModel); existing files are replaced.")


@flags.validator("model", message="unknown model")
def _check_model(name):
    import zoo  # deferred: importing TensorFlow before --help costs seconds

    try:
        zoo.registry.get_constructor(name)
    except ValueError as error:
        raise flags.ValidationError(str(error)) from None
    return True


@flags.validator("export", message="unknown export format")
def _check_export(paths):
    import zoo.export  # checked before training, not after an hour of it

    for path in paths:
        try:
            zoo.export.format_from_path(path)
        except ValueError as error:
            raise flags.ValidationError(str(error)) from None
    return True


@flags.validator("dataset", message="unknown dataset")
def _check_dataset(name):
    import zoo.data

    try:
        zoo.data.info(name)
    except ValueError as error:
        raise flags.ValidationError(str(error)) from None
    return True


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)
    loop = FLAGS.loop or ("custom" if FLAGS.strategy == "multi_worker" else "fit")
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
        result = train(
            FLAGS.model, FLAGS.dataset, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
            image_size=FLAGS.image_size, optimizer=FLAGS.optimizer,
            learning_rate=FLAGS.learning_rate, weight_decay=FLAGS.weight_decay,
            lr_schedule=FLAGS.lr_schedule, warmup_epochs=FLAGS.warmup_epochs,
            label_smoothing=FLAGS.label_smoothing, loop=loop, strategy=FLAGS.strategy,
            tpu=FLAGS.tpu, jit_compile=FLAGS.jit_compile,
            mixed_precision=FLAGS.mixed_precision, deterministic=FLAGS.deterministic,
            seed=FLAGS.seed, verbose=verbose, export=FLAGS.export, model_dir=FLAGS.model_dir,
            keep_checkpoints=FLAGS.keep_checkpoints, checkpoint_steps=FLAGS.checkpoint_steps,
            validate=FLAGS.validate, early_stopping_patience=FLAGS.early_stopping_patience,
            monitor=FLAGS.monitor, save_best=FLAGS.save_best,
            histogram_freq=FLAGS.histogram_freq, init_from=FLAGS.init_from,
            freeze_upto=FLAGS.freeze_upto, num_classes=FLAGS.num_classes)
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
    app.run(main)


if __name__ == "__main__":
    sys.exit(run())
