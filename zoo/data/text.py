"""The one preprocessing path of every text dataset: `(text, label)` -> batches.

Text stays a raw `tf.string` (one review or sentence per example): models
own their tokenization (`keras.layers.TextVectorization` inside the model),
so the vocabulary travels with an exported model and the pipeline knows no
model. Labels become int32, as for the image datasets.

Example:

>>> import tensorflow as tf
>>> ds = tf.data.Dataset.from_tensor_slices(
...     (["not bad", "bad", "good"], [1, 0, 1]))
>>> batches = text_pipeline(ds, batch_size=2, shuffle=False)
>>> texts, labels = next(iter(batches))
>>> texts.dtype.name, tuple(texts.shape), labels.dtype.name
('string', (2,), 'int32')
>>> [t.decode() for t in texts.numpy()], labels.numpy().tolist()
(['not bad', 'bad'], [1, 0])
"""

import tensorflow as tf

from zoo.data import epochs

# Buffer when the number of examples is unknown (a TFDS split without a
# known cardinality): large enough to mix the 25,000 imdb reviews well.
DEFAULT_SHUFFLE_BUFFER = 25_000


def _to_example(text, label):
    # ensure_shape documents (and checks) one scalar string per example:
    # batching below relies on it.
    text = tf.ensure_shape(tf.convert_to_tensor(text, tf.string), [])
    label = tf.ensure_shape(tf.cast(label, tf.int32), [])
    return text, label


def text_pipeline(ds, *, batch_size, shuffle, seed=0, drop_remainder=False,
                  cache=True, start_epoch=None):
    """Turns a dataset of `(text, label)` scalars into prefetched batches.

    Arguments are assumed checked by the caller (the loaders validate theirs
    before any work, so that a typo fails fast and alone).

    Args:
        ds: `tf.data.Dataset` of `(text, label)`: text a scalar string,
            label a scalar integer.
        batch_size: int >= 1. Examples per batch.
        shuffle: bool. Shuffle the examples, reshuffling every iteration.
        seed: int >= 0. Seed of the shuffle.
        drop_remainder: bool. Drop the last batch when it is short.
        cache: bool. Cache the examples in memory after the first pass
            (before shuffling, so each epoch still gets a new order).
        start_epoch: None or int >= 0. None: one epoch per iteration. An
            int: the endless stream of epochs from `start_epoch`, each
            shuffled by `(seed, epoch)` (see `zoo.data.epochs`).

    Returns:
        A `tf.data.Dataset` of `(text, label)`: text string `(batch,)`,
        label int32 `(batch,)`.
    """
    ds = ds.map(_to_example, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    size = int(ds.cardinality())
    buffer = size if size > 0 else DEFAULT_SHUFFLE_BUFFER

    def one_epoch(epoch):
        examples = epochs.shuffle(ds, buffer, seed, epoch) if shuffle else ds
        return examples.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    return epochs.epoch_stream(one_epoch, start_epoch)
