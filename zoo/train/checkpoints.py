"""Checkpoints of a training run: save often, resume exactly, never lose one.

`TrainingCheckpoint` holds every model variable (by path), the optimizer
(slots and step counter, hence the learning-rate schedule's position), and
the data position: the epoch and the steps done in it. The input pipeline
is a pure function of `(seed, epoch)` (`zoo.data.epochs`), so restoring
`epoch` and `step` and skipping `step` batches puts the data iterator exactly
where the interrupted run left it.

`tf.train.CheckpointManager` writes the files first and the `checkpoint`
index last, so a kill at any moment leaves the previous checkpoint intact.
"""

import os
import shutil

import numpy as np
import tensorflow as tf


def _variables_by_path(model):
    # `model.variables`, not `model=model`: TensorFlow's object tracking does
    # not see layers that Keras 3 keeps in lists (our stages and blocks), so
    # `tf.train.Checkpoint(model=model)` would silently drop every BatchNorm
    # moving statistic inside the blocks. `variables` (unlike `weights`)
    # also holds the SeedGenerator states of dropout: restoring them makes
    # a resumed run draw the same masks as an uninterrupted one.
    found = {}
    for variable in model.variables:
        if variable.path in found and found[variable.path] is not variable:
            raise ValueError(f"two model variables share the path {variable.path!r}")
        found[variable.path] = variable
    return found


class TrainingCheckpoint:
    """Model, optimizer and data position of a run, managed in `model_dir`.

    Args:
        model: the compiled `keras.Model` (its optimizer is checkpointed).
        model_dir: str. Where checkpoints are read from.
        keep: int >= 1. How many checkpoints to keep.
        write_dir: str or None. Where this process writes (None: model_dir).
            A non-chief worker of a multi-worker run writes to a scratch
            directory: every worker must take part in a save, but only the
            chief's copy is kept.
        extra: dict of further trackables (e.g. the best metric so far).
    """

    def __init__(self, model, model_dir, keep, write_dir=None, extra=None):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # Optimizer slots are created lazily; build them now so that a
        # restore fills them instead of silently skipping them.
        model.optimizer.build(model.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(
            weights=_variables_by_path(model), optimizer=model.optimizer,
            epoch=self.epoch, step_in_epoch=self.step, **(extra or {}))
        self.model_dir = str(model_dir)
        self.write_dir = str(write_dir or model_dir)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory=self.write_dir, max_to_keep=keep)

    @property
    def latest(self):
        return tf.train.latest_checkpoint(self.model_dir)

    def restore(self):
        """Restores the latest checkpoint, if any.

        Returns:
            `(epoch, step)`: completed epochs and steps done in the next one.

        Raises:
            ValueError: when the checkpoint is of another model or setup.
        """
        latest = self.latest
        if latest is None:
            return 0, 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise ValueError(
                f"--model_dir={self.model_dir} holds a checkpoint ({latest}) of another "
                f"model or configuration: {str(error).splitlines()[0]}") from None
        return int(self.epoch.numpy()), int(self.step.numpy())

    def save(self, epoch, step, global_step):
        """Saves the position `(epoch, step)`; returns the checkpoint path."""
        self.epoch.assign(epoch)
        self.step.assign(step)
        path = self.manager.save(checkpoint_number=global_step)
        if self.write_dir != self.model_dir:
            shutil.rmtree(self.write_dir, ignore_errors=True)
        return path


def initialize_from(model, source):
    """Copies weights from a saved model or a checkpoint directory into `model`.

    Variables are matched by their path inside the model (the model's own
    name stripped). Only the classifier may differ in shape (fine-tuning to
    a new number of classes): it keeps its fresh initialization. Any other
    mismatch is an error naming --init_from.

    Returns:
        The names of the variables left at their initialization.
    """
    import keras

    import zoo.export

    def key(variable):
        return variable.path.split("/", 1)[-1]

    latest = os.path.isdir(source) and tf.train.latest_checkpoint(source)
    if latest:
        # A --model_dir of this same architecture: restore into a twin.
        donor = type(model).from_config(model.get_config())
        try:
            tf.train.Checkpoint(weights=_variables_by_path(donor)).restore(
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


def weights_digest(model):
    """SHA-256 of every weight's bytes in model order: equal iff bit-identical."""
    import hashlib

    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(variable.numpy())).tobytes())
    return digest.hexdigest()
