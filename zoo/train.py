"""Train a registered model on a dataset: `python -m zoo.train`.

Example:

    python -m zoo.train --model=resnet20 --dataset=digits --epochs=15
    python -m zoo.train --model=text_rnn --dataset=sentiment

Trains with Keras `fit` (progress bar included), evaluates on the test split
and prints one summary line. Flags left unset (epochs, optimizer, learning
rate, weight decay) take the model family's `training_defaults`. Text models
build their vocabulary from the training split first (`model.adapt`).
`--helpfull` lists every flag.
"""

import os
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "resnet20", "Registered model name (see zoo.list_models()).")
flags.DEFINE_string("dataset", "digits", "Dataset name (see zoo.data.DATASETS).")
flags.DEFINE_integer("epochs", None, "Number of training epochs (default: the model's).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Examples per training step.", lower_bound=1)
flags.DEFINE_integer("image_size", 32, "Height and width images are resized to "
                     "(image datasets).", lower_bound=1)
flags.DEFINE_enum("optimizer", None, ["sgd", "adam"],
                  "sgd: SGD with Nesterov momentum 0.9; adam: AdamW (default: the model's).")
flags.DEFINE_float("learning_rate", None, "Peak learning rate, cosine-decayed to 0 "
                   "(default: the model's).", lower_bound=0.0)
flags.DEFINE_float("weight_decay", None, "Decoupled weight decay of the optimizer "
                   "(default: the model's).", lower_bound=0.0)
flags.DEFINE_integer("seed", 0, "Seed of weights, data split and shuffling.", lower_bound=0)
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                  "Keras fit verbosity: 1 = progress bar, 2 = one line per epoch.")
flags.DEFINE_string("model_dir", None, "Checkpoints (tf.train.CheckpointManager, one per "
                    "epoch) and TensorBoard logs go here; rerunning the same command resumes "
                    "from the latest checkpoint.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints --model_dir keeps.",
                     lower_bound=1)
flags.DEFINE_string("init_from", None, "Start from the weights of a saved model (.keras or "
                    "zoo .h5) or of a --model_dir's latest checkpoint, instead of random "
                    "weights; a classifier of another size is left freshly initialized "
                    "(a new head).")
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


def make_optimizer(name, learning_rate, weight_decay, decay_steps):
    """SGD+Nesterov or Adam with a cosine-decayed learning rate."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    if name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True,
                                    weight_decay=weight_decay)
    return keras.optimizers.AdamW(schedule, weight_decay=weight_decay)


def build_model(model_name, dataset, image_size):
    """Creates the model sized for the dataset; rejects a modality mismatch."""
    import zoo
    import zoo.data

    info = zoo.data.info(dataset)
    model = zoo.create_model(model_name, num_classes=info["num_classes"])
    takes_text = model.input_signature.dtype == "string"
    if takes_text != (info["modality"] == "text"):
        raise ValueError(
            f"--model={model_name} takes {model.input_signature.dtype} inputs, "
            f"not the {info['modality']} that --dataset={dataset} yields")
    if info["modality"] == "image":
        # Built again at the data's size and channel count: an image model
        # learns its input shape at construction.
        size = info.get("image_size", image_size)  # MNIST/CIFAR come at a fixed size
        model = zoo.create_model(
            model_name, num_classes=info["num_classes"],
            input_shape=(size, size, info["channels"]),
            data_format="channels_last")  # what zoo.data yields
    return model


class EpochCheckpoint:
    """Saves model, optimizer and epoch after every epoch; restores the latest.

    A `tf.train.Checkpoint` managed by `tf.train.CheckpointManager`: saves
    are atomic (TensorFlow writes the files, then the `checkpoint` index), so
    a run killed at any moment resumes from the last completed epoch.
    """

    def __init__(self, model, model_dir, keep):
        import tensorflow as tf

        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # The optimizer creates its slots lazily; build them now so a restore
        # fills them instead of silently skipping them.
        model.optimizer.build(model.trainable_variables)
        # Every model variable by its path, not `model=model`: TensorFlow's
        # object tracking does not see layers that Keras 3 keeps in lists
        # (our stages and blocks), so `model=model` would save only the
        # top-level layers' variables and silently drop every BatchNorm
        # moving statistic inside the blocks.
        self.checkpoint = tf.train.Checkpoint(
            weights={variable.path: variable for variable in model.weights},
            optimizer=model.optimizer, epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory=str(model_dir), max_to_keep=keep)

    def restore(self):
        """Restores the latest checkpoint, if any; returns the epochs already done."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError) as error:
            raise ValueError(
                f"--model_dir={self.manager.directory} holds a checkpoint ({latest}) "
                f"of another model or configuration: {str(error).splitlines()[0]}") from None
        return int(self.epoch.numpy())

    def callback(self):
        import keras
        import numpy as np

        owner = self

        class SaveEachEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                # After a NaN, TerminateOnNaN stops training but Keras still
                # ends the epoch: never overwrite the last good checkpoint.
                if logs and not np.isfinite(logs.get("loss", 0.0)):
                    return
                owner.epoch.assign(epoch + 1)
                owner.manager.save(checkpoint_number=epoch + 1)

        return SaveEachEpoch()


def initialize_from(model, source):
    """Copies weights from a saved model or checkpoint into `model`.

    Variables are matched by their path inside the model (the model's own
    name stripped). Only the classifier may differ in shape (fine-tuning to a
    new number of classes): it keeps its fresh initialization. Any other
    mismatch is an error naming --init_from.

    Returns:
        The names of the variables left at their initialization.
    """
    import keras
    import tensorflow as tf

    import zoo.export

    def key(variable):
        return variable.path.split("/", 1)[-1]

    latest = os.path.isdir(source) and tf.train.latest_checkpoint(source)
    if latest:
        # A --model_dir of this same architecture: restore into a twin.
        donor = type(model).from_config(model.get_config())
        try:
            tf.train.Checkpoint(weights={v.path: v for v in donor.weights}).restore(
                latest).expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError) as error:
            raise ValueError(f"--init_from={source}: its checkpoint {latest} does not fit "
                             f"--model={model.name}: {str(error).splitlines()[0]}") from None
    else:
        try:
            donor = zoo.export.load(source)
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"--init_from={source}: {error}") from None
        if not isinstance(donor, keras.Model):
            raise ValueError(f"--init_from={source} is not a Keras model file or checkpoint "
                             "directory (use .keras, .h5 or a --model_dir)")
    available = {key(v): v for v in donor.weights}
    fresh = []
    for variable in model.weights:
        match = available.get(key(variable))
        if match is not None and tuple(match.shape) == tuple(variable.shape):
            variable.assign(keras.ops.convert_to_numpy(match))
        elif key(variable).startswith("classifier/"):
            fresh.append(key(variable))
        else:
            found = "missing" if match is None else f"shape {tuple(match.shape)}"
            raise ValueError(
                f"--init_from={source} does not fit --model={model.name}: "
                f"{key(variable)} has shape {tuple(variable.shape)}, the source's is {found}")
    return fresh


def data_options(dataset, image_size):
    """`image_size` for the datasets that resize (digits); fixed-size sets take none."""
    import zoo.data

    return {"image_size": image_size} if "image_size" in zoo.data.info(dataset)["options"] else {}


def train(model_name, dataset, epochs=None, batch_size=64, image_size=32, optimizer=None,
          learning_rate=None, weight_decay=None, seed=0, verbose="auto", export=(),
          model_dir=None, keep_checkpoints=3, init_from=None, freeze_upto=None):
    """Builds, trains and evaluates a model; returns a dict of results.

    Arguments left None take the model's `training_defaults`.
    """
    import keras
    import numpy as np

    import zoo.data
    import zoo.export

    keras.utils.set_random_seed(seed)
    model = build_model(model_name, dataset, image_size)
    defaults = model.training_defaults
    epochs = epochs or defaults["epochs"]
    optimizer = optimizer or defaults["optimizer"]
    learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
    weight_decay = defaults["weight_decay"] if weight_decay is None else weight_decay

    options = data_options(dataset, image_size)
    train_ds = zoo.data.load(dataset, split="train", batch_size=batch_size, seed=seed, **options)
    test_ds = zoo.data.load(dataset, split="test", batch_size=batch_size, seed=seed, **options)
    if hasattr(model, "adapt"):
        # The vocabulary comes from the training split only, never from test.
        model.adapt(train_ds)
    new_head = initialize_from(model, init_from) if init_from else []
    if new_head:
        print(f"--init_from={init_from}: new head, freshly initialized: {', '.join(new_head)}")
    if freeze_upto:
        import zoo.finetune

        try:
            frozen = zoo.finetune.freeze(model, upto=freeze_upto)
        except ValueError as error:
            raise ValueError(f"--freeze_upto={freeze_upto}: {error}") from None
        print(f"Frozen (BatchNorm in inference mode): {frozen[0]} .. {frozen[-1]} "
              f"({len(frozen)} layers)")
    # Compiled after freezing: Keras fixes the trainable set at compile time.
    steps_per_epoch = int(train_ds.cardinality())
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, weight_decay,
                                 decay_steps=epochs * steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,  # measured: XLA slows conv nets on CPU (README)
    )
    callbacks = [keras.callbacks.TerminateOnNaN()]
    initial_epoch, checkpoints = 0, None
    if model_dir:
        checkpoints = EpochCheckpoint(model, model_dir, keep_checkpoints)
        initial_epoch = checkpoints.restore()
        if initial_epoch:
            print(f"Resuming from {checkpoints.manager.latest_checkpoint} "
                  f"(epoch {initial_epoch} of {epochs} done)")
        callbacks += [checkpoints.callback(),
                      keras.callbacks.TensorBoard(log_dir=os.path.join(model_dir, "logs"))]
    start = time.perf_counter()
    # shuffle=False: zoo.data already shuffles (seeded) inside the pipeline.
    history = model.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch, shuffle=False,
                        verbose=verbose, callbacks=callbacks)
    wall_time = time.perf_counter() - start
    losses = history.history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        raise FloatingPointError(
            f"Training stopped: the loss became {losses[-1]} in epoch "
            f"{initial_epoch + len(losses)}; the last good checkpoint is "
            f"{checkpoints.manager.latest_checkpoint if checkpoints else 'none (no --model_dir)'}"
            ". Lower --learning_rate.")
    _, accuracy = model.evaluate(test_ds, verbose=0)
    exported = [str(zoo.export.save(model, path, overwrite=True)) for path in export]
    return {"model": model_name, "dataset": dataset, "epochs": epochs,
            "test_accuracy": float(accuracy), "train_seconds": wall_time,
            "checkpoint": checkpoints.manager.latest_checkpoint if checkpoints else None,
            "exports": exported}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)
    from zoo.data.tfds_common import DatasetNotPreparedError

    try:
        result = train(FLAGS.model, FLAGS.dataset, epochs=FLAGS.epochs,
                       batch_size=FLAGS.batch_size, image_size=FLAGS.image_size,
                       optimizer=FLAGS.optimizer, learning_rate=FLAGS.learning_rate,
                       weight_decay=FLAGS.weight_decay, seed=FLAGS.seed, verbose=verbose,
                       export=FLAGS.export, model_dir=FLAGS.model_dir,
                       keep_checkpoints=FLAGS.keep_checkpoints, init_from=FLAGS.init_from,
                       freeze_upto=FLAGS.freeze_upto)
    except FloatingPointError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except DatasetNotPreparedError as error:
        # Offline and not on disk: the message says where it looked and how
        # to prepare it; a traceback would add nothing.
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
        + (f" exports={','.join(result['exports'])}" if result["exports"] else "")
    )
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    sys.exit(run())
