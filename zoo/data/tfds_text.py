"""Text datasets of TensorFlow Datasets (TFDS), through the shared text path.

`load("imdb_reviews", ...)` reads a prepared TFDS dataset from `data_dir`
and sends its `(text, label)` pairs through `zoo.data.text.text_pipeline`,
exactly like the embedded `sentiment` set: raw `tf.string` text (the model
tokenizes) and int32 labels.

Preparing the data needs internet, once. By default nothing is downloaded:
when the data is not on disk, `load` fails at once with a `RuntimeError`
that says where it looked and how to prepare it. `download=True` lets TFDS
download and prepare it (84 MB for imdb_reviews) into `data_dir`; without
internet that fails too, but only after TFDS' own retries (measured: 3.4
minutes of HTTP retries with backoff for imdb_reviews).

`tensorflow_datasets` is imported inside `load` only: importing it costs
seconds, and only these datasets need it.

Example:

>>> sorted(DATASETS)
['imdb_reviews']
>>> DATASETS["imdb_reviews"]["num_classes"]
2
"""

import os

from zoo.data import _checks
from zoo.data.text import text_pipeline

# name -> what `zoo.data.info` reports; every entry has supervised keys
# (text, label) in TFDS, so `as_supervised=True` yields the pairs.
DATASETS = {
    "imdb_reviews": {"num_classes": 2, "splits": ("train", "test")},
}


class DatasetNotPreparedError(RuntimeError):
    """The TFDS dataset is not on disk and was not downloaded."""


def _how_to_prepare(name, data_dir_root):
    return (
        f"To prepare it, on a machine with internet run `tfds build {name} "
        f"--data_dir={data_dir_root}` (or call `zoo.data.load({name!r}, "
        f"data_dir=..., download=True)` / `tfds.load({name!r}, "
        f"data_dir=..., download=True)`), then copy that data_dir here and "
        f"pass it as data_dir= (or set TFDS_DATA_DIR).")


def load(name, split="train", batch_size=32, shuffle=None, seed=0,
         drop_remainder=False, data_dir=None, download=False):
    """One split of a TFDS text dataset as a batched `tf.data.Dataset`.

    Args:
        name: str. One of `DATASETS`, e.g. `"imdb_reviews"`.
        split: str. `"train"` or `"test"`.
        batch_size: int >= 1. Examples per batch.
        shuffle: bool or None. None shuffles the train split and not the
            test split. Shuffling reshuffles every epoch, seeded by `seed`;
            the examples are cached in memory first (about 33 MB per
            imdb_reviews split).
        seed: int >= 0. Seed of the shuffle.
        drop_remainder: bool. Drop the last batch when it is short.
        data_dir: str, path or None. TFDS data directory; None means the
            TFDS default (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: bool. Download and prepare the dataset into `data_dir`
            when it is missing (needs internet). False (the default) never
            touches the network.

    Returns:
        A `tf.data.Dataset` of `(text, label)`: text string `(batch,)`, raw
        (not tokenized), label int32 `(batch,)`.

    Raises:
        ValueError: for a bad argument.
        DatasetNotPreparedError (a RuntimeError): when the data is not in
            `data_dir` and `download` is False, or the download failed. The
            message names the dataset, the directory and how to prepare it.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"name must be one of {sorted(DATASETS)}, received name={name!r}")
    _checks.check_split(split, DATASETS[name]["splits"])
    _checks.check_positive_int("batch_size", batch_size)
    _checks.check_bool("shuffle", shuffle, allow_none=True)
    _checks.check_seed(seed)
    _checks.check_bool("drop_remainder", drop_remainder)
    _checks.check_optional_path("data_dir", data_dir)
    _checks.check_bool("download", download)

    import tensorflow_datasets as tfds  # slow import, needed only here

    if data_dir is not None:
        data_dir = os.fspath(data_dir)
    # tfds.load(...) is builder + download_and_prepare + as_dataset; done by
    # hand to tell "not prepared" apart from other failures and to say
    # where TFDS looked (the data_dir it resolved, default included).
    builder = tfds.builder(name, data_dir=data_dir)
    root = os.fspath(builder.data_dir_root)
    if download:
        try:
            builder.download_and_prepare()
        except Exception as error:  # network, disk, checksum: all say the same
            raise DatasetNotPreparedError(
                f"Could not download and prepare TFDS dataset {name!r} into "
                f"data_dir {root!r}: {type(error).__name__}: {error}. "
                + _how_to_prepare(name, root)) from error
    try:
        ds = builder.as_dataset(split=split, as_supervised=True,
                                shuffle_files=False)
    except AssertionError as error:
        # TFDS checks that the data exists with an AssertionError before
        # reading anything: no network, no retry, so this fails fast.
        raise DatasetNotPreparedError(
            f"TFDS dataset {name!r} is not prepared in data_dir {root!r} "
            f"(looked for {os.fspath(builder.data_dir)!r}); download=False "
            "so nothing was downloaded. " + _how_to_prepare(name, root)
        ) from error
    if shuffle is None:
        shuffle = split == "train"
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, drop_remainder=drop_remainder)
