"""Epochs whose order is a pure function of `(seed, epoch)`: exact resume.

A dataset shuffled with `reshuffle_each_iteration=True` gives epoch k the
k-th order drawn from its seed, counted per Python process: a training run
resumed at epoch 3 in a new process would see epoch 0's order again, and
its weights would drift from those of an uninterrupted run.

With `start_epoch` set, a loader returns instead an endless stream of
epochs, `start_epoch, start_epoch + 1, ...`, each batched on its own (no
batch spans two epochs) and shuffled and augmented with seeds derived from
`(seed, epoch)` alone. A run resumed at epoch e, step s reads the stream from
`start_epoch=e` and skips s batches: it sees exactly the batches the
uninterrupted run saw, at the cost of at most one epoch of input work.

Example:

>>> import tensorflow as tf
>>> examples = tf.data.Dataset.range(4)
>>> def one_epoch(epoch):
...     return shuffle(examples, 4, seed=0, epoch=epoch).batch(2)
>>> first = iter(epoch_stream(one_epoch, start_epoch=0))
>>> batches = [next(first).numpy().tolist() for _ in range(6)]
>>> resumed = iter(epoch_stream(one_epoch, start_epoch=2))
>>> [next(resumed).numpy().tolist() for _ in range(2)] == batches[4:]
True
"""

import tensorflow as tf

# Seeds of epoch k: seed * _EPOCH_STRIDE + k, distinct for every (seed, k)
# with k below the stride; int64 holds them for any seed below 9e12.
_EPOCH_STRIDE = 1_000_003
# Graph-level seed inside each epoch's dataset function (any nonzero value).
_EPOCH_GRAPH_SEED = 1


def epoch_seed(seed, epoch):
    """The int64 seed of `epoch` (a scalar tensor) of a run seeded `seed`."""
    return tf.constant(int(seed), tf.int64) * _EPOCH_STRIDE + tf.cast(epoch, tf.int64)


def shuffle(ds, buffer_size, seed, epoch):
    """Seeded shuffle: reshuffled per iteration (`epoch=None`) or per `epoch`.

    Args:
        ds: `tf.data.Dataset` of examples.
        buffer_size: int. Shuffle buffer.
        seed: int >= 0. The run's seed.
        epoch: None, or a scalar int64 tensor: the epoch being built.
    """
    if epoch is None:
        return ds.shuffle(buffer_size, seed=int(seed), reshuffle_each_iteration=True)
    return ds.shuffle(buffer_size, seed=epoch_seed(seed, epoch),
                      reshuffle_each_iteration=False)


def random_seed_pairs(seed, epoch):
    """An endless dataset of int64 `(2,)` stateless seeds, one per example.

    Fresh on every iteration (`epoch=None`) or a function of `(seed, epoch)`.
    """
    if epoch is None:
        return tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.random(seed=epoch_seed(seed, epoch)).batch(2)


def epoch_stream(one_epoch, start_epoch):
    """One epoch (`start_epoch=None`) or the endless stream from `start_epoch`.

    Args:
        one_epoch: callable `epoch -> tf.data.Dataset` of batches, where
            epoch is None (reshuffle per iteration) or a scalar int64 tensor.
        start_epoch: None or int >= 0.

    Returns:
        A prefetched `tf.data.Dataset` of batches.
    """
    if start_epoch is None:
        return one_epoch(None).prefetch(tf.data.AUTOTUNE)

    def seeded_epoch(epoch):
        # Runs while the epoch's dataset function is traced, so it sets that
        # function graph's seed only. Fixed here, the op seeds alone, pure
        # functions of (seed, epoch), decide the order, whatever the caller's
        # global seed; and with a global seed of 0 TensorFlow's seed logic
        # would otherwise test a tensor seed for truth and fail.
        tf.random.set_seed(_EPOCH_GRAPH_SEED)
        return one_epoch(epoch)

    ds = tf.data.Dataset.range(int(start_epoch), tf.int64.max).flat_map(seeded_epoch)
    return ds.prefetch(tf.data.AUTOTUNE)
