"""Checkpoints of a training run: save often, resume exactly, never lose one.

`TrainingCheckpoint` holds the model's variables, the optimizer (hence the
schedule's position) and the data position (epoch, step): the input
pipeline is a pure function of `(seed, epoch)`, so skipping `step` batches
resumes it exactly. A damaged checkpoint is skipped for an older one.
"""

import gc
import logging
import os
import shutil
import warnings

import numpy as np
import tensorflow as tf

from zoo.train.config import about_option, name, shown


def _absolute(path):
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


class DamagedCheckpointWarning(UserWarning):
    """A checkpoint was skipped as damaged; the run resumed from an older one."""


def _checkpoints_newest_first(model_dir):
    """The checkpoints the `checkpoint` index of `model_dir` lists (joined to it), newest first."""
    state = tf.train.get_checkpoint_state(model_dir)
    if state is None:
        return []
    paths = list(state.all_model_checkpoint_paths)
    if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    return list(reversed(paths))


def checkpoint_damage(path):
    """None if every tensor of checkpoint `path` reads back intact (CRCs checked), else why not."""
    try:
        reader = tf.train.load_checkpoint(path)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, ValueError) as error:
        return (str(error).strip().splitlines() or [type(error).__name__])[0]
    return None


def _variables_by_path(model):
    # Not `model=model`: TF's object tracking misses layers Keras 3 keeps in
    # lists (BatchNorm statistics in blocks). `variables`, unlike `weights`,
    # holds dropout's seed states: a resumed run draws the same masks.
    found = {}
    for variable in model.variables:
        if variable.path in found and found[variable.path] is not variable:
            raise ValueError(f"two model variables share the path {variable.path!r}")
        found[variable.path] = variable
    return found


def _restore(trackables, path):
    """`(checkpoint, None)` restored from `path`, or `(None, the first line of why not)`.

    A failed attempt logs hundreds of lines when collected: it is collected
    here, with TensorFlow's logger silenced.
    """
    attempt = tf.train.Checkpoint(**trackables)
    try:
        status = attempt.restore(path)
        status.expect_partial()  # values this run no longer tracks are no error
        status.assert_existing_objects_matched()
        return attempt, None
    except (AssertionError, ValueError, tf.errors.OpError) as error:
        mismatch = (str(error).strip().splitlines() or [type(error).__name__])[0]
    logger = logging.getLogger("tensorflow")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        del attempt
        status = None  # it holds the attempt too
        gc.collect()
    finally:
        logger.setLevel(previous)
    return None, mismatch


class TrainingCheckpoint:
    """Model, optimizer and data position of a run, managed in `model_dir`.

    Args:
        model: the compiled `keras.Model`.
        keep: int >= 1. How many checkpoints to keep.
        write_dir: str or None. Where this process writes (None:
            `model_dir`; a non-chief worker's scratch directory).
        extra: dict of further trackables (e.g. the best metric so far).
    """

    def __init__(self, model, model_dir, keep, write_dir=None, extra=None):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # Slots built now are filled by a restore, not silently skipped.
        model.optimizer.build(model.trainable_variables)
        self._trackables = dict(
            weights=_variables_by_path(model), optimizer=model.optimizer,
            epoch=self.epoch, step_in_epoch=self.step, **(extra or {}))
        # Absolute: the index's paths then hold from any working directory.
        self.model_dir = _absolute(model_dir)
        self._given_dir = os.fspath(model_dir)  # as the caller wrote it, for messages
        self.write_dir = _absolute(write_dir or model_dir)
        self.keep = keep
        self._use(tf.train.Checkpoint(**self._trackables))
        self.restored = None  # the checkpoint `restore` resumed from

    def _use(self, checkpoint):
        self.checkpoint = checkpoint
        self.manager = tf.train.CheckpointManager(
            checkpoint, directory=self.write_dir, max_to_keep=self.keep)

    @property
    def latest(self):
        return tf.train.latest_checkpoint(self.model_dir)

    def restore(self):
        """Restores the newest intact checkpoint, if any; returns `(epoch, step)` done.

        Skips a damaged one with a `DamagedCheckpointWarning`; ValueError for a
        checkpoint of another model or setup, or when every one is damaged.
        """
        damaged = []
        for path in _checkpoints_newest_first(self.model_dir):
            problem = checkpoint_damage(path)
            if problem is None:
                break
            damaged.append((path, problem))
        else:
            if damaged:
                found = "; ".join(f"{path}: {problem}" for path, problem in damaged)
                raise ValueError(f"{shown('model_dir', self._given_dir)} holds no intact "
                                 f"checkpoint ({found}); move it aside to start afresh")
            return 0, 0
        attempt, mismatch = _restore(self._trackables, path)
        if mismatch:
            raise ValueError(
                f"{shown('model_dir', self._given_dir)} holds a checkpoint ({path}) of another "
                f"model or configuration: {mismatch}")
        if damaged:
            bad, problem = damaged[0]
            warnings.warn(
                f"{shown('model_dir', self._given_dir)}: the latest checkpoint {bad} is damaged "
                f"({problem}); resuming from {path}, the newest intact one",
                DamagedCheckpointWarning, stacklevel=2)
        self._use(attempt)
        self.restored = path
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

    Variables match by path (the model's name stripped). Only the classifier
    may differ in shape (a new head): it stays fresh, and its names are
    returned. Any other mismatch is a ValueError naming `init_from`.
    """
    import keras

    import zoo.export
    from zoo.export import formats

    def key(variable):
        return variable.path.split("/", 1)[-1]

    latest = os.path.isdir(source) and tf.train.latest_checkpoint(source)
    if latest:
        # A --model_dir of this same architecture: restore into a twin.
        donor = type(model).from_config(model.get_config())
        _, mismatch = _restore({"weights": _variables_by_path(donor)}, latest)
        if mismatch:
            raise ValueError(f"{shown('init_from', source)}: its checkpoint {latest} does not "
                             f"fit {shown('model_name', model.name)}: {mismatch}")
    else:
        with about_option("init_from", source, (ValueError, FileNotFoundError)):
            donor = zoo.export.load(source)
        if not isinstance(donor, keras.Model):
            whole = formats.describe(formats.of_kind(formats.MODEL))
            raise ValueError(f"{shown('init_from', source)} is not a Keras model file or "
                             f"checkpoint directory (use {whole} or a {name('model_dir')})")
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
                f"{shown('init_from', source)} does not fit {shown('model_name', model.name)}: "
                f"{key(variable)} has shape {tuple(variable.shape)}, the source's is {found}")
    return fresh


def weights_digest(model):
    """SHA-256 of every weight's bytes in model order: equal iff bit-identical."""
    import hashlib

    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(variable.numpy())).tobytes())
    return digest.hexdigest()
