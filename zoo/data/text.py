"""The one preprocessing path of every text dataset: `(text, label)` -> batches.

Text stays a raw `tf.string`: models own their tokenization (and export it).

Example:

>>> import tensorflow as tf
>>> ds = tf.data.Dataset.from_tensor_slices(
...     (["not bad", "bad", "good"], [1, 0, 1]))
>>> texts, labels = next(iter(text_pipeline(ds, batch_size=2, shuffle=False)))
>>> [t.decode() for t in texts.numpy()], labels.numpy().tolist(), labels.dtype.name
(['not bad', 'bad'], [1, 0], 'int32')
"""

import tensorflow as tf

from zoo.data import epochs

# Buffer when the number of examples is unknown: mixes imdb's 25,000 reviews.
DEFAULT_SHUFFLE_BUFFER = 25_000


def _to_example(text, label):
    # One scalar string per example: batching relies on it.
    text = tf.ensure_shape(tf.convert_to_tensor(text, tf.string), [])
    return text, tf.ensure_shape(tf.cast(label, tf.int32), [])


def text_pipeline(ds, *, batch_size, shuffle, seed=0, drop_remainder=False,
                  cache=True, start_epoch=None):
    """Scalar `(text, label)` pairs -> string and int32 `(batch,)` batches.

    Arguments are checked by the caller; `cache` caches before shuffling.
    """
    ds = ds.map(_to_example, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    return epochs.batches(ds, batch_size, shuffle=shuffle, seed=seed,
                          drop_remainder=drop_remainder, start_epoch=start_epoch,
                          default_buffer=DEFAULT_SHUFFLE_BUFFER)
