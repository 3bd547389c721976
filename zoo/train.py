"""Train a registered model on a dataset: `python -m zoo.train`.

Example:

    python -m zoo.train --model=resnet20 --dataset=digits --epochs=15

Trains with Keras `fit` (progress bar included), evaluates on the test split
and prints one summary line. `--helpfull` lists every flag.
"""

import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS

flags.DEFINE_string("model", "resnet20", "Registered model name (see zoo.list_models()).")
flags.DEFINE_string("dataset", "digits", "Dataset name (see zoo.data.DATASETS).")
flags.DEFINE_integer("epochs", 15, "Number of training epochs.", lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Examples per training step.", lower_bound=1)
flags.DEFINE_integer("image_size", 32, "Height and width images are resized to.", lower_bound=1)
flags.DEFINE_enum("optimizer", "sgd", ["sgd", "adam"],
                  "sgd: SGD with Nesterov momentum 0.9; adam: Adam.")
flags.DEFINE_float("learning_rate", 0.1, "Peak learning rate (cosine-decayed to 0).",
                   lower_bound=0.0)
flags.DEFINE_float("weight_decay", 5e-4, "Decoupled weight decay of the optimizer.",
                   lower_bound=0.0)
flags.DEFINE_integer("seed", 0, "Seed of weights, data split and shuffling.", lower_bound=0)
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                  "Keras fit verbosity: 1 = progress bar, 2 = one line per epoch.")


@flags.validator("model", message="unknown model")
def _check_model(name):
    import zoo  # deferred: importing TensorFlow before --help costs seconds

    try:
        zoo.registry.get_constructor(name)
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


def train(model_name, dataset, epochs, batch_size, image_size, optimizer, learning_rate,
          weight_decay, seed, verbose="auto"):
    """Builds, trains and evaluates a model; returns a dict of results."""
    import keras

    import zoo
    import zoo.data

    keras.utils.set_random_seed(seed)
    info = zoo.data.info(dataset)
    common = {"batch_size": batch_size, "image_size": image_size, "seed": seed}
    train_ds = zoo.data.load(dataset, split="train", **common)
    test_ds = zoo.data.load(dataset, split="test", **common)
    model = zoo.create_model(
        model_name,
        num_classes=info["num_classes"],
        input_shape=(image_size, image_size, info["channels"]),
        data_format="channels_last",  # what zoo.data yields
    )
    steps_per_epoch = int(train_ds.cardinality())
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, weight_decay,
                                 decay_steps=epochs * steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,  # measured: XLA slows conv nets on CPU (README)
    )
    start = time.perf_counter()
    # shuffle=False: zoo.data already shuffles (seeded) inside the pipeline.
    model.fit(train_ds, epochs=epochs, shuffle=False, verbose=verbose)
    wall_time = time.perf_counter() - start
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return {"model": model_name, "dataset": dataset, "epochs": epochs,
            "test_accuracy": float(accuracy), "train_seconds": wall_time}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected positional arguments: {argv[1:]}")
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)
    try:
        result = train(FLAGS.model, FLAGS.dataset, FLAGS.epochs, FLAGS.batch_size,
                       FLAGS.image_size, FLAGS.optimizer, FLAGS.learning_rate,
                       FLAGS.weight_decay, FLAGS.seed, verbose)
    except ValueError as error:
        # A bad combination of valid flags (e.g. an image too small for the
        # model) reaches the user as a usage error, not a traceback.
        raise app.UsageError(str(error)) from None
    print(
        f"model={result['model']} dataset={result['dataset']} epochs={result['epochs']} "
        f"test_accuracy={result['test_accuracy']:.4f} "
        f"train_time={result['train_seconds']:.1f}s"
    )
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    sys.exit(run())
