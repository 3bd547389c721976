"""Epochs whose order is a pure function of `(seed, epoch)`: exact resume.

`reshuffle_each_iteration=True` draws epoch k's order k-th in this process,
so a resumed run would replay epoch 0's. With `start_epoch`, a loader returns
the endless stream of epochs from it, each shuffled (and augmented) by
`(seed, epoch)` alone.

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
_EPOCH_GRAPH_SEED = 1  # any nonzero value


def epoch_seed(seed, epoch):
    """The int64 seed of `epoch` (a scalar tensor) of a run seeded `seed`."""
    return tf.constant(int(seed), tf.int64) * _EPOCH_STRIDE + tf.cast(epoch, tf.int64)


def shuffle(ds, buffer_size, seed, epoch):
    """Seeded shuffle: reshuffled per iteration (`epoch=None`) or per `epoch`."""
    if epoch is None:
        return ds.shuffle(buffer_size, seed=int(seed), reshuffle_each_iteration=True)
    return ds.shuffle(buffer_size, seed=epoch_seed(seed, epoch),
                      reshuffle_each_iteration=False)


_shuffle = shuffle  # for `batches`, whose argument `shuffle` hides it


def random_seed_pairs(seed, epoch):
    """An endless dataset of int64 `(2,)` stateless seeds, per iteration or per epoch."""
    if epoch is None:
        return tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.random(seed=epoch_seed(seed, epoch)).batch(2)


def epoch_stream(one_epoch, start_epoch):
    """One epoch (`start_epoch=None`) or the endless stream from `start_epoch`.

    Args:
        one_epoch: callable `epoch -> tf.data.Dataset` of batches, epoch None
            (reshuffle per iteration) or a scalar int64 tensor.
        start_epoch: None or int >= 0.
    """
    if start_epoch is None:
        return one_epoch(None).prefetch(tf.data.AUTOTUNE)

    def seeded_epoch(epoch):
        # The traced graph's seed only: the op seeds alone decide the order
        # (a global seed of 0 would make TF test a tensor seed for truth).
        tf.random.set_seed(_EPOCH_GRAPH_SEED)
        return one_epoch(epoch)

    ds = tf.data.Dataset.range(int(start_epoch), tf.int64.max).flat_map(seeded_epoch)
    return ds.prefetch(tf.data.AUTOTUNE)


def batches(ds, batch_size, *, shuffle, seed, drop_remainder=False, start_epoch=None,
            buffer=None, default_buffer=1024, transform=None):
    """Shuffled (`shuffle`), `transform`ed, batched epochs of `ds`: `epoch_stream`.

    `buffer` None is the dataset's size, or `default_buffer` when unknown;
    `transform(examples, epoch)` runs after the shuffle.
    """
    if buffer is None:
        count = int(ds.cardinality())
        buffer = count if count > 0 else default_buffer

    def one_epoch(epoch):
        examples = _shuffle(ds, buffer, seed, epoch) if shuffle else ds
        if transform is not None:
            examples = transform(examples, epoch)
        return examples.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    return epoch_stream(one_epoch, start_epoch)
