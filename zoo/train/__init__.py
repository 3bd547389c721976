"""Training: `zoo.train.train(...)` and its CLI, `python -m zoo.train`.

`train()` runs `_build` (model, data, recipe and checkpoint, under a
`tf.distribute` strategy), `_fit` (Keras `fit` or `loops.CustomLoop`),
`_evaluate` and `_export`.
"""

import contextlib
import dataclasses
import functools
import math
import os
import time

from zoo.train.config import TrainConfig, about_option, name, shown

__all__ = ["TrainConfig", "build_model", "data_options", "train"]


def build_model(model_name, dataset, image_size, replicas=1, num_classes=None,
                model_args=None):
    """Creates the model sized for the dataset; rejects a modality mismatch.

    `num_classes` (default: the dataset's) may exceed the dataset's classes,
    never fall short. `model_args` are more constructor arguments (a
    constructor's error names them, as `model_args`). A zoo model keeps the dataset's `class_names` and
    image `preprocessing`, saved with it for `zoo.predict`.
    """
    import zoo
    import zoo.data
    import zoo.data.images
    from zoo.models.base import ZooModel

    info = zoo.data.info(dataset)
    # A model registered without a family has no record: an image model.
    record = (zoo.model_info(model_name) if zoo.registry.model_family(model_name)
              else None)
    modality = record.modality if record else "image"
    if num_classes is None:
        num_classes = info["num_classes"]
    elif num_classes < info["num_classes"]:
        raise ValueError(f"{shown('num_classes', num_classes)} is fewer than the "
                         f"{info['num_classes']} classes of {shown('dataset', dataset)}")
    if modality != info["modality"]:
        raise ValueError(f"{shown('model_name', model_name)} trains on {modality} data, "
                         f"not the {info['modality']} that {shown('dataset', dataset)} yields")
    overrides = {"num_classes": num_classes}
    if replicas > 1 and record:
        overrides.update(record.distributed)
    if info["modality"] == "image":
        size = info.get("image_size", image_size)  # MNIST/CIFAR come at a fixed size
        overrides.update(input_shape=(size, size, info["channels"]),
                         data_format="channels_last")  # what zoo.data yields
    if model_args:
        with about_option("model_args", model_args, (TypeError, ValueError)):
            model = zoo.create_model(model_name, **model_args, **overrides)
    else:
        model = zoo.create_model(model_name, **overrides)
    if isinstance(model, ZooModel):
        # Saved with the model in every format (a plain Keras model has no place for them).
        model.class_names = info.get("class_names")
        if info["modality"] == "image":
            model.preprocessing = zoo.data.images.preprocessing(size, info["channels"])
    return model


def progress_verbosity(verbose, stream=None):
    """`verbose` for Keras: "auto" is a progress bar on a terminal, else one line an epoch.

    Example:
    >>> import io
    >>> progress_verbosity("auto", io.StringIO()), progress_verbosity(1, io.StringIO())
    (2, 1)
    """
    import sys

    if verbose != "auto":
        return verbose
    stream = sys.stdout if stream is None else stream
    return 1 if getattr(stream, "isatty", lambda: False)() else 2


def data_options(dataset, image_size):
    """`image_size` for the datasets that resize (digits); fixed-size sets take none."""
    import zoo.data

    return {"image_size": image_size} if "image_size" in zoo.data.info(dataset)["options"] else {}


def train(model_name=None, dataset=None, *, config=None, **options):
    """Builds, trains, evaluates and exports a model; returns a dict of results.

    Args:
        model_name, dataset: registered names; None keeps `config`'s.
        config: a `TrainConfig` (default: every option at its default).
        **options: any other `TrainConfig` field, replacing `config`'s.

    Returns:
        dict: model, dataset, epochs, test_accuracy, train_seconds,
        checkpoint, best, exports, weights_sha256, loop, strategy,
        jit_compile, replicas.

    Raises:
        ValueError: naming the option and the value, before any work.
        TypeError: a keyword that is no option.

    Example (not run here: it trains for a few seconds):

        zoo.train.train("einsum_mlp", "digits", image_size=8, epochs=1)
    """
    names = {"model_name": model_name, "dataset": dataset}
    options.update({k: v for k, v in names.items() if v is not None})
    config = dataclasses.replace(config or TrainConfig(), **options)
    import keras
    import tensorflow as tf

    from zoo.train import checkpoints, distribute

    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    strategy = distribute.make_strategy(config.strategy, tpu=config.tpu)
    with _dtype_policy(config.mixed_precision):
        run = _build(config, strategy)
        fitted = _fit(run)
        accuracy = _evaluate(run)
        exported = _export(run)
    return {"model": config.model_name, "dataset": config.dataset, "epochs": run.epochs,
            "test_accuracy": float(accuracy), "train_seconds": fitted["seconds"],
            "checkpoint": run.checkpoint.latest if run.checkpoint else None,
            "best": fitted["best"], "exports": exported,
            "weights_sha256": checkpoints.weights_digest(run.model), "loop": config.loop,
            "strategy": config.strategy, "jit_compile": run.use_xla,
            "replicas": strategy.num_replicas_in_sync}


@contextlib.contextmanager
def _dtype_policy(policy):
    # For this run only: a library call must not leak a global policy.
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if policy == "none" else policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass
class _Run:
    """What `_build` makes and the later steps use."""
    config: TrainConfig
    strategy: object
    model: object
    test_data: object
    steps_per_epoch: int
    epochs: int
    use_xla: bool
    runner: object  # the CustomLoop, or None for Keras fit
    mode: str  # "max" or "min": whether a higher `monitor` is better
    checkpoint: object = None
    initial_epoch: int = 0
    initial_step: int = 0
    best: object = None  # the best `monitor` value so far, a checkpointed variable


def _build(config, strategy):
    """The model, data, recipe and checkpoint of a run, made under `strategy`."""
    import zoo.finetune
    from zoo import losses
    from zoo.train import checkpoints, loops

    c = config
    notes = []  # printed after the run's first line, which says what runs
    if c.strategy == "multi_worker" and c.loop == "custom":
        notes.append(f"{shown('strategy', 'multi_worker')}: training with "
                     f"{shown('loop', 'custom')} (Keras fit does not run under "
                     "MultiWorkerMirroredStrategy)")
    with strategy.scope():
        model = build_model(c.model_name, c.dataset, c.image_size,
                            replicas=strategy.num_replicas_in_sync, num_classes=c.num_classes,
                            model_args=c.model_args)
        # Before any data is read: a freeze_upto naming no layer fails in seconds.
        with about_option("freeze_upto", c.freeze_upto):
            frozen = (zoo.finetune.freeze(model, upto=c.freeze_upto)
                      if c.freeze_upto is not None else [])
        train_data, test_data = (_load(c, split) for split in ("train", "test"))
        if getattr(model, "needs_adapt", False):  # a plain Keras model has no contract
            model.adapt(train_data)
        new_head = checkpoints.initialize_from(model, c.init_from) if c.init_from else []
        if new_head:
            notes.append(f"{shown('init_from', c.init_from)}: new head, freshly initialized: "
                         f"{', '.join(new_head)}")
        if frozen:
            notes.append(f"Frozen (BatchNorm in inference mode): {frozen[0]} .. {frozen[-1]} "
                         f"({len(frozen)} layers)")
        steps_per_epoch = int(train_data.cardinality())
        epochs, make_optimizer = _recipe(c, model, steps_per_epoch)
        make_loss = functools.partial(losses.SparseCrossentropy, model.num_classes,
                                      c.label_smoothing)
        # Only a probe needs a batch: drawing one fills the shuffle buffer.
        probe = ({"batch": next(iter(train_data)), "make_optimizer": make_optimizer,
                  "loss": make_loss()} if c.jit_compile == "probe" else {})
        use_xla = _compile(c, model, strategy, make_optimizer(), make_loss(),
                           notes, probe)
        runner = None  # Keras fit
        if c.loop == "custom":
            runner = loops.CustomLoop(model, make_loss(reduction=None), strategy,
                                      jit_compile=use_xla)
        run = _Run(c, strategy, model, test_data, steps_per_epoch, epochs, use_xla, runner,
                   # Keras' rule for EarlyStopping/ModelCheckpoint "auto" mode.
                   mode="max" if "acc" in c.monitor else "min")
        _restore(run)
    return run


def _load(config, split, **kwargs):
    """The batches of `config`'s `split`; `kwargs` go to `zoo.data.load`."""
    import zoo.data

    options = data_options(config.dataset, config.image_size)
    return zoo.data.load(config.dataset, split=split,
                         batch_size=config.batch_size, seed=config.seed,
                         **options, **kwargs)


def _recipe(config, model, steps_per_epoch):
    """`(epochs, make_optimizer)`: the options, the family's defaults for those left None."""
    from zoo.train import optim

    defaults = model.family_table()["recipe"]
    epochs = config.epochs or defaults["epochs"]
    optimizer = config.optimizer or defaults["optimizer"]
    learning_rate = (defaults["learning_rate"] if config.learning_rate is None
                     else config.learning_rate)
    weight_decay = config.weight_decay
    if weight_decay is None:
        # The defaults' decay is AdamW's; plain Adam takes none.
        weight_decay = 0.0 if optimizer == "adam" else defaults["weight_decay"]
    total_steps = epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    if config.lr_schedule == "warmup" and not 0 < warmup_steps < total_steps:
        raise ValueError(
            f"{shown('warmup_epochs', config.warmup_epochs)} must be more than 0 and less than "
            f"{shown('epochs', epochs)} ({warmup_steps} warm-up steps of {total_steps})")
    schedule = optim.make_schedule(config.lr_schedule, learning_rate, total_steps,
                                   warmup_steps=warmup_steps)
    return epochs, lambda: optim.make_optimizer(optimizer, schedule, weight_decay)


def _compile(config, model, strategy, optimizer, loss, notes, probe):
    """Picks the XLA setting, prints what runs, compiles; returns whether XLA is on."""
    import keras
    import tensorflow as tf

    from zoo import _launch, ops
    from zoo.train import jit

    device_type = ("tpu" if config.strategy == "tpu" else
                   "gpu" if tf.config.list_logical_devices("GPU") else
                   "cpu/onednn" if ops.onednn_enabled() else "cpu/eigen")
    replicas = strategy.num_replicas_in_sync
    use_xla = jit.resolve(config.jit_compile, model, device_type, log=notes.append,
                          replicas=replicas, **probe)
    kernels_why = _launch.decision or "TF_ENABLE_ONEDNN_OPTS as the caller left it"
    print(f"zoo.train: {ops.describe()} ({kernels_why}); "
          f"{jit.explain(config.jit_compile, model, use_xla, device_type, replicas)}")
    for note in notes:
        print(note)
    # After freezing: Keras fixes the trainable set at compile time. The custom
    # loop takes compile's optimizer (loss-scaled under mixed_float16) too.
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                  jit_compile=use_xla)
    # Slots made here, under the strategy's scope, are mirrored like the weights.
    model.optimizer.build(model.trainable_variables)
    return use_xla


def _restore(run):
    """Makes `model_dir`'s checkpoint and resumes from its latest save, if any."""
    import tensorflow as tf

    from zoo.train import checkpoints, distribute

    c = run.config
    worst = -math.inf if run.mode == "max" else math.inf
    run.best = tf.Variable(worst, dtype=tf.float64, trainable=False,
                           name="best_" + c.monitor)
    if not c.model_dir:
        return
    run.checkpoint = checkpoints.TrainingCheckpoint(
        run.model, c.model_dir, c.keep_checkpoints,
        write_dir=distribute.worker_write_dir(run.strategy, c.model_dir),
        extra={"best": run.best})
    run.initial_epoch, run.initial_step = run.checkpoint.restore()
    if run.initial_epoch or run.initial_step:
        print(f"Resuming from {run.checkpoint.restored} (epoch {run.initial_epoch} of "
              f"{run.epochs} done, {run.initial_step} steps into the next)")
    if run.initial_step and c.loop == "fit":
        raise ValueError(
            f"{shown('model_dir', c.model_dir)} stopped {run.initial_step} steps into epoch "
            f"{run.initial_epoch + 1} (saved by {shown('loop', 'custom')} "
            f"{name('checkpoint_steps')}); resume it with {shown('loop', 'custom')}")


def _callbacks(run):
    """NaN guard, early stopping, and with `model_dir` checkpoints, best model, logs."""
    import keras

    from zoo.train import distribute, loops

    c = run.config
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if c.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=c.monitor, mode=run.mode, patience=c.early_stopping_patience, verbose=1))
    if c.model_dir:
        chief = distribute.is_chief(run.strategy)
        if c.save_best:
            callbacks.append(loops.SaveBest(_best_path(c), c.monitor, run.best, run.mode,
                                            write=chief))
        callbacks.append(loops.SaveEachEpoch(run.checkpoint, run.steps_per_epoch))
        if chief:  # the other workers' summaries would repeat the chief's
            callbacks.append(keras.callbacks.TensorBoard(
                log_dir=os.path.join(c.model_dir, "logs"), histogram_freq=c.histogram_freq,
                # The graph is Keras' own train function's.
                write_graph=c.loop == "fit"))
    return callbacks


def _best_path(config):
    return os.path.join(config.model_dir, "best.keras")


def _fit(run):
    """Trains from where the checkpoint left off; returns `{"seconds", "best"}`.

    A NaN or infinite loss raises FloatingPointError, naming the last good
    checkpoint.
    """
    c = run.config
    # From the resumed epoch on: a resumed run reads what an unbroken one did.
    stream = _load(c, "train", start_epoch=run.initial_epoch)
    fit_options = {"epochs": run.epochs, "initial_epoch": run.initial_epoch,
                   "steps_per_epoch": run.steps_per_epoch, "callbacks": _callbacks(run),
                   "verbose": progress_verbosity(c.verbose),
                   "validation_data": run.test_data if c.validate else None}
    start = time.perf_counter()
    if run.initial_epoch >= run.epochs:
        history = None  # a finished run, rerun: nothing left but evaluation
    elif run.runner is None:
        history = run.model.fit(stream, shuffle=False, **fit_options)
    else:
        history = run.runner.fit(
            stream, initial_step=run.initial_step, checkpoint_steps=c.checkpoint_steps,
            on_checkpoint_step=lambda epoch, step: run.checkpoint.save(
                epoch, step, global_step=epoch * run.steps_per_epoch + step),
            **fit_options)
    seconds = time.perf_counter() - start
    losses = history.history.get("loss", []) if history else []
    if losses and not math.isfinite(losses[-1]):
        last_good = run.checkpoint.latest if run.checkpoint else f"none (no {name('model_dir')})"
        raise FloatingPointError(
            f"Training stopped: the loss became {losses[-1]} in epoch "
            f"{run.initial_epoch + len(losses)}; the last good checkpoint is {last_good}. "
            f"Lower {name('learning_rate')}.")
    best = _best_path(c) if c.model_dir and c.save_best else None
    return {"seconds": seconds, "best": best if best and os.path.exists(best) else None}


def _evaluate(run):
    """Accuracy on the test split."""
    if run.runner is None:
        return run.model.evaluate(run.test_data, verbose=0)[1]
    return run.runner.evaluate(run.test_data)["accuracy"]


def _export(run):
    """Saves the model to every `export` path (the chief only); returns the paths."""
    import zoo.export
    from zoo.train import distribute

    if not distribute.is_chief(run.strategy):
        return []
    return [str(zoo.export.save(run.model, path, overwrite=True)) for path in run.config.export]
