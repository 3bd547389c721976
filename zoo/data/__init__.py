"""Input pipelines: `zoo.data.load(name, ...)` -> a batched `tf.data.Dataset`.

Datasets are looked up by name in a small dispatch table. The embedded
`"digits"` set needs no download; loaders that need `tensorflow_datasets`
import it inside the loader, because importing it costs seconds.

Example:

>>> import zoo.data
>>> zoo.data.DATASETS
('digits',)
>>> ds = zoo.data.load("digits", split="test", batch_size=8, image_size=32)
>>> images, labels = next(iter(ds))
>>> tuple(images.shape), images.dtype.name, labels.dtype.name
((8, 32, 32, 1), 'float32', 'int32')
"""

from zoo.data import digits

# name -> loader taking the keyword arguments of `load` (minus `name`).
_LOADERS = {
    "digits": digits.load,
}

DATASETS = tuple(sorted(_LOADERS))

# name -> what a model needs to know to fit the data, without loading it.
_INFO = {
    "digits": {"num_classes": digits.NUM_CLASSES, "channels": 1,
               "splits": digits.SPLITS},
}


def info(name):
    """Describes a dataset without loading it.

    Args:
        name: str. One of `zoo.data.DATASETS`.

    Returns:
        dict with `num_classes`, `channels` (of the images `load` yields) and
        `splits`.

    Example:

    >>> info("digits")["num_classes"]
    10
    """
    _check_name(name)
    return dict(_INFO[name])


def _check_name(name):
    # isinstance first: an unhashable name would make the lookup raise
    # TypeError instead of the helpful message.
    if not isinstance(name, str) or name not in _LOADERS:
        raise ValueError(
            f"name must be one of {list(DATASETS)}, received name={name!r}")


def load(name, split="train", batch_size=32, image_size=32, shuffle=None,
         seed=0, test_fraction=0.2, drop_remainder=False):
    """Loads one split of a dataset as a batched, prefetched `tf.data.Dataset`.

    Args:
        name: str. One of `zoo.data.DATASETS`.
        split: str. `"train"` or `"test"`.
        batch_size: int >= 1. Examples per batch.
        image_size: int >= 1. Height and width of the output images.
        shuffle: bool or None. None shuffles the train split only.
        seed: int >= 0. Seed of the split (where the dataset has none of its
            own) and of the shuffle.
        test_fraction: float in (0, 1). Share of each class held out for
            test, where the dataset has no official split.
        drop_remainder: bool. Drop the last batch when it is short.

    Returns:
        A `tf.data.Dataset` of `(image, label)` batches: image float32
        `(batch, image_size, image_size, channels)` in [0, 1], label int32
        `(batch,)`.

    Raises:
        ValueError: for an unknown `name` or a bad argument.

    Example:

    >>> ds = load("digits", split="train", batch_size=16, image_size=8)
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape), tuple(labels.shape)
    ((16, 8, 8, 1), (16,))
    """
    _check_name(name)
    return _LOADERS[name](split=split, batch_size=batch_size, image_size=image_size,
                  shuffle=shuffle, seed=seed, test_fraction=test_fraction,
                  drop_remainder=drop_remainder)


__all__ = ["DATASETS", "info", "load"]
