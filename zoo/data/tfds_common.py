"""What every TFDS loader shares: find a prepared dataset, or fail fast."""

import os

from zoo import _validation


class DatasetNotPreparedError(RuntimeError):
    """The TFDS dataset is not on disk and was not downloaded."""


def how_to_prepare(name, data_dir_root):
    """The advice every not-prepared error ends with."""
    return (
        f"To prepare it, on a machine with internet run `tfds build {name} "
        f"--data_dir={data_dir_root}` (or call `zoo.data.load({name!r}, "
        f"data_dir=..., download=True)` / `tfds.load({name!r}, "
        f"data_dir=..., download=True)`), then copy that data_dir here and "
        f"pass it as data_dir= (or set TFDS_DATA_DIR).")


def supervised_split(name, split, data_dir=None, download=False):
    """One split of a prepared TFDS dataset: `(feature, label)`s, in file order.

    Raises:
        ValueError: for a bad `data_dir` or `download`.
        DatasetNotPreparedError: the data is not in `data_dir` (None: the
            TFDS default) and `download` is False, or the download failed.
    """
    data_dir = _validation.directory("data_dir", data_dir, optional=True)
    _validation.boolean("download", download)
    import tensorflow_datasets as tfds  # slow import, needed only here

    # Not tfds.load: to tell "not prepared" from other failures and say
    # where TFDS looked.
    builder = tfds.builder(name, data_dir=data_dir)
    root = os.fspath(builder.data_dir_root)
    if download:
        try:
            builder.download_and_prepare()
        except Exception as error:  # network, disk, checksum: all say the same
            raise DatasetNotPreparedError(
                f"Could not download and prepare TFDS dataset {name!r} into "
                f"data_dir {root!r}: {type(error).__name__}: {error}. "
                + how_to_prepare(name, root)) from error
    try:
        return builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    except AssertionError as error:
        # TFDS asserts the data exists before reading anything: no network, no retry.
        raise DatasetNotPreparedError(
            f"TFDS dataset {name!r} is not prepared in data_dir {root!r} "
            f"(looked for {os.fspath(builder.data_dir)!r}); download=False "
            "so nothing was downloaded. " + how_to_prepare(name, root)
        ) from error


def check_name(name, datasets, hint=""):
    """Fails unless `name` is a key of `datasets`; `hint` ends the error."""
    # isinstance first: an unhashable name would raise TypeError.
    if not isinstance(name, str) or name not in datasets:
        raise ValueError(f"name must be one of {sorted(datasets)}, "
                         f"received name={name!r}{hint}")
