"""The embedded 8x8 handwritten digits dataset as numpy arrays or `tf.data`.

1,797 grey-scale 8x8 images with values 0..16 and labels 0..9, from the UCI
"Optical Recognition of Handwritten Digits" dataset (CC BY 4.0; see
`DIGITS_README.md`), shipped in the package so that training works offline.
It has no official split: this module makes a seeded, stratified one.

Example:

>>> images, labels = load_arrays("test")
>>> images.shape, images.dtype.name, labels.shape, labels.dtype.name
((359, 8, 8), 'uint8', (359,), 'int64')
>>> x, y = next(iter(load(split="test", batch_size=8, image_size=16)))
>>> tuple(x.shape), x.dtype.name, tuple(y.shape), y.dtype.name
((8, 16, 16, 1), 'float32', (8,), 'int32')
"""

import functools
import gzip
import io
from importlib import resources

import numpy as np
import tensorflow as tf

from zoo import _validation
from zoo.data import epochs
from zoo.data.user_data import stratified_split

SPLITS = ("train", "test")
NUM_CLASSES = 10
CLASS_NAMES = tuple(str(digit) for digit in range(NUM_CLASSES))
NUM_EXAMPLES = 1797
RAW_SIZE = 8
MAX_VALUE = 16
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
FILENAME = "digits.csv.gz"


@functools.lru_cache(maxsize=None)
def _read_csv():
    """`(images, labels)`: uint8 (1797, 8, 8) and int64 (1797,), read-only (shared)."""
    # importlib.resources, not __file__: works from a wheel or zip install too.
    raw = (resources.files("zoo.data") / FILENAME).read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",",
                       dtype=np.int64, ndmin=2)
    expected = (NUM_EXAMPLES, RAW_SIZE * RAW_SIZE + 1)
    if table.shape != expected:
        raise ValueError(f"{FILENAME} is corrupt: expected shape {expected}, "
                         f"got {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, RAW_SIZE, RAW_SIZE)
    labels = table[:, -1].copy()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(seed=0, test_fraction=0.2):
    """Sorted row indices `(train, test)` of the seeded, stratified split (`stratified_split`).

    Raises:
        ValueError: for a bad argument, or a split that would be empty.

    Example:

    >>> train, test = split_indices()
    >>> len(train), len(test), len(set(train) & set(test))
    (1438, 359, 0)
    """
    _validation.non_negative_int("seed", seed)
    _validation.finite_float("test_fraction", test_fraction, 0, 1,
                             low_open=True, high_open=True)
    train, test = stratified_split(_read_csv()[1], NUM_CLASSES, test_fraction, seed)
    if not len(train) or not len(test):
        raise ValueError(
            f"test_fraction={test_fraction!r} leaves the "
            f"{'train' if not len(train) else 'test'} split empty")
    return train, test


def load_arrays(split, seed=0, test_fraction=0.2):
    """One split as fresh numpy arrays: uint8 `(n, 8, 8)` in 0..16, int64 `(n,)`, file order."""
    _validation.one_of("split", split, SPLITS)
    train, test = split_indices(seed=seed, test_fraction=test_fraction)
    images, labels = _read_csv()
    rows = train if split == "train" else test
    return images[rows], labels[rows]  # fancy indexing copies


def load(split="train", batch_size=32, image_size=32, shuffle=False, seed=0,
         test_fraction=0.2, drop_remainder=False, start_epoch=None):
    """One split as float32 `(batch, image_size, image_size, 1)` images in [0, 1], int32 labels.

    Images are scaled from 0..16 to [0, 1] and resized bilinearly; the work
    is cached in memory. Common arguments as in `zoo.data.load` (checked there).

    Example:

    >>> ds = load(split="train", batch_size=4, image_size=8, shuffle=False)
    >>> x, y = next(iter(ds))
    >>> tuple(x.shape), float(x.numpy().min()), float(x.numpy().max()) <= 1.0
    ((4, 8, 8, 1), 0.0, True)
    """
    _validation.positive_int("image_size", image_size)
    _validation.images_fit(image_size, batch_size, channels=1, max_examples=NUM_EXAMPLES)
    images, labels = load_arrays(split, seed=seed, test_fraction=test_fraction)
    image_size = int(image_size)

    def to_example(image, label):
        image = tf.cast(image, tf.float32)[..., tf.newaxis] / float(MAX_VALUE)
        if image_size != RAW_SIZE:
            image = tf.image.resize(image, (image_size, image_size), method="bilinear")
            image = tf.clip_by_value(image, 0.0, 1.0)  # float rounding only
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE).cache()
    return epochs.batches(ds, batch_size, shuffle=shuffle, seed=seed,
                          drop_remainder=drop_remainder,
                          start_epoch=start_epoch)
