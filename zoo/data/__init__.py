"""Input pipelines: `zoo.data.load(name, ...)` -> a batched `tf.data.Dataset`.

Every loader takes `COMMON_ARGS` plus options of its own
(`info(name)["options"]`). Besides `DATASETS`, users' own data is named
`"folder:PATH"` (images) or `"csv:PATH"` (text; `zoo.data.user_datasets`),
and in Python `from_image_folder`, `from_text_file` and `from_generator`.
Image datasets yield float32 `(batch, size, size, channels)` in [0, 1] and
int32 labels; text datasets raw `tf.string` `(batch,)` (models tokenize).

Example:

>>> import zoo.data
>>> print(", ".join(zoo.data.DATASETS))
cifar10, cifar100, digits, fashion_mnist, imdb_reviews, mnist, sentiment
>>> ds = zoo.data.load("digits", split="test", batch_size=8, image_size=32)
>>> images, labels = next(iter(ds))
>>> tuple(images.shape), images.dtype.name, labels.dtype.name
((8, 32, 32, 1), 'float32', 'int32')
>>> ds = zoo.data.load("sentiment", split="test", batch_size=8)
>>> texts, labels = next(iter(ds))
>>> tuple(texts.shape), texts.dtype.name, labels.dtype.name
((8,), 'string', 'int32')
"""

import functools
import inspect
import os

from zoo import _validation
from zoo.data import (digits, images, sentiment, tfds_common, tfds_images,
                      tfds_text, user_datasets)
from zoo.data.user_data import (from_generator, from_image_folder,
                                from_text_file)

# Arguments every loader takes, in `load`'s order; the rest are options.
COMMON_ARGS = ("split", "batch_size", "shuffle", "seed", "drop_remainder", "start_epoch")

# name -> loader taking COMMON_ARGS and its options as keywords.
_LOADERS = {
    "digits": digits.load,
    "sentiment": sentiment.load,
    **{name: functools.partial(tfds_text.load, name) for name in tfds_text.DATASETS},
    **{name: functools.partial(tfds_images.load, name) for name in tfds_images.DATASETS},
}

DATASETS = tuple(sorted(_LOADERS))

# name -> what a model needs to know to fit the data; image_size only where fixed.
_INFO = {
    "digits": {"modality": "image", "num_classes": digits.NUM_CLASSES, "channels": 1,
               "splits": digits.SPLITS, "class_names": digits.CLASS_NAMES},
    "sentiment": {"modality": "text", "num_classes": sentiment.NUM_CLASSES,
                  "splits": sentiment.SPLITS, "class_names": sentiment.CLASS_NAMES},
    **{name: {"modality": "text", **spec} for name, spec in tfds_text.DATASETS.items()},
    **{name: {"modality": "image", **{key: spec[key] for key in (
        "num_classes", "channels", "image_size", "splits", "class_names")}}
       for name, spec in tfds_images.DATASETS.items()},
}


def _loader(name):
    """The loader of a checked name."""
    user = user_datasets.is_user_dataset(name)
    return user_datasets.loader(name) if user else _LOADERS[name]


def _options(name):
    """Names of the dataset-specific keyword options of a loader, sorted."""
    parameters = inspect.signature(_loader(name)).parameters
    return tuple(sorted(p for p in parameters if p not in COMMON_ARGS))


def info(name):
    """Describes a dataset without loading it (a folder's images are listed, not decoded).

    Images also have `channels` and, where fixed, `image_size`; `options`
    are the dataset's own keywords of `load`.

    Example:

    >>> info("digits")["num_classes"], info("digits")["channels"]
    (10, 1)
    >>> info("sentiment")  # doctest: +NORMALIZE_WHITESPACE
    {'modality': 'text', 'num_classes': 2, 'splits': ('train', 'test'),
     'class_names': ['negative', 'positive'], 'options': ('num_examples',)}
    """
    _check_name(name)
    user = user_datasets.is_user_dataset(name)
    described = user_datasets.info(name) if user else _INFO[name]
    return {**described, "class_names": list(described["class_names"]),
            "options": _options(name)}


def _check_name(name):
    if user_datasets.is_user_dataset(name):
        return
    hint = ""
    if isinstance(name, str) and name and (
            "/" in name or os.sep in name
            or os.path.exists(os.path.expanduser(name))):
        hint = (f"; for your own data name it 'folder:{name}' (a folder of "
                f"class subfolders of images) or 'csv:{name}' (a CSV file)")
    tfds_common.check_name(name, _LOADERS, hint)


def load(name, split="train", batch_size=32, *, shuffle=None, seed=0,
         drop_remainder=False, start_epoch=None, **options):
    """Loads one split of a dataset as a batched, prefetched `tf.data.Dataset`.

    Args:
        name: str. One of `DATASETS`, `"folder:PATH"` or `"csv:PATH"`.
        split: str. `"train"` or `"test"`.
        shuffle: bool or None. None shuffles the train split only.
        seed: int >= 0. Seed of the shuffle, and of the split or generation.
        start_epoch: None (one epoch per iteration, reshuffled) or int >= 0:
            the endless stream of epochs from it, each shuffled by `(seed,
            epoch)` alone, so a resumed run reads what an unbroken one did.
        **options: the dataset's own keywords, `info(name)["options"]`.

    Raises:
        ValueError: for an unknown `name`, an option the dataset does not
            take, a bad argument, or users' data that cannot be read.
        RuntimeError: for a TFDS dataset that is not prepared on disk.

    Example:

    >>> ds = load("digits", split="train", batch_size=16, image_size=8)
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape), tuple(labels.shape)
    ((16, 8, 8, 1), (16,))
    >>> load("sentiment", image_size=8)
    Traceback (most recent call last):
    ...
    ValueError: dataset 'sentiment' takes no option image_size=8; its options are ['num_examples']
    """
    _check_name(name)
    accepted = _options(name)
    unknown = [key for key in options if key not in accepted]
    if unknown:
        given = ", ".join(f"{key}={options[key]!r}" for key in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(f"dataset {name!r} takes no option{plural} {given}; its options "
                         f"are {list(accepted)}")
    splits = (user_datasets.SPLITS if user_datasets.is_user_dataset(name)
              else _INFO[name]["splits"])
    _validation.loader_arguments(split, splits, batch_size, shuffle, seed,
                                 drop_remainder, start_epoch)
    if shuffle is None:
        shuffle = split == "train"
    return _loader(name)(split=split, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, drop_remainder=drop_remainder,
                         start_epoch=start_epoch, **options)


__all__ = ["DATASETS", "from_generator", "from_image_folder",
           "from_text_file", "images", "info", "load", "user_datasets"]
