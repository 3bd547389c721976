"""Text datasets of TensorFlow Datasets (TFDS), through the shared text path.

Nothing is downloaded unless `download=True`; data not on disk fails at once
with `DatasetNotPreparedError` saying how to prepare it.

Example:

>>> sorted(DATASETS), DATASETS["imdb_reviews"]["num_classes"]
(['imdb_reviews'], 2)
"""

# Re-exported: callers catch tfds_text.DatasetNotPreparedError.
from zoo.data.tfds_common import DatasetNotPreparedError, check_name, supervised_split  # noqa: F401
from zoo.data.text import text_pipeline

# name -> what `zoo.data.info` reports (class_names: TFDS' label names in id order).
DATASETS = {
    "imdb_reviews": {"num_classes": 2, "splits": ("train", "test"),
                     "class_names": ("neg", "pos")},
}


def load(name, split="train", batch_size=32, shuffle=False, seed=0,
         drop_remainder=False, data_dir=None, download=False, start_epoch=None):
    """One split of a TFDS text dataset: raw string `(batch,)`, int32 `(batch,)` batches.

    Arguments as in `zoo.data.load`, which checks the common ones;
    `data_dir` None is the TFDS default
    (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).

    Raises:
        ValueError: for a bad argument.
        DatasetNotPreparedError (a RuntimeError): the data is not in
            `data_dir` and `download` is False, or the download failed.
    """
    check_name(name, DATASETS)
    ds = supervised_split(name, split, data_dir=data_dir, download=download)
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_remainder=drop_remainder, start_epoch=start_epoch)
