"""Tests for the TFDS image datasets (`zoo.data.tfds_images`), all offline.

`tfds.testing.mock_data` replaces the prepared files by generated examples
of the real feature spec (random uint8 images of the real shape), so the
whole path runs without the data; the not-prepared path runs on an empty
directory.
"""

import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import zoo.data
from zoo.data import tfds_common, tfds_images, tfds_text

SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
          "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}
NAMES = sorted(SHAPES)


def _images(ds):
    return np.concatenate([x.numpy() for x, _ in ds])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("split", ["train", "test"])
def test_shapes_dtypes_and_range(name, split):
    with tfds.testing.mock_data(num_examples=10):
        ds = zoo.data.load(name, split=split, batch_size=4)
        batches = [(x.numpy(), y.numpy()) for x, y in ds]
    spec = ds.element_spec
    assert tuple(spec[0].shape) == (None, *SHAPES[name])
    assert (spec[0].dtype, spec[1].dtype) == (tf.float32, tf.int32)
    assert tuple(spec[1].shape) == (None,)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    num_classes = zoo.data.info(name)["num_classes"]
    for images, labels in batches:
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert images.max() > 0.5  # scaled, not all zeros
        assert ((labels >= 0) & (labels < num_classes)).all()


@pytest.mark.parametrize("name", NAMES)
def test_one_hot(name):
    num_classes = zoo.data.info(name)["num_classes"]
    with tfds.testing.mock_data(num_examples=6):
        plain = zoo.data.load(name, split="test", batch_size=6)
        hot = zoo.data.load(name, split="test", batch_size=6, one_hot=True)
        (_, labels), = list(plain)
        (_, one_hot), = list(hot)
    assert hot.element_spec[1].dtype == tf.float32
    assert tuple(hot.element_spec[1].shape) == (None, num_classes)
    np.testing.assert_array_equal(
        one_hot.numpy(), np.eye(num_classes, dtype=np.float32)[labels])


@pytest.mark.parametrize("name", NAMES)
def test_augmentation_is_cifar_train_only_and_new_every_epoch(name):
    cifar = name.startswith("cifar")
    with tfds.testing.mock_data(num_examples=8):
        # shuffle=False isolates the augmentation from the order.
        train = zoo.data.load(name, split="train", batch_size=8,
                              shuffle=False)
        test = zoo.data.load(name, split="test", batch_size=8)
        plain = zoo.data.load(name, split="train", batch_size=8,
                              shuffle=False, augment=False)
        epoch1, epoch2 = _images(train), _images(train)
        again = _images(zoo.data.load(name, split="train", batch_size=8,
                                      shuffle=False))
        np.testing.assert_array_equal(_images(test), _images(test))
        np.testing.assert_array_equal(_images(plain), _images(plain))
        forced = _images(zoo.data.load(name, split="train", batch_size=8,
                                       shuffle=False, augment=True))
    assert (not np.array_equal(epoch1, epoch2)) == cifar
    # Same seed, fresh dataset: the same augmentation (reproducible runs).
    np.testing.assert_array_equal(epoch1, again)
    assert not np.array_equal(forced, _images(plain))
    assert epoch1.shape == (8, *SHAPES[name])


def test_augmentation_is_pad_crop_flip():
    # 8 > the padding, so every window holds original pixels.
    image = tf.reshape(tf.range(8 * 8 * 3, dtype=tf.float32) + 1, (8, 8, 3))
    padded = np.pad(image.numpy(), [(4, 4), (4, 4), (0, 0)])
    seen = set()
    for i in range(200):
        out = tfds_images.augment_image(image, tf.constant([i, 7])).numpy()
        # Every output is one 8x8 window of the zero-padded image, flipped
        # left-right or not (the image has no symmetry, so it is unique).
        matches = [(top, left, flip)
                   for top in range(9) for left in range(9)
                   for flip in (False, True)
                   if np.array_equal(out, (lambda w: w[:, ::-1] if flip
                                           else w)(
                       padded[top:top + 8, left:left + 8]))]
        assert len(matches) == 1, i
        seen.add(matches[0])
    assert {flip for _, _, flip in seen} == {False, True}
    assert {top for top, _, _ in seen} == set(range(9))
    assert {left for _, left, _ in seen} == set(range(9))


def test_test_split_is_never_augmented():
    with pytest.raises(ValueError, match=r"augment=True.*split='test'"):
        zoo.data.load("cifar10", split="test", augment=True)


def test_normalize_uses_the_fixed_statistics():
    with tfds.testing.mock_data(num_examples=4):
        raw = _images(zoo.data.load("cifar100", split="test", batch_size=4))
        norm = _images(zoo.data.load("cifar100", split="test", batch_size=4,
                                     normalize=True))
    spec = tfds_images.DATASETS["cifar100"]
    np.testing.assert_allclose(
        norm, (raw - np.array(spec["mean"])) / np.array(spec["std"]),
        rtol=1e-5, atol=1e-5)


def test_cache_false_gives_the_same_examples():
    with tfds.testing.mock_data(num_examples=5):
        cached = zoo.data.load("mnist", split="test", batch_size=5)
        uncached = zoo.data.load("mnist", split="test", batch_size=5,
                                 cache=False)
        np.testing.assert_array_equal(_images(cached), _images(uncached))


def test_train_shuffle_is_seeded_and_reshuffles():
    def labels(ds):
        return np.concatenate([y.numpy() for _, y in ds]).tolist()
    with tfds.testing.mock_data(num_examples=40):
        ds = zoo.data.load("mnist", split="train", batch_size=40,
                           one_hot=False)
        first, second = labels(ds), labels(ds)
        same_seed = labels(zoo.data.load("mnist", split="train",
                                         batch_size=40))
    assert first != second and sorted(first) == sorted(second)
    assert first == same_seed


@pytest.mark.parametrize("name", NAMES)
def test_not_prepared_fails_fast(tmp_path, name):
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        zoo.data.load(name, split="test", data_dir=str(tmp_path))
    # A hang guard, not a benchmark: no network is touched.
    assert time.perf_counter() - start < 30
    assert isinstance(info.value, tfds_common.DatasetNotPreparedError)
    message = str(info.value)
    assert repr(name) in message and str(tmp_path) in message
    assert f"tfds build {name}" in message and "download=True" in message
    assert list(tmp_path.iterdir()) == []


def test_one_error_class_for_every_tfds_loader():
    assert tfds_text.DatasetNotPreparedError is (
        tfds_common.DatasetNotPreparedError)
    assert tfds_images.DatasetNotPreparedError is (
        tfds_common.DatasetNotPreparedError)


@pytest.mark.parametrize("name", NAMES)
def test_info_and_registry(name):
    size, _, channels = SHAPES[name]
    assert name in zoo.data.DATASETS
    assert zoo.data.info(name) == {
        "modality": "image", "num_classes": 100 if name == "cifar100" else 10,
        "channels": channels, "image_size": size,
        "splits": ("train", "test"),
        "class_names": list(tfds_images.DATASETS[name]["class_names"]),
        "options": ("augment", "cache", "data_dir", "download", "normalize",
                    "one_hot")}


@pytest.mark.parametrize("name", NAMES)
def test_registry_agrees_with_tfds_metadata(tmp_path, name):
    builder = tfds.builder(name, data_dir=tmp_path)
    assert builder.info.supervised_keys == ("image", "label")
    assert builder.info.features["label"].num_classes == (
        zoo.data.info(name)["num_classes"])
    assert builder.info.features["image"].shape == SHAPES[name]


@pytest.mark.parametrize("kwargs", [
    {"split": "validation"},
    {"batch_size": 0},
    {"seed": -1},
    {"shuffle": 1},
    {"drop_remainder": "no"},
    {"data_dir": 3},
    {"download": "yes"},
    {"one_hot": 1},
    {"augment": "on"},
    {"normalize": None},
    {"cache": "memory"},
], ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()))
def test_bad_input_names_argument_and_value(kwargs):
    (arg, value), = kwargs.items()
    with pytest.raises(ValueError) as info:
        zoo.data.load("cifar10", **kwargs)
    assert f"{arg}={value!r}" in str(info.value)


def test_unknown_name_in_the_module():
    with pytest.raises(ValueError, match=r"received name='imdb_reviews'"):
        tfds_images.load("imdb_reviews")
