"""What every TFDS loader shares: find a prepared dataset, or fail fast.

`supervised_split(name, split, data_dir, download)` returns the TFDS
`(feature, label)` pairs of one split. By default nothing is downloaded:
when the data is not on disk it raises `DatasetNotPreparedError` at once
(TFDS checks for the files with an assertion before reading anything: no
network, no retry), naming the dataset, the directory TFDS resolved and how
to prepare it. `download=True` lets TFDS download and prepare it; a failed
download raises the same error with the same advice.

`tensorflow_datasets` is imported inside the function only: importing it
costs seconds, and only the TFDS datasets need it.
"""

import os


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
    """One split of a prepared TFDS dataset as `(feature, label)` pairs.

    Arguments are assumed checked by the caller.

    Args:
        name: str. A TFDS dataset name with supervised keys.
        split: str. A TFDS split name, e.g. `"train"`.
        data_dir: str, path or None. None means the TFDS default
            (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: bool. Download and prepare the dataset when missing.

    Returns:
        The unbatched `tf.data.Dataset` of `as_dataset(as_supervised=True)`,
        files read in order (`shuffle_files=False`).

    Raises:
        DatasetNotPreparedError: the data is not in `data_dir` and
            `download` is False, or the download failed.
    """
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
                + how_to_prepare(name, root)) from error
    try:
        return builder.as_dataset(split=split, as_supervised=True,
                                  shuffle_files=False)
    except AssertionError as error:
        # TFDS checks that the data exists with an AssertionError before
        # reading anything: no network, no retry, so this fails fast.
        raise DatasetNotPreparedError(
            f"TFDS dataset {name!r} is not prepared in data_dir {root!r} "
            f"(looked for {os.fspath(builder.data_dir)!r}); download=False "
            "so nothing was downloaded. " + how_to_prepare(name, root)
        ) from error
