"""Image classification datasets of TensorFlow Datasets (TFDS).

Pipeline: uint8 images -> cache (4x smaller than float32) -> seeded shuffle
-> augmentation (after the cache: new crops every epoch) -> scale /
normalize / one-hot -> batch. CIFAR augmentation is He et al. (2016)'s: pad
4, random crop, random flip, stateless ops seeded by `(seed, epoch)`.
Nothing is downloaded unless `download=True` (`zoo.data.tfds_common`).

Example:

>>> sorted(DATASETS)
['cifar10', 'cifar100', 'fashion_mnist', 'mnist']
>>> DATASETS["cifar100"]["num_classes"], DATASETS["cifar100"]["image_size"]
(100, 32)
"""

import tensorflow as tf

from zoo import _validation
from zoo.data import epochs
from zoo.data.tfds_common import DatasetNotPreparedError, check_name, supervised_split

# Label names in id order, as TFDS gives them (CIFAR-100: the fine labels).
_MNIST_NAMES = tuple(str(digit) for digit in range(10))
_FASHION_MNIST_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                        "Shirt", "Sneaker", "Bag", "Ankle boot")
_CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                  "ship", "truck")
_CIFAR100_NAMES = tuple((
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach "
    "couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster "
    "house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree "
    "motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear "
    "pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road "
    "rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel "
    "streetcar sunflower sweet_pepper table tank telephone television tiger tractor train "
    "trout tulip turtle wardrobe whale willow_tree wolf woman worm").split())

# name -> what `zoo.data.info` reports, plus the published train statistics.
DATASETS = {
    "mnist": {"num_classes": 10, "channels": 1, "image_size": 28, "splits": ("train", "test"),
              "mean": (0.1307,), "std": (0.3081,), "class_names": _MNIST_NAMES},
    "fashion_mnist": {"num_classes": 10, "channels": 1, "image_size": 28,
                      "splits": ("train", "test"), "mean": (0.2860,), "std": (0.3530,),
                      "class_names": _FASHION_MNIST_NAMES},
    "cifar10": {"num_classes": 10, "channels": 3, "image_size": 32, "splits": ("train", "test"),
                "mean": (0.4914, 0.4822, 0.4465), "std": (0.2470, 0.2435, 0.2616),
                "class_names": _CIFAR10_NAMES},
    "cifar100": {"num_classes": 100, "channels": 3, "image_size": 32,
                 "splits": ("train", "test"), "mean": (0.5071, 0.4865, 0.4409),
                 "std": (0.2673, 0.2564, 0.2762), "class_names": _CIFAR100_NAMES},
}

# Datasets whose train split is augmented when `augment=None`.
AUGMENTED_BY_DEFAULT = ("cifar10", "cifar100")
PAD = 4
# Shuffle buffer when the split size is unknown (the largest split here).
DEFAULT_SHUFFLE_BUFFER = 60_000

__all__ = ["DATASETS", "DatasetNotPreparedError", "augment_image", "load"]


def augment_image(image, seed):
    """Pad-and-crop plus horizontal flip of an `(h, w, c)` image, by stateless `(2,)` `seed`."""
    # A static shape keeps the dataset's element_spec fully defined.
    shape = image.shape if image.shape.is_fully_defined() else tf.shape(image)
    padded = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]])
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    image = tf.image.stateless_random_crop(padded, shape, seed=seeds[0])
    return tf.image.stateless_random_flip_left_right(image, seed=seeds[1])


def load(name, split="train", batch_size=32, shuffle=False, seed=0,
         drop_remainder=False, data_dir=None, download=False, one_hot=False,
         augment=None, normalize=False, cache=True, start_epoch=None):
    """One split of a TFDS image dataset as a batched `tf.data.Dataset`.

    Common arguments as in `zoo.data.load`, which checks them.

    Args:
        data_dir: str, path or None. None: the TFDS default.
        download: bool. Download and prepare the dataset when missing.
        one_hot: bool. Labels as float32 `(batch, num_classes)`.
        augment: bool or None. Pad-4 crop and flip; None: on for the CIFAR
            train splits. The test split is never augmented.
        normalize: bool. Standardize with the dataset's mean and std.
        cache: bool. Cache the decoded uint8 images in memory.

    Raises:
        ValueError: for a bad argument.
        DatasetNotPreparedError (a RuntimeError): the data is not on disk.
    """
    check_name(name, DATASETS)
    spec = DATASETS[name]
    for option, value in (("one_hot", one_hot), ("augment", augment),
                          ("normalize", normalize), ("cache", cache)):
        _validation.boolean(option, value, optional=option == "augment")
    if augment and split != "train":
        raise ValueError(
            "augment=True applies to the train split only, received "
            f"augment={augment!r} with split={split!r}")
    if augment is None:
        augment = split == "train" and name in AUGMENTED_BY_DEFAULT
    size, channels = spec["image_size"], spec["channels"]
    mean = tf.constant(spec["mean"], tf.float32)
    std = tf.constant(spec["std"], tf.float32)

    def to_uint8(image, label):
        image = tf.ensure_shape(image, [size, size, channels])
        return image, tf.ensure_shape(tf.cast(label, tf.int32), [])

    def to_float(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if normalize:
            image = (image - mean) / std
        if one_hot:
            label = tf.one_hot(label, spec["num_classes"], dtype=tf.float32)
        return image, label

    def transform(examples, epoch):
        if augment:
            seeds = epochs.random_seed_pairs(seed, epoch)  # one per example
            examples = tf.data.Dataset.zip(examples, seeds).map(
                lambda example, s: (augment_image(example[0], s), example[1]),
                num_parallel_calls=tf.data.AUTOTUNE)
        return examples.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)

    ds = supervised_split(name, split, data_dir=data_dir, download=download)
    ds = ds.map(to_uint8, num_parallel_calls=tf.data.AUTOTUNE)
    return epochs.batches(ds.cache() if cache else ds, batch_size,
                          shuffle=shuffle, seed=seed, transform=transform,
                          drop_remainder=drop_remainder, start_epoch=start_epoch,
                          default_buffer=DEFAULT_SHUFFLE_BUFFER)
