"""Image classification datasets of TensorFlow Datasets (TFDS).

`load("mnist" | "fashion_mnist" | "cifar10" | "cifar100", ...)` reads a
prepared TFDS dataset and yields `(image, label)` batches: images float32
`(batch, size, size, channels)` scaled to [0, 1] (or, with
`normalize=True`, standardized per channel with the fixed statistics in
`DATASETS`), labels int32 `(batch,)` or, with `one_hot=True`, float32
`(batch, num_classes)`.

The pipeline: TFDS uint8 images -> cache (uint8: 4x smaller than float32,
150 MB for the CIFAR train split) -> seeded shuffle, reshuffled every epoch
-> optional augmentation -> scale / normalize / one-hot (all `map(...,
num_parallel_calls=AUTOTUNE)`) -> batch -> prefetch. The cache sits before
the augmentation, so every epoch sees new crops and flips.

CIFAR augmentation is the standard one (He et al., 2016): pad 4 pixels of
zeros on each side, crop a random 32x32 window, flip left-right with
probability 1/2. It uses stateless random ops fed by
`tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`: a run is
reproducible for a given `seed`, yet each epoch differs.

Nothing is downloaded by default; a dataset that is not prepared fails at
once with `DatasetNotPreparedError` (see `zoo.data.tfds_common`).

Per-channel statistics (of the train split, pixel values scaled to [0, 1];
the usual published figures):

- mnist: mean 0.1307, std 0.3081
- fashion_mnist: mean 0.2860, std 0.3530
- cifar10: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)
- cifar100: mean (0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762)

Example:

>>> sorted(DATASETS)
['cifar10', 'cifar100', 'fashion_mnist', 'mnist']
>>> DATASETS["cifar100"]["num_classes"], DATASETS["cifar100"]["image_size"]
(100, 32)
"""

import tensorflow as tf

from zoo import _validation
from zoo.data import epochs
from zoo.data.tfds_common import DatasetNotPreparedError, supervised_split

# Label names in id order, as TFDS gives them (CIFAR-100: the fine labels).
_MNIST_NAMES = tuple(str(digit) for digit in range(10))
_FASHION_MNIST_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
    "Sneaker", "Bag", "Ankle boot")
_CIFAR10_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
    "ship", "truck")
_CIFAR100_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee",
    "beetle", "bicycle", "bottle", "bowl", "boy", "bridge", "bus",
    "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair",
    "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile",
    "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower",
    "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
    "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter",
    "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate",
    "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper",
    "snail", "snake", "spider", "squirrel", "streetcar", "sunflower",
    "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)

# name -> what `zoo.data.info` reports, plus the normalization statistics.
# Every entry has supervised keys (image, label) in TFDS.
DATASETS = {
    "mnist": {"num_classes": 10, "channels": 1, "image_size": 28,
              "splits": ("train", "test"),
              "mean": (0.1307,), "std": (0.3081,),
              "class_names": _MNIST_NAMES},
    "fashion_mnist": {"num_classes": 10, "channels": 1, "image_size": 28,
                      "splits": ("train", "test"),
                      "mean": (0.2860,), "std": (0.3530,),
                      "class_names": _FASHION_MNIST_NAMES},
    "cifar10": {"num_classes": 10, "channels": 3, "image_size": 32,
                "splits": ("train", "test"),
                "mean": (0.4914, 0.4822, 0.4465),
                "std": (0.2470, 0.2435, 0.2616),
                "class_names": _CIFAR10_NAMES},
    "cifar100": {"num_classes": 100, "channels": 3, "image_size": 32,
                 "splits": ("train", "test"),
                 "mean": (0.5071, 0.4865, 0.4409),
                 "std": (0.2673, 0.2564, 0.2762),
                 "class_names": _CIFAR100_NAMES},
}

# Datasets whose train split is augmented when `augment=None`.
AUGMENTED_BY_DEFAULT = ("cifar10", "cifar100")
PAD = 4
# Shuffle buffer when the split size is unknown (the largest split here).
DEFAULT_SHUFFLE_BUFFER = 60_000

__all__ = ["DATASETS", "DatasetNotPreparedError", "augment_image", "load"]


def augment_image(image, seed):
    """Pad-and-crop plus horizontal flip, deterministic in `seed`.

    Args:
        image: float or uint8 tensor `(height, width, channels)`.
        seed: int tensor of shape `(2,)`, the stateless seed.

    Returns:
        A tensor of the same shape and dtype as `image`.
    """
    # A static shape keeps the dataset's element_spec fully defined.
    shape = image.shape if image.shape.is_fully_defined() else tf.shape(image)
    padded = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]])
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    image = tf.image.stateless_random_crop(padded, shape, seed=seeds[0])
    return tf.image.stateless_random_flip_left_right(image, seed=seeds[1])


def load(name, split="train", batch_size=32, shuffle=None, seed=0,
         drop_remainder=False, data_dir=None, download=False, one_hot=False,
         augment=None, normalize=False, cache=True, start_epoch=None):
    """One split of a TFDS image dataset as a batched `tf.data.Dataset`.

    Args:
        name: str. One of `DATASETS`.
        split: str. `"train"` or `"test"`.
        batch_size: int >= 1. Examples per batch.
        shuffle: bool or None. None shuffles the train split only.
            Shuffling reshuffles every epoch, seeded by `seed`.
        seed: int >= 0. Seed of the shuffle and of the augmentation.
        drop_remainder: bool. Drop the last batch when it is short.
        start_epoch: None or int >= 0. None: one epoch per iteration. An
            int: the endless, exactly resumable stream from that epoch
            (`zoo.data.epochs`).
        data_dir: str, path or None. TFDS data directory; None means the
            TFDS default (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: bool. Download and prepare the dataset when missing
            (needs internet). False (the default) never touches the network.
        one_hot: bool. Labels as float32 one-hot `(batch, num_classes)`
            instead of int32 `(batch,)`.
        augment: bool or None. Random pad-4 crop and horizontal flip. None
            means on for the CIFAR train splits and off otherwise. The test
            split is never augmented: `augment=True` with `split="test"` is
            a ValueError.
        normalize: bool. Subtract the dataset's per-channel mean and divide
            by its std (module docstring) after scaling to [0, 1].
        cache: bool. Cache the decoded uint8 images in memory after the
            first epoch (47 MB for the MNIST train splits, 150 MB for CIFAR).

    Returns:
        A `tf.data.Dataset` of `(image, label)`: image float32 `(batch,
        size, size, channels)`, label int32 `(batch,)` or float32 `(batch,
        num_classes)`.

    Raises:
        ValueError: for a bad argument.
        DatasetNotPreparedError (a RuntimeError): when the data is not in
            `data_dir` and `download` is False, or the download failed.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"name must be one of {sorted(DATASETS)}, received name={name!r}")
    spec = DATASETS[name]
    _validation.loader_arguments(split, spec["splits"], batch_size, shuffle, seed,
                                 drop_remainder, start_epoch)
    _validation.directory("data_dir", data_dir, optional=True)
    _validation.boolean("download", download)
    _validation.boolean("one_hot", one_hot)
    _validation.boolean("augment", augment, optional=True)
    _validation.boolean("normalize", normalize)
    _validation.boolean("cache", cache)
    if augment and split != "train":
        raise ValueError(
            "augment=True applies to the train split only, received "
            f"augment={augment!r} with split={split!r}")

    if shuffle is None:
        shuffle = split == "train"
    if augment is None:
        augment = split == "train" and name in AUGMENTED_BY_DEFAULT
    size, channels = spec["image_size"], spec["channels"]
    num_classes = spec["num_classes"]
    mean = tf.constant(spec["mean"], tf.float32)
    std = tf.constant(spec["std"], tf.float32)

    ds = supervised_split(name, split, data_dir=data_dir, download=download)

    def to_uint8(image, label):
        # ensure_shape documents (and checks) what TFDS yields per example.
        image = tf.ensure_shape(image, [size, size, channels])
        return image, tf.ensure_shape(tf.cast(label, tf.int32), [])

    ds = ds.map(to_uint8, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    count = int(ds.cardinality())
    buffer = count if count > 0 else DEFAULT_SHUFFLE_BUFFER

    def to_float(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if normalize:
            image = (image - mean) / std
        if one_hot:
            label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return image, label

    def one_epoch(epoch):
        examples = epochs.shuffle(ds, buffer, seed, epoch) if shuffle else ds
        if augment:
            # One stateless seed per example, fresh each epoch.
            seeds = epochs.random_seed_pairs(seed, epoch)
            examples = tf.data.Dataset.zip(examples, seeds).map(
                lambda example, s: (augment_image(example[0], s), example[1]),
                num_parallel_calls=tf.data.AUTOTUNE)
        examples = examples.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
        return examples.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    return epochs.epoch_stream(one_epoch, start_epoch)
