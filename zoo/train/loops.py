"""The explicit training loop (`--loop=custom`) and the callbacks both loops share.

`CustomLoop` is Keras `fit` written out (GradientTape, the same callbacks)
under any `tf.distribute` strategy: the loss is averaged over the global
batch, and the sums behind the metrics are reduced across replicas.
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
        model: a `keras.Model` built and compiled under `strategy.scope()`.
        loss: a `keras.losses.Loss` with `reduction=None`.
        jit_compile: bool. Compile the per-replica step with XLA.
    """

    def __init__(self, model, loss, strategy, jit_compile=False):
        self.model = model
        self.loss = loss
        self.strategy = strategy
        # Updated with sums already reduced across replicas.
        self.metrics = {name: keras.metrics.Mean(name=name)
                        for name in ("loss", "accuracy")}
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
        # Sums: reduced across replicas they give global means. Regularization
        # counts once per example, so the loss reads as Keras fit reports it.
        correct = keras.ops.cast(
            keras.ops.equal(keras.ops.argmax(logits, axis=-1),
                            keras.ops.cast(labels, "int64")), "float32")
        count = keras.ops.cast(keras.ops.shape(labels)[0], "float32")
        loss_sum = keras.ops.sum(per_example_loss) + regularization * count
        return loss_sum, keras.ops.sum(correct), count

    def _forward(self, batch, training):
        """Labels, logits, per-example loss, regularization: `_sums`' args."""
        inputs, labels = batch
        logits = self.model(inputs, training=training)
        losses = self.model.losses
        regularization = tf.add_n(losses) if losses else 0.0
        return labels, logits, self.loss(labels, logits), regularization

    def _replica_train_step(self, batch):
        model, optimizer = self.model, self.model.optimizer
        with tf.GradientTape() as tape:
            labels, logits, per_example_loss, regularization = self._forward(
                batch, training=True)
            # By the *global* batch size: the replicas' gradients are summed.
            loss = tf.nn.compute_average_loss(per_example_loss)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(regularization)
            # Identity unless a LossScaleOptimizer (which unscales in apply_gradients).
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return self._sums(labels, logits, per_example_loss, regularization)

    def _replica_eval_step(self, batch):
        return self._sums(*self._forward(batch, training=False))

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

    def evaluate(self, dataset, prefix=""):
        """Mean loss and accuracy over `dataset`, keys led by `prefix`."""
        self._reset()
        for batch in self.strategy.experimental_distribute_dataset(dataset):
            self.eval_step(batch)
        return self._results(prefix)

    def fit(self, stream, *, epochs, steps_per_epoch, initial_epoch=0, initial_step=0,
            callbacks=(), verbose=1, validation_data=None, checkpoint_steps=0,
            on_checkpoint_step=None):
        """Trains from `(initial_epoch, initial_step)` to `epochs`; returns the `History`.

        Args:
            stream: endless dataset of batches from epoch `initial_epoch`'s
                first (`zoo.data.load(..., start_epoch=...)`); `initial_step`
                batches are skipped here.
            validation_data: dataset evaluated after each epoch (`val_*` logs).
            checkpoint_steps: int. Call `on_checkpoint_step(epoch, step)`
                every this many steps inside an epoch (0: never).
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
                logs = {**logs, **self.evaluate(validation_data, "val_")}
            callback_list.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        callback_list.on_train_end(logs)
        return history


class SaveEachEpoch(keras.callbacks.Callback):
    """Checkpoints at every epoch end, unless the loss went NaN (keeping the last good one)."""

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

    (Keras' `ModelCheckpoint` writes in place.) `best` is a `tf.Variable` in
    the run's checkpoint: a resumed run compares against the true best.
    `write=False` (a non-chief worker) tracks without writing.
    """

    def __init__(self, path, monitor, best, mode, write=True):
        super().__init__()
        self.path, self.monitor, self.best, self.mode = path, monitor, best, mode
        self.write = write

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        best = float(self.best.numpy())
        if value > best if self.mode == "max" else value < best:
            self.best.assign(value)
            if self.write:
                zoo.export.save(self.model, self.path, overwrite=True)
