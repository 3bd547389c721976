"""Tests for the embedded digits dataset (`zoo.data.digits`, `zoo.data.load`)."""

import collections
import doctest
import hashlib
import math
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

import zoo.data
from zoo.data import digits

EXPECTED_SHA256 = (
    "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22")
# Per-class row counts of the 1,797-row file, labels 0..9.
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def _collect(ds):
    """Concatenates every batch of one epoch into numpy arrays."""
    images, labels = [], []
    for x, y in ds:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def _row_hashes(images, labels):
    return [hashlib.sha256(img.tobytes() + bytes([int(lab)])).hexdigest()
            for img, lab in zip(images, labels)]


def test_packaged_file_sha256():
    data = (resources.files("zoo.data") / "digits.csv.gz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == EXPECTED_SHA256
    assert digits.SHA256 == EXPECTED_SHA256


def test_attribution_ships_next_to_data():
    text = (resources.files("zoo.data") / "DIGITS_README.md").read_text(
        encoding="utf-8")
    assert "Alpaydin" in text and "CC BY 4.0" in text


def test_arrays_dtypes_shapes_and_ranges():
    for split, n in [("train", 1438), ("test", 359)]:
        images, labels = digits.load_arrays(split)
        assert images.dtype == np.uint8 and images.shape == (n, 8, 8)
        assert labels.dtype == np.int64 and labels.shape == (n,)
        assert images.min() == 0 and images.max() == 16
        assert sorted(set(labels.tolist())) == list(range(10))


def test_arrays_are_copies_of_the_cache():
    images, labels = digits.load_arrays("test")
    images[:] = 99
    labels[:] = 99
    again_images, again_labels = digits.load_arrays("test")
    assert again_images.max() == 16 and again_labels.max() == 9


@pytest.mark.parametrize("image_size", [32, 8, 5])
def test_batch_shapes_and_dtypes(image_size):
    ds = zoo.data.load("digits", split="train", batch_size=32,
                       image_size=image_size)
    images, labels = next(iter(ds))
    assert images.dtype.name == "float32"
    assert tuple(images.shape) == (32, image_size, image_size, 1)
    assert labels.dtype.name == "int32"
    assert tuple(labels.shape) == (32,)
    assert np.all((labels.numpy() >= 0) & (labels.numpy() <= 9))


def test_image_size_8_is_raw_over_16_exactly():
    images, labels = _collect(zoo.data.load(
        "digits", split="test", batch_size=100, image_size=8))
    raw_images, raw_labels = digits.load_arrays("test")
    np.testing.assert_array_equal(
        images, (raw_images.astype(np.float32) / 16)[..., np.newaxis])
    np.testing.assert_array_equal(labels, raw_labels.astype(np.int32))


def test_resized_images_in_unit_range_and_keep_their_mean():
    images, labels = _collect(zoo.data.load(
        "digits", split="test", batch_size=128, image_size=32))
    raw_images, raw_labels = digits.load_arrays("test")
    assert images.shape == (359, 32, 32, 1)
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(labels, raw_labels)
    # Upsampling 4x bilinearly keeps each image's mean ink close to the
    # original's: a check that the right image went through the resize.
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)),
                               raw_images.mean(axis=(1, 2)) / 16, atol=0.03)


def test_drop_remainder():
    kept = [int(y.shape[0]) for _, y in zoo.data.load(
        "digits", split="test", batch_size=100, image_size=8)]
    dropped = [int(y.shape[0]) for _, y in zoo.data.load(
        "digits", split="test", batch_size=100, image_size=8,
        drop_remainder=True)]
    assert kept == [100, 100, 100, 59]
    assert dropped == [100, 100, 100]


def test_split_sizes_disjoint_and_covering():
    train, test = digits.split_indices()
    assert len(train) + len(test) == 1797
    assert len(test) == sum(round(0.2 * n) for n in CLASS_COUNTS) == 359
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(1797))
    # The same by content, independent of how indices are computed.
    train_hashes = _row_hashes(*digits.load_arrays("train"))
    test_hashes = _row_hashes(*digits.load_arrays("test"))
    assert len(set(train_hashes)) == len(train_hashes) == 1438
    assert not set(train_hashes) & set(test_hashes)
    images, labels = digits._read_csv()
    assert (collections.Counter(train_hashes + test_hashes)
            == collections.Counter(_row_hashes(images, labels)))


@pytest.mark.parametrize("test_fraction", [0.2, 0.5, 0.1])
def test_split_is_stratified(test_fraction):
    _, test_labels = digits.load_arrays("test", test_fraction=test_fraction)
    _, train_labels = digits.load_arrays("train", test_fraction=test_fraction)
    expected_test = [round(test_fraction * n) for n in CLASS_COUNTS]
    assert np.bincount(test_labels, minlength=10).tolist() == expected_test
    assert np.bincount(train_labels, minlength=10).tolist() == [
        n - t for n, t in zip(CLASS_COUNTS, expected_test)]


def test_same_seed_same_split_different_seed_different():
    train0, test0 = digits.split_indices(seed=0)
    train0_again, test0_again = digits.split_indices(seed=0)
    train1, test1 = digits.split_indices(seed=1)
    np.testing.assert_array_equal(test0, test0_again)
    np.testing.assert_array_equal(train0, train0_again)
    assert test0.tolist() != test1.tolist()
    # A different split, same stratification.
    assert len(test1) == len(test0)


def test_split_and_shuffle_identical_across_processes():
    code = (
        "import hashlib, numpy as np, zoo.data\n"
        "from zoo.data import digits\n"
        "_, test = digits.split_indices(seed=3)\n"
        "ds = zoo.data.load('digits', batch_size=2000, image_size=8, seed=3)\n"
        "order = next(iter(ds))[1].numpy()\n"
        "print(hashlib.sha256(test.tobytes()).hexdigest(),"
        " hashlib.sha256(order.tobytes()).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, timeout=120)
    _, test = digits.split_indices(seed=3)
    ds = zoo.data.load("digits", batch_size=2000, image_size=8, seed=3)
    order = next(iter(ds))[1].numpy()
    assert out.stdout.split() == [
        hashlib.sha256(test.tobytes()).hexdigest(),
        hashlib.sha256(order.tobytes()).hexdigest()]


def test_train_reshuffles_each_epoch_and_test_is_stable():
    train = zoo.data.load("digits", split="train", batch_size=2000,
                          image_size=8)
    epoch1, epoch2 = (_collect(train)[1] for _ in range(2))
    file_order = digits.load_arrays("train")[1]
    assert epoch1.tolist() != epoch2.tolist()
    assert epoch1.tolist() != file_order.tolist()
    assert sorted(epoch1.tolist()) == sorted(file_order.tolist())
    assert sorted(epoch2.tolist()) == sorted(file_order.tolist())

    test = zoo.data.load("digits", split="test", batch_size=50, image_size=8)
    first, second = (_collect(test)[1] for _ in range(2))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, digits.load_arrays("test")[1])


def test_shuffle_flag_overrides_default():
    train = zoo.data.load("digits", split="train", batch_size=2000,
                          image_size=8, shuffle=False)
    np.testing.assert_array_equal(_collect(train)[1],
                                  digits.load_arrays("train")[1])
    test = zoo.data.load("digits", split="test", batch_size=2000,
                         image_size=8, shuffle=True)
    assert (_collect(test)[1].tolist()
            != digits.load_arrays("test")[1].tolist())


def test_unknown_name_lists_known_names():
    assert "digits" in zoo.data.DATASETS
    with pytest.raises(ValueError) as info:
        zoo.data.load("mnistt")
    assert str(info.value) == (
        f"name must be one of {list(zoo.data.DATASETS)}, received name='mnistt'")
    with pytest.raises(ValueError, match=r"received name=\['digits'\]"):
        zoo.data.load(["digits"])


@pytest.mark.parametrize("kwargs", [
    {"split": "val"},
    {"split": None},
    {"batch_size": 0},
    {"batch_size": -4},
    {"batch_size": 2.5},
    {"batch_size": "32"},
    {"batch_size": True},
    {"image_size": 0},
    {"image_size": 16.0},
    {"test_fraction": 0},
    {"test_fraction": 1},
    {"test_fraction": 1.5},
    {"test_fraction": -0.1},
    {"test_fraction": math.nan},
    {"test_fraction": "0.2"},
    {"test_fraction": 0.001},  # would leave the test split empty
    {"seed": -1},
    {"seed": 1.5},
    {"shuffle": "yes"},
    {"drop_remainder": None},
], ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()))
def test_bad_input_names_argument_and_value(kwargs):
    (arg, value), = kwargs.items()
    with pytest.raises(ValueError) as info:
        zoo.data.load("digits", **kwargs)
    assert f"{arg}={value!r}" in str(info.value)


def test_load_arrays_bad_input():
    with pytest.raises(ValueError, match="received split='validation'"):
        digits.load_arrays("validation")
    with pytest.raises(ValueError, match=r"received test_fraction=1\.0"):
        digits.load_arrays("test", test_fraction=1.0)


@pytest.mark.parametrize("module", [zoo.data, digits])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
