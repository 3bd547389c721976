"""Training: `zoo.train.train(...)` and its CLI, `python -m zoo.train`.

`train()` builds a registered model for a dataset, trains it with Keras
`fit` (`loop="fit"`) or the explicit GradientTape loop (`loop="custom"`,
`zoo.train.loops`), under a `tf.distribute` strategy (`zoo.train.distribute`),
checkpoints it into `model_dir` and resumes from there
(`zoo.train.checkpoints`), evaluates it on the test split and exports it.
The CLI (`zoo/train/__main__.py`) maps absl flags one for one onto its
arguments; `python -m zoo.train --helpfull` lists them.

Arguments left None take the model family's `training_defaults`.
"""

import contextlib
import math
import os
import time

from zoo.train._checks import check_arguments


def build_model(model_name, dataset, image_size, replicas=1, num_classes=None):
    """Creates the model sized for the dataset; rejects a modality mismatch.

    `num_classes` (default: the dataset's) sets the classifier's width; it
    may exceed the dataset's classes (a head meant for more labels later),
    never fall short of them.

    With more than one replica, BatchNorm is synchronized across them where
    the model offers it (`bn_synchronized`): Keras 3 creates the moving
    statistics with no cross-replica aggregation, so with per-replica
    batch statistics each worker of a multi-worker run would end with
    moving statistics of its own shard, and the workers' models would differ.
    """
    import zoo
    import zoo.data

    info = zoo.data.info(dataset)
    if num_classes is None:
        num_classes = info["num_classes"]
    elif num_classes < info["num_classes"]:
        raise ValueError(f"--num_classes={num_classes} is fewer than the "
                         f"{info['num_classes']} classes of --dataset={dataset}")
    model = zoo.create_model(model_name, num_classes=num_classes)
    overrides = {}
    if replicas > 1 and "bn_synchronized" in model.get_config():
        overrides["bn_synchronized"] = True
        model = zoo.create_model(model_name, num_classes=num_classes, **overrides)
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
            model_name, num_classes=num_classes,
            input_shape=(size, size, info["channels"]),
            data_format="channels_last",  # what zoo.data yields
            **overrides)
    return model


def data_options(dataset, image_size):
    """`image_size` for the datasets that resize (digits); fixed-size sets take none."""
    import zoo.data

    return {"image_size": image_size} if "image_size" in zoo.data.info(dataset)["options"] else {}


@contextlib.contextmanager
def _dtype_policy(name):
    # Set for this run only: the global policy decides the dtype of every
    # layer built meanwhile, and a library call must not leak it.
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if name == "none" else name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def train(model_name, dataset, epochs=None, batch_size=64, image_size=32, optimizer=None,
          learning_rate=None, weight_decay=None, lr_schedule="cosine", warmup_epochs=1.0,
          label_smoothing=0.0, loop="fit", strategy="default", tpu="local", jit_compile="auto",
          mixed_precision="none", deterministic=False, seed=0, verbose="auto", export=(),
          model_dir=None, keep_checkpoints=3, checkpoint_steps=0, validate=True,
          early_stopping_patience=0, monitor="val_accuracy", save_best=True,
          histogram_freq=0, init_from=None, freeze_upto=None, num_classes=None):
    """Builds, trains, evaluates and exports a model; returns a dict of results.

    Args:
        model_name, dataset: registered names (`zoo.list_models()`,
            `zoo.data.DATASETS`).
        epochs, optimizer, learning_rate, weight_decay: None takes the
            model's `training_defaults`.
        batch_size: int. The global batch, split across replicas.
        lr_schedule: one of `zoo.train.optim.SCHEDULES`; `warmup_epochs` is
            the warm-up length of `"warmup"`.
        label_smoothing: float in [0, 1).
        loop: `"fit"` (Keras fit) or `"custom"` (`zoo.train.loops.CustomLoop`).
        strategy: one of `zoo.train.distribute.STRATEGIES`; `tpu` names the
            TPU for `"tpu"`.
        jit_compile: `"auto"` (the family's measured default for the
            device), `"on"`, `"off"` or `"probe"` (time both, keep the
            faster; single device only). See `zoo.train.jit`.
        mixed_precision: `"none"`, `"mixed_float16"` (with loss scaling) or
            `"mixed_bfloat16"`.
        deterministic: bool. Turn on TensorFlow op determinism (for the
            whole process: it cannot be turned off again).
        seed: int. Seeds weights, data split, shuffling and augmentation.
        model_dir: str or None. Checkpoints (every epoch, and every
            `checkpoint_steps` steps with the custom loop), TensorBoard logs
            and `best.keras`; a rerun resumes from the latest checkpoint.
        validate: bool. Evaluate on the test split after every epoch.
        early_stopping_patience: int. Stop after this many epochs without
            improvement of `monitor` (0: never).
        save_best: bool. Keep `model_dir/best.keras`, the model at its best
            `monitor` value.
        histogram_freq: int. Weight histograms in TensorBoard every this many
            epochs (0: none).
        init_from: path of a saved model or a model_dir to start from.
        num_classes: int or None. Classifier width (default: the dataset's
            classes); with `init_from`, a width unlike the source's gives a
            new, freshly initialized head.
        freeze_upto: layer or stage name: freeze up to it (`zoo.finetune`).

    Returns:
        dict: model, dataset, epochs, test_accuracy, train_seconds,
        checkpoint, best, exports, weights_sha256, loop, strategy,
        jit_compile, replicas.

    Raises:
        ValueError: naming the argument (as its flag, `--learning_rate`) and
            the value, for a bad value or combination, before any work.
    """
    arguments = dict(locals())
    # Checked before anything starts: the same checks as the CLI's flags.
    check_arguments(arguments)
    import keras
    import tensorflow as tf

    from zoo.train import distribute

    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    strategy_object = distribute.make_strategy(strategy, tpu=tpu)
    with _dtype_policy(mixed_precision):
        return _train(
            model_name, dataset, epochs=epochs, batch_size=batch_size, image_size=image_size,
            optimizer=optimizer, learning_rate=learning_rate, weight_decay=weight_decay,
            lr_schedule=lr_schedule, warmup_epochs=warmup_epochs,
            label_smoothing=label_smoothing, loop=loop, strategy=strategy,
            strategy_object=strategy_object, jit_compile=jit_compile, seed=seed,
            verbose=verbose, export=export, model_dir=model_dir,
            keep_checkpoints=keep_checkpoints, checkpoint_steps=checkpoint_steps,
            validate=validate, early_stopping_patience=early_stopping_patience,
            monitor=monitor, save_best=save_best, histogram_freq=histogram_freq,
            init_from=init_from, freeze_upto=freeze_upto, num_classes=num_classes)


def _freeze(model, upto):
    """`zoo.finetune.freeze(model, upto=upto)`, its error naming --freeze_upto."""
    import zoo.finetune

    try:
        return zoo.finetune.freeze(model, upto=upto)
    except ValueError as error:
        raise ValueError(f"--freeze_upto={upto}: {error}") from None


def _train(model_name, dataset, *, epochs, batch_size, image_size, optimizer, learning_rate,
           weight_decay, lr_schedule, warmup_epochs, label_smoothing, loop, strategy,
           strategy_object, jit_compile, seed, verbose, export, model_dir, keep_checkpoints,
           checkpoint_steps, validate, early_stopping_patience, monitor, save_best,
           histogram_freq, init_from, freeze_upto, num_classes):
    """`train()` after validation, under the run's dtype policy."""
    import keras
    import tensorflow as tf

    import zoo.data
    import zoo.export
    from zoo import losses
    from zoo.train import checkpoints, distribute, jit, loops, optim

    chief = distribute.is_chief(strategy_object)
    options = data_options(dataset, image_size)
    from zoo import _launch, ops

    device_type = ("tpu" if strategy == "tpu" else
                   "gpu" if tf.config.list_logical_devices("GPU") else
                   "cpu/onednn" if ops.onednn_enabled() else "cpu/eigen")
    notes = []  # printed after the run's first line, which says what runs
    if strategy == "multi_worker" and loop == "custom":
        notes.append("--strategy=multi_worker: training with --loop=custom (Keras fit does "
                     "not run under MultiWorkerMirroredStrategy)")

    with strategy_object.scope():
        model = build_model(model_name, dataset, image_size,
                            replicas=strategy_object.num_replicas_in_sync,
                            num_classes=num_classes)
        # Frozen first, before any data is read: a --freeze_upto that names
        # no layer of this model fails in seconds.
        frozen = _freeze(model, freeze_upto) if freeze_upto is not None else []
        train_epoch = zoo.data.load(dataset, split="train", batch_size=batch_size, seed=seed,
                                    **options)
        test_ds = zoo.data.load(dataset, split="test", batch_size=batch_size, seed=seed,
                                **options)
        steps_per_epoch = int(train_epoch.cardinality())
        defaults = model.training_defaults
        epochs = epochs or defaults["epochs"]
        optimizer = optimizer or defaults["optimizer"]
        learning_rate = defaults["learning_rate"] if learning_rate is None else learning_rate
        if weight_decay is None:
            # The defaults' decay is AdamW's; plain Adam takes none.
            weight_decay = 0.0 if optimizer == "adam" else defaults["weight_decay"]
        if hasattr(model, "adapt"):
            # The vocabulary comes from the training split only, never from test.
            model.adapt(train_epoch)
        new_head = checkpoints.initialize_from(model, init_from) if init_from else []
        if new_head:
            notes.append(f"--init_from={init_from}: new head, freshly initialized: "
                         f"{', '.join(new_head)}")
        if frozen:
            notes.append(f"Frozen (BatchNorm in inference mode): {frozen[0]} .. {frozen[-1]} "
                         f"({len(frozen)} layers)")
        total_steps = epochs * steps_per_epoch
        warmup_steps = round(warmup_epochs * steps_per_epoch)
        if lr_schedule == "warmup" and not 0 < warmup_steps < total_steps:
            raise ValueError(
                f"--warmup_epochs={warmup_epochs} must be more than 0 and less than "
                f"--epochs={epochs} ({warmup_steps} warm-up steps of {total_steps})")
        schedule = optim.make_schedule(lr_schedule, learning_rate, total_steps,
                                       warmup_steps=warmup_steps)
        num_classes = model.num_classes
        loss = losses.SparseCrossentropy(num_classes, label_smoothing)

        def make():
            return optim.make_optimizer(optimizer, schedule, weight_decay)

        # Only a probe needs a batch: drawing one fills the shuffle buffer.
        probe_args = ({"batch": next(iter(train_epoch)), "make_optimizer": make, "loss": loss}
                      if jit_compile == "probe" else {})
        replicas = strategy_object.num_replicas_in_sync
        use_xla = jit.resolve(jit_compile, model, device_type, log=notes.append,
                              replicas=replicas, **probe_args)
        kernels_why = _launch.decision or "TF_ENABLE_ONEDNN_OPTS as the caller left it"
        print(f"zoo.train: {ops.describe()} ({kernels_why}); "
              f"{jit.explain(jit_compile, model, use_xla, device_type, replicas)}")
        for note in notes:
            print(note)
        # Compiled after freezing: Keras fixes the trainable set at compile
        # time. The custom loop compiles too: compile supplies the optimizer
        # (loss-scaled under mixed_float16) that it and the callbacks use.
        model.compile(
            optimizer=make(), loss=loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=use_xla)
        # The optimizer makes its slots on first use; made here, under the
        # strategy's scope, they are mirrored like the weights (made inside
        # the custom loop's tf.function they would not be).
        model.optimizer.build(model.trainable_variables)

        # Keras' rule for EarlyStopping/ModelCheckpoint "auto" mode.
        mode = "max" if "acc" in monitor else "min"
        best = tf.Variable(loops.SaveBest.initial_value(mode), dtype=tf.float64,
                           trainable=False, name="best_" + monitor)
        checkpoint, initial_epoch, initial_step = None, 0, 0
        if model_dir:
            checkpoint = checkpoints.TrainingCheckpoint(
                model, model_dir, keep_checkpoints,
                write_dir=distribute.worker_write_dir(strategy_object, model_dir),
                extra={"best": best})
            initial_epoch, initial_step = checkpoint.restore()
            if initial_epoch or initial_step:
                print(f"Resuming from {checkpoint.restored} (epoch {initial_epoch} of "
                      f"{epochs} done, {initial_step} steps into the next)")
    if initial_step and loop == "fit":
        raise ValueError(f"--model_dir={model_dir} stopped {initial_step} steps into epoch "
                         f"{initial_epoch + 1} (saved by --loop=custom --checkpoint_steps); "
                         "resume it with --loop=custom")

    # The data stream from the resumed epoch on: epoch e is shuffled and
    # augmented by (seed, e) alone, so resumed runs read what unbroken ones do.
    stream = zoo.data.load(dataset, split="train", batch_size=batch_size, seed=seed,
                           start_epoch=initial_epoch, **options)
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=early_stopping_patience, verbose=1))
    best_path = None
    if model_dir:
        if save_best:
            best_path = os.path.join(model_dir, "best.keras")
            callbacks.append(loops.SaveBest(best_path, monitor, best, mode, write=chief))
        callbacks.append(loops.SaveEachEpoch(checkpoint, steps_per_epoch))
        if chief:  # the other workers' summaries would repeat the chief's
            callbacks.append(keras.callbacks.TensorBoard(
                log_dir=os.path.join(model_dir, "logs"), histogram_freq=histogram_freq,
                # The graph comes from Keras' own train function, which the
                # custom loop does not have.
                write_graph=loop == "fit"))
    if verbose == "auto":
        verbose = 1

    runner = None
    if loop == "custom":
        runner = loops.CustomLoop(
            model, losses.SparseCrossentropy(num_classes, label_smoothing, reduction=None),
            strategy_object, jit_compile=use_xla)
    start = time.perf_counter()
    if initial_epoch >= epochs:
        history = None  # a finished run, rerun: nothing left but evaluation
    elif runner is None:
        history = model.fit(stream, epochs=epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=steps_per_epoch, shuffle=False, verbose=verbose,
                            callbacks=callbacks,
                            validation_data=test_ds if validate else None)
    else:
        history = runner.fit(
            stream, epochs=epochs, steps_per_epoch=steps_per_epoch,
            initial_epoch=initial_epoch, initial_step=initial_step, callbacks=callbacks,
            verbose=verbose, validation_data=test_ds if validate else None,
            checkpoint_steps=checkpoint_steps,
            on_checkpoint_step=lambda epoch, step: checkpoint.save(
                epoch, step, global_step=epoch * steps_per_epoch + step))
    wall_time = time.perf_counter() - start

    losses = history.history.get("loss", []) if history else []
    if losses and not math.isfinite(losses[-1]):
        raise FloatingPointError(
            f"Training stopped: the loss became {losses[-1]} in epoch "
            f"{initial_epoch + len(losses)}; the last good checkpoint is "
            f"{checkpoint.latest if checkpoint else 'none (no --model_dir)'}"
            ". Lower --learning_rate.")
    if runner is None:
        _, accuracy = model.evaluate(test_ds, verbose=0)
    else:
        accuracy = runner.evaluate(test_ds)["accuracy"]
    exported = [str(zoo.export.save(model, path, overwrite=True))
                for path in export] if chief else []
    return {"model": model_name, "dataset": dataset, "epochs": epochs,
            "test_accuracy": float(accuracy), "train_seconds": wall_time,
            "checkpoint": checkpoint.latest if checkpoint else None,
            "best": best_path if best_path and os.path.exists(best_path) else None,
            "exports": exported, "weights_sha256": checkpoints.weights_digest(model),
            "loop": loop, "strategy": strategy, "jit_compile": use_xla,
            "replicas": strategy_object.num_replicas_in_sync}

