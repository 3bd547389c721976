"""Input pipelines: `zoo.data.load(name, ...)` -> a batched `tf.data.Dataset`.

Datasets are looked up by name in a small dispatch table. Every loader
takes the same common arguments (`split`, `batch_size`, `shuffle`, `seed`,
`drop_remainder`, `start_epoch`) plus options of its own, passed by keyword:

- `"digits"` (image, embedded): `image_size`, `test_fraction`.
- `"sentiment"` (text, generated offline): `num_examples`.
- `"imdb_reviews"` (text, TFDS): `data_dir`, `download`.
- `"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"cifar100"` (image, TFDS):
  `data_dir`, `download`, `one_hot`, `augment`, `normalize`, `cache`.

Users' own data takes a dataset name too (`zoo.data.user_datasets`):

- `"folder:PATH"` (image): one subfolder of images per class, or `train/`
  and `test/` (or `validation/`, `val/`) folders of them: `image_size`,
  `validation_fraction`.
- `"csv:PATH"` (text): a `label,text` CSV (or TSV) file, or a directory with
  `train.csv` and `test.csv`: `validation_fraction`.

and, in Python only, `from_image_folder`, `from_text_file` and
`from_generator`, with the same batching. `info(name)["class_names"]` names
the labels of every dataset, in id order.

Image datasets yield `(image, label)`: float32 `(batch, size, size,
channels)` in [0, 1] and int32 `(batch,)`. Text datasets yield `(text,
label)`: raw `tf.string` `(batch,)` (models own their tokenization) and
int32 `(batch,)`, all through one function, `zoo.data.text.text_pipeline`.
Loaders that need `tensorflow_datasets` import it inside the loader,
because importing it costs seconds.

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

from zoo.data import (digits, images, sentiment, tfds_images, tfds_text,
                      user_datasets)
from zoo.data.user_data import (from_generator, from_image_folder,
                                from_text_file)

# Arguments every loader takes, in `load`'s order; the rest are options.
COMMON_ARGS = ("split", "batch_size", "shuffle", "seed", "drop_remainder", "start_epoch")

# name -> loader taking COMMON_ARGS and its options as keywords.
_LOADERS = {
    "digits": digits.load,
    "sentiment": sentiment.load,
    **{name: functools.partial(tfds_text.load, name)
       for name in tfds_text.DATASETS},
    **{name: functools.partial(tfds_images.load, name)
       for name in tfds_images.DATASETS},
}

DATASETS = tuple(sorted(_LOADERS))

# name -> what a model needs to know to fit the data, without loading it.
_INFO = {
    "digits": {"modality": "image", "num_classes": digits.NUM_CLASSES,
               "channels": 1, "splits": digits.SPLITS,
               "class_names": digits.CLASS_NAMES},
    "sentiment": {"modality": "text", "num_classes": sentiment.NUM_CLASSES,
                  "splits": sentiment.SPLITS,
                  "class_names": sentiment.CLASS_NAMES},
    **{name: {"modality": "text", "num_classes": spec["num_classes"],
              "splits": spec["splits"], "class_names": spec["class_names"]}
       for name, spec in tfds_text.DATASETS.items()},
    # image_size only where it is fixed (digits takes it as an option).
    **{name: {"modality": "image", "num_classes": spec["num_classes"],
              "channels": spec["channels"], "image_size": spec["image_size"],
              "splits": spec["splits"], "class_names": spec["class_names"]}
       for name, spec in tfds_images.DATASETS.items()},
}


def _loader(name):
    """The loader of a checked name."""
    if user_datasets.is_user_dataset(name):
        return user_datasets.loader(name)
    return _LOADERS[name]


def _options(name):
    """Names of the dataset-specific keyword options of a loader, sorted."""
    parameters = inspect.signature(_loader(name)).parameters
    return tuple(sorted(p for p in parameters if p not in COMMON_ARGS))


def info(name):
    """Describes a dataset without loading it.

    Args:
        name: str. One of `zoo.data.DATASETS`, or `"folder:PATH"` /
            `"csv:PATH"` (users' own data, `zoo.data.user_datasets`).

    Returns:
        dict with `modality` (`"image"` or `"text"`), `num_classes`,
        `class_names` (list of str, `class_names[label]`), `splits`,
        `options` (the dataset-specific keywords of `load`) and, for
        images, `channels` (of the images `load` yields) and, where the
        size is fixed (not digits, not folders), `image_size`. A folder's
        images are listed, not decoded (`load` checks them).

    Raises:
        ValueError: for an unknown `name`, or users' data that cannot make
            a dataset (the message names the dataset and the problem).

    Example:

    >>> info("digits")["num_classes"], info("digits")["channels"]
    (10, 1)
    >>> info("sentiment")  # doctest: +NORMALIZE_WHITESPACE
    {'modality': 'text', 'num_classes': 2, 'splits': ('train', 'test'),
     'class_names': ['negative', 'positive'], 'options': ('num_examples',)}
    """
    _check_name(name)
    if user_datasets.is_user_dataset(name):
        description = user_datasets.info(name)
    else:
        description = dict(_INFO[name])
    description["class_names"] = list(description["class_names"])
    return {**description, "options": _options(name)}


def _check_name(name):
    if user_datasets.is_user_dataset(name):
        return
    # isinstance first: an unhashable name would make the lookup raise
    # TypeError instead of the helpful message.
    if not isinstance(name, str) or name not in _LOADERS:
        hint = ""
        if isinstance(name, str) and name and (
                "/" in name or os.sep in name
                or os.path.exists(os.path.expanduser(name))):
            hint = (f"; for your own data name it 'folder:{name}' (a folder "
                    f"of class subfolders of images) or 'csv:{name}' (a "
                    "label,text file)")
        raise ValueError(
            f"name must be one of {list(DATASETS)}, received name={name!r}"
            + hint)


def load(name, split="train", batch_size=32, *, shuffle=None, seed=0,
         drop_remainder=False, start_epoch=None, **options):
    """Loads one split of a dataset as a batched, prefetched `tf.data.Dataset`.

    Args:
        name: str. One of `zoo.data.DATASETS`, or `"folder:PATH"` /
            `"csv:PATH"` (`zoo.data.user_datasets`).
        split: str. `"train"` or `"test"`.
        batch_size: int >= 1. Examples per batch.
        shuffle: bool or None. None shuffles the train split only.
        seed: int >= 0. Seed of the shuffle, and of the split or generation
            where the dataset has one.
        drop_remainder: bool. Drop the last batch when it is short.
        start_epoch: None or int >= 0. None (the default): one epoch per
            iteration, reshuffled each time. An int: the endless stream of
            epochs from `start_epoch`, each batched on its own and shuffled
            (and augmented) by `(seed, epoch)` alone, so that training
            resumed at epoch e in a new process reads exactly what an
            uninterrupted run read (see `zoo.data.epochs`).
        **options: the dataset's own keywords, `info(name)["options"]`:
            digits `image_size` (int, default 32) and `test_fraction`
            (float in (0, 1), default 0.2); sentiment `num_examples` (int or
            None: 4,000 train / 1,000 test); imdb_reviews `data_dir` (path
            or None: the TFDS default) and `download` (bool, default False);
            `"folder:..."` `image_size` (int, default 32) and
            `validation_fraction` (float in (0, 1), default 0.2: the share
            of each class held out as "test" when there is no test folder);
            `"csv:..."` `validation_fraction`.

    Returns:
        A `tf.data.Dataset` of `(features, label)` batches, label int32
        `(batch,)` (float32 `(batch, num_classes)` with `one_hot=True`).
        Images: float32 `(batch, image_size, image_size, channels)` in
        [0, 1] (standardized with `normalize=True`). Text: string
        `(batch,)`, raw.

    Raises:
        ValueError: for an unknown `name`, an option the dataset does not
            take, a bad argument, or users' data that cannot be read (the
            message names the file).
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
        raise ValueError(
            f"dataset {name!r} takes no option{plural} {given}; its options "
            f"are {list(accepted)}")
    return _loader(name)(split=split, batch_size=batch_size, shuffle=shuffle,
                          seed=seed, drop_remainder=drop_remainder,
                          start_epoch=start_epoch, **options)


__all__ = ["DATASETS", "from_generator", "from_image_folder",
           "from_text_file", "images", "info", "load", "user_datasets"]
