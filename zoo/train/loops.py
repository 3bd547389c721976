"""The explicit training loop (`--loop=custom`) and the callbacks both loops share.

`CustomLoop` is what Keras `fit` does, written out: a `tf.GradientTape` in a
`tf.function`, `optimizer.apply_gradients`, `training=True` for the step and
`training=False` for evaluation (so BatchNorm and Dropout behave), metrics
updated every step and reset every epoch, and the same Keras callbacks
(`keras.callbacks.CallbackList`). It runs under any `tf.distribute`
strategy: the step runs on every replica with `strategy.run`, the loss is
averaged over the global batch with `tf.nn.compute_average_loss`, and the
sums behind the metrics are reduced across replicas and workers.
"""

import keras
import numpy as np
import tensorflow as tf

import zoo.export
from zoo.losses import SparseCrossentropy

__all__ = ["CustomLoop", "SaveBest", "SaveEachEpoch", "SparseCrossentropy"]


class CustomLoop:
    """Trains and evaluates a compiled model with an explicit GradientTape loop.

    Args:
        model: a `keras.Model`, built and compiled under `strategy.scope()`
            (compile supplies the optimizer, wrapped for loss scaling under
            `mixed_float16`).
        loss: a `keras.losses.Loss` with `reduction=None` (one value per
            example); the global mean comes from `tf.nn.compute_average_loss`.
        strategy: the `tf.distribute.Strategy` the model was built under.
        jit_compile: bool. Compile the per-replica step with XLA.
    """

    def __init__(self, model, loss, strategy, jit_compile=False):
        self.model = model
        self.loss = loss
        self.strategy = strategy
        # Metrics live outside the strategy: they are updated with sums that
        # are already reduced across replicas, in cross-replica context.
        self.metrics = {"loss": keras.metrics.Mean(name="loss"),
                        "accuracy": keras.metrics.Mean(name="accuracy")}
        replica_train = tf.function(self._replica_train_step, jit_compile=jit_compile)
        replica_eval = tf.function(self._replica_eval_step, jit_compile=jit_compile)

        @tf.function
        def train_step(iterator):
            sums = strategy.run(replica_train, args=(next(iterator),))
            self._update_metrics(sums)

        @tf.function
        def eval_step(batch):
            self._update_metrics(strategy.run(replica_eval, args=(batch,)))

        self.train_step, self.eval_step = train_step, eval_step

    def _sums(self, labels, logits, per_example_loss, regularization=0.0):
        # Sums, not means: reduced across replicas they give global means.
        # The regularization term counts once per example, so the reported
        # loss is cross-entropy + regularization, as Keras fit reports it.
        correct = keras.ops.cast(
            keras.ops.equal(keras.ops.argmax(logits, axis=-1),
                            keras.ops.cast(labels, "int64")), "float32")
        count = keras.ops.cast(keras.ops.shape(labels)[0], "float32")
        loss_sum = keras.ops.sum(per_example_loss) + regularization * count
        return loss_sum, keras.ops.sum(correct), count

    def _replica_train_step(self, batch):
        inputs, labels = batch
        model, optimizer = self.model, self.model.optimizer
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            per_example_loss = self.loss(labels, logits)
            # Divided by the *global* batch size: the replicas' gradients
            # are summed, so their sum is the gradient of the global mean.
            loss = tf.nn.compute_average_loss(per_example_loss)
            regularization = tf.add_n(model.losses) if model.losses else 0.0
            if model.losses:
                loss += tf.nn.scale_regularization_loss(regularization)
            # Identity unless the optimizer is a LossScaleOptimizer
            # (mixed_float16), which also unscales in apply_gradients.
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return self._sums(labels, logits, per_example_loss, regularization)

    def _replica_eval_step(self, batch):
        inputs, labels = batch
        logits = self.model(inputs, training=False)
        regularization = tf.add_n(self.model.losses) if self.model.losses else 0.0
        return self._sums(labels, logits, self.loss(labels, logits), regularization)

    def _update_metrics(self, per_replica_sums):
        loss_sum, correct, count = (
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for value in per_replica_sums)
        self.metrics["loss"].update_state(loss_sum / count, sample_weight=count)
        self.metrics["accuracy"].update_state(correct / count, sample_weight=count)

    def _results(self, prefix=""):
        return {prefix + name: float(metric.result()) for name, metric in self.metrics.items()}

    def _reset(self):
        for metric in self.metrics.values():
            metric.reset_state()

    def evaluate(self, dataset):
        """Mean loss and accuracy over `dataset`; returns a dict."""
        self._reset()
        for batch in self.strategy.experimental_distribute_dataset(dataset):
            self.eval_step(batch)
        return self._results()

    def fit(self, stream, *, epochs, steps_per_epoch, initial_epoch=0, initial_step=0,
            callbacks=(), verbose=1, validation_data=None, checkpoint_steps=0,
            on_checkpoint_step=None):
        """Trains from `(initial_epoch, initial_step)` to the end of `epochs`.

        Args:
            stream: endless `tf.data.Dataset` of batches whose first batch is
                epoch `initial_epoch`'s first (`zoo.data.load(...,
                start_epoch=initial_epoch)`); `initial_step` batches are
                skipped here.
            epochs: int. Train up to (not including) this epoch index.
            steps_per_epoch: int. Batches per epoch.
            callbacks: Keras callbacks (TerminateOnNaN, EarlyStopping, ...).
            verbose: 0, 1 (progress bar) or 2 (one line per epoch).
            validation_data: dataset evaluated after each epoch (`val_*` logs).
            checkpoint_steps: int. Call `on_checkpoint_step(epoch, step)`
                every this many steps inside an epoch (0: never).

        Returns:
            The `keras.callbacks.History`.
        """
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList(
            [history, *callbacks], add_progbar=verbose != 0, model=self.model,
            verbose=verbose, epochs=epochs, steps=steps_per_epoch)
        iterator = iter(self.strategy.experimental_distribute_dataset(
            stream.skip(initial_step)))
        self.model.stop_training = False
        callback_list.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset()
            callback_list.on_epoch_begin(epoch)
            first_step = initial_step if epoch == initial_epoch else 0
            for step in range(first_step, steps_per_epoch):
                callback_list.on_train_batch_begin(step)
                self.train_step(iterator)
                logs = self._results()
                callback_list.on_train_batch_end(step, logs)
                if self.model.stop_training:
                    break
                done = step + 1
                if checkpoint_steps and done % checkpoint_steps == 0 and done < steps_per_epoch:
                    on_checkpoint_step(epoch, done)
            if validation_data is not None and not self.model.stop_training:
                train_logs = logs
                logs = {**train_logs, **{f"val_{k}": v
                                         for k, v in self.evaluate(validation_data).items()}}
            callback_list.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        callback_list.on_train_end(logs)
        return history


class SaveEachEpoch(keras.callbacks.Callback):
    """Checkpoints at every epoch end, unless the loss went NaN (the last
    good checkpoint must survive a divergence)."""

    def __init__(self, checkpoint, steps_per_epoch):
        super().__init__()
        self.checkpoint = checkpoint
        self.steps_per_epoch = steps_per_epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            return
        self.checkpoint.save(epoch + 1, 0, global_step=(epoch + 1) * self.steps_per_epoch)


class SaveBest(keras.callbacks.Callback):
    """Saves the model whenever `monitor` improves, atomically (`zoo.export`).

    Keras' `ModelCheckpoint(save_best_only=True)` writes in place, so a kill
    mid-write would corrupt the best model; `zoo.export.save` writes aside and
    renames. The best value so far is a variable the run's checkpoint holds,
    so a resumed run compares against the true best.

    Args:
        path: str. Any `zoo.export` path (`.keras`, `.weights.h5`, ...).
        monitor: str. A log key, e.g. `val_accuracy`.
        best: scalar float `tf.Variable`, the best value so far (±inf first).
        mode: `"max"` or `"min"`.
        write: bool. False on a non-chief worker: it tracks but never writes.
    """

    def __init__(self, path, monitor, best, mode, write=True):
        super().__init__()
        self.path, self.monitor, self.best, self.mode = path, monitor, best, mode
        self.write = write

    @staticmethod
    def initial_value(mode):
        return -np.inf if mode == "max" else np.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        best = float(self.best.numpy())
        if value > best if self.mode == "max" else value < best:
            self.best.assign(value)
            if self.write:
                zoo.export.save(self.model, self.path, overwrite=True)
