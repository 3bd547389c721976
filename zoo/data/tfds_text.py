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

from zoo import _validation
# Re-exported: callers catch tfds_text.DatasetNotPreparedError.
from zoo.data.tfds_common import DatasetNotPreparedError, supervised_split  # noqa: F401
from zoo.data.text import text_pipeline

# name -> what `zoo.data.info` reports; every entry has supervised keys
# (text, label) in TFDS, so `as_supervised=True` yields the pairs.
DATASETS = {
    # class_names: TFDS' label names, in id order.
    "imdb_reviews": {"num_classes": 2, "splits": ("train", "test"),
                     "class_names": ("neg", "pos")},
}


def load(name, split="train", batch_size=32, shuffle=None, seed=0,
         drop_remainder=False, data_dir=None, download=False, start_epoch=None):
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
        start_epoch: None or int >= 0. None: one epoch per iteration. An
            int: the endless, exactly resumable stream from that epoch
            (`zoo.data.epochs`).
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
    _validation.loader_arguments(split, DATASETS[name]["splits"], batch_size, shuffle, seed,
                                 drop_remainder, start_epoch)
    _validation.directory("data_dir", data_dir, optional=True)
    _validation.boolean("download", download)

    ds = supervised_split(name, split, data_dir=data_dir, download=download)
    if shuffle is None:
        shuffle = split == "train"
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, drop_remainder=drop_remainder,
                         start_epoch=start_epoch)
