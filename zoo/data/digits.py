"""The embedded 8x8 handwritten digits dataset as numpy arrays or `tf.data`.

1,797 grey-scale 8x8 images with values 0..16 and labels 0..9, from the UCI
"Optical Recognition of Handwritten Digits" dataset (Alpaydin and Kaynak,
1998, CC BY 4.0; see `DIGITS_README.md` next to this file). It ships inside
the package so that training and tests work offline.

The dataset has no official split, so this module makes one: a seeded,
stratified split that is identical in every process for the same `seed` and
`test_fraction`.

Example:

>>> images, labels = load_arrays("test")
>>> images.shape, images.dtype.name, labels.shape, labels.dtype.name
((359, 8, 8), 'uint8', (359,), 'int64')
>>> ds = load(split="test", batch_size=8, image_size=16)
>>> x, y = next(iter(ds))
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
    """Parses the packaged CSV once per process.

    Returns:
        (images, labels): uint8 (1797, 8, 8) and int64 (1797,), read-only
        because they are shared by every caller through the cache.
    """
    # importlib.resources rather than __file__ so this also works from a
    # wheel or zip install, where the data is not a plain file on disk.
    raw = (resources.files("zoo.data") / FILENAME).read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",",
                       dtype=np.int64, ndmin=2)
    if table.shape != (NUM_EXAMPLES, RAW_SIZE * RAW_SIZE + 1):
        raise ValueError(
            f"{FILENAME} is corrupt: expected shape "
            f"{(NUM_EXAMPLES, RAW_SIZE * RAW_SIZE + 1)}, got {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, RAW_SIZE, RAW_SIZE)
    labels = table[:, -1].copy()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _check_split_args(seed, test_fraction):
    _validation.non_negative_int("seed", seed)
    _validation.finite_float("test_fraction", test_fraction, 0, 1,
                             low_open=True, high_open=True)


def split_indices(seed=0, test_fraction=0.2):
    """Row indices of the seeded, stratified train/test split.

    For each class in label order, one `numpy.random.default_rng(seed)`
    permutes that class's rows and puts the first
    `round(test_fraction * n_class)` of them in test, the rest in train.
    Only numpy is involved, so the split is the same in every process and on
    every platform for the same arguments.

    Args:
        seed: int >= 0. Seed of the permutation.
        test_fraction: float in (0, 1). Share of each class put in test.

    Returns:
        (train, test): sorted int64 arrays of row indices into the CSV;
        disjoint, and together `range(1797)`.

    Raises:
        ValueError: for a bad argument, or a `test_fraction` so small or so
            large that one split would be empty.

    Example:

    >>> train, test = split_indices()
    >>> len(train), len(test), len(set(train) & set(test))
    (1438, 359, 0)
    """
    _check_split_args(seed, test_fraction)
    _, labels = _read_csv()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in range(NUM_CLASSES):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(test_fraction * len(rows))
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    # Sorted so the unshuffled order is the file order: stable and easy to
    # reason about; training shuffles in the pipeline instead.
    train = np.sort(np.concatenate(train)).astype(np.int64)
    test = np.sort(np.concatenate(test)).astype(np.int64)
    if not len(train) or not len(test):
        raise ValueError(
            f"test_fraction={test_fraction!r} leaves the "
            f"{'train' if not len(train) else 'test'} split empty")
    return train, test


def load_arrays(split, seed=0, test_fraction=0.2):
    """One split of the digits as numpy arrays, raw values.

    Args:
        split: str. `"train"` or `"test"`.
        seed: int >= 0. Seed of the stratified split (see `split_indices`).
        test_fraction: float in (0, 1). Share of each class put in test.

    Returns:
        (images, labels): uint8 `(n, 8, 8)` with values 0..16 and int64
        `(n,)` with values 0..9, in file order. Fresh, writable copies.

    Raises:
        ValueError: for a bad argument.

    Example:

    >>> images, labels = load_arrays("train")
    >>> images.shape, int(images.max()), sorted(set(labels.tolist()))
    ((1438, 8, 8), 16, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    _validation.one_of("split", split, SPLITS)
    train, test = split_indices(seed=seed, test_fraction=test_fraction)
    rows = train if split == "train" else test
    images, labels = _read_csv()
    # Fancy indexing copies, so callers never touch the cached arrays.
    return images[rows], labels[rows]


def load(split="train", batch_size=32, image_size=32, shuffle=None, seed=0,
         test_fraction=0.2, drop_remainder=False, start_epoch=None):
    """One split of the digits as a batched, prefetched `tf.data.Dataset`.

    Images are scaled from 0..16 to [0, 1], given a channel axis and, unless
    `image_size` is 8, resized bilinearly to `image_size` x `image_size`.
    The per-example work is cached in memory after the first epoch (about
    `n * image_size**2 * 4` bytes: 5.9 MB for the train split at 32).

    Args:
        split: str. `"train"` or `"test"`.
        batch_size: int >= 1. Examples per batch.
        image_size: int >= 1. Height and width of the output images.
        shuffle: bool or None. None shuffles the train split and not the
            test split. Train shuffling reshuffles every epoch, seeded by
            `seed`, so a run is reproducible.
        seed: int >= 0. Seed of the split and of the shuffle.
        test_fraction: float in (0, 1). Share of each class put in test.
        drop_remainder: bool. Drop the last batch when it is short.
        start_epoch: None or int >= 0. None: one epoch per iteration. An
            int: the endless, exactly resumable stream from that epoch
            (`zoo.data.epochs`).

    Returns:
        A `tf.data.Dataset` of `(image, label)`: image float32
        `(batch, image_size, image_size, 1)` in [0, 1], label int32
        `(batch,)` in 0..9.

    Raises:
        ValueError: for a bad argument.

    Example:

    >>> ds = load(split="train", batch_size=4, image_size=8, shuffle=False)
    >>> x, y = next(iter(ds))
    >>> tuple(x.shape), float(x.numpy().min()), float(x.numpy().max()) <= 1.0
    ((4, 8, 8, 1), 0.0, True)
    """
    # Validate everything before any work, so a typo fails fast and alone.
    _validation.one_of("split", split, SPLITS)
    _validation.positive_int("batch_size", batch_size)
    _validation.positive_int("image_size", image_size)
    _validation.boolean("shuffle", shuffle, optional=True)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.non_negative_int("start_epoch", start_epoch, optional=True)
    _check_split_args(seed, test_fraction)
    _validation.images_fit(image_size, batch_size, channels=1,
                           max_examples=NUM_EXAMPLES)

    images, labels = load_arrays(split, seed=seed, test_fraction=test_fraction)
    if shuffle is None:
        shuffle = split == "train"
    image_size = int(image_size)

    def to_example(image, label):
        image = tf.cast(image, tf.float32)[..., tf.newaxis] / float(MAX_VALUE)
        if image_size != RAW_SIZE:
            image = tf.image.resize(image, (image_size, image_size),
                                    method="bilinear")
            # Bilinear weights are convex, so this only guards float
            # rounding; models may rely on the documented [0, 1] range.
            image = tf.clip_by_value(image, 0.0, 1.0)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    # Cache before shuffling: the map is deterministic, the shuffle is not.
    ds = ds.cache()

    def one_epoch(epoch):
        examples = epochs.shuffle(ds, len(images), seed, epoch) if shuffle else ds
        return examples.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    return epochs.epoch_stream(one_epoch, start_epoch)
