"""Tests for the TFDS text path (`zoo.data.tfds_text`), all offline.

`tfds.testing.mock_data` replaces the prepared files by generated examples
of the real feature spec, so the whole path (builder, `as_dataset`, the
shared text pipeline) runs without the data; the not-prepared path runs on
an empty directory.
"""

import os
import subprocess
import sys
import time
from unittest import mock

import pytest
import tensorflow_datasets as tfds

import zoo.data
from zoo.data import tfds_text


def _collect(ds):
    texts, labels = [], []
    for x, y in ds:
        texts += x.numpy().tolist()
        labels += y.numpy().tolist()
    return texts, labels


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_mocked_imdb_matches_the_sentiment_pipeline(split, drop_remainder):
    with tfds.testing.mock_data(num_examples=10):
        ds = zoo.data.load("imdb_reviews", split=split, batch_size=4,
                           drop_remainder=drop_remainder)
        batches = [(x.numpy(), y.numpy(), x.dtype, y.dtype) for x, y in ds]
    reference = zoo.data.load("sentiment", split=split, batch_size=4,
                              num_examples=10, drop_remainder=drop_remainder)
    assert ds.element_spec == reference.element_spec
    assert [len(y) for _, y, _, _ in batches] == [
        int(y.shape[0]) for _, y in reference]
    for texts, labels, text_dtype, label_dtype in batches:
        assert (text_dtype.name, label_dtype.name) == ("string", "int32")
        assert texts.ndim == 1 and labels.ndim == 1
        assert all(isinstance(t, bytes) and t for t in texts)
        assert set(labels.tolist()) <= {0, 1}


def test_mocked_imdb_shuffles_train_only():
    with tfds.testing.mock_data(num_examples=50):
        train = zoo.data.load("imdb_reviews", split="train", batch_size=50)
        test = zoo.data.load("imdb_reviews", split="test", batch_size=50)
        first, second = _collect(train)[0], _collect(train)[0]
        assert first != second and sorted(first) == sorted(second)
        assert _collect(test) == _collect(test)


def test_mocked_download_true_prepares_then_loads(tmp_path):
    # Under the mock, download_and_prepare is a no-op: this checks the
    # download branch is wired, not the network.
    with tfds.testing.mock_data(num_examples=3):
        ds = zoo.data.load("imdb_reviews", batch_size=8,
                           data_dir=tmp_path, download=True)
        texts, labels = _collect(ds)
    assert len(texts) == len(labels) == 3


@pytest.mark.parametrize("missing", ["empty", "nonexistent"])
def test_not_prepared_fails_fast_and_says_how_to_prepare(tmp_path, missing):
    data_dir = tmp_path if missing == "empty" else tmp_path / "no" / "such"
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        zoo.data.load("imdb_reviews", split="test", data_dir=str(data_dir))
    # A hang guard, not a benchmark: measured 0.4 s, no network touched.
    assert time.perf_counter() - start < 30
    assert isinstance(info.value, tfds_text.DatasetNotPreparedError)
    message = str(info.value)
    assert "'imdb_reviews'" in message
    assert str(data_dir) in message
    assert "tfds build imdb_reviews" in message and "download=True" in message
    # Nothing was downloaded or created.
    assert list(tmp_path.iterdir()) == []


def test_failed_download_is_wrapped_with_the_same_advice(tmp_path):
    offline = ConnectionError("Failed to resolve 'ai.stanford.edu'")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare",
                           side_effect=offline):
        with pytest.raises(tfds_text.DatasetNotPreparedError) as info:
            zoo.data.load("imdb_reviews", data_dir=tmp_path, download=True)
    message = str(info.value)
    assert "'imdb_reviews'" in message and str(tmp_path) in message
    assert "ai.stanford.edu" in message and "tfds build" in message
    assert info.value.__cause__ is offline


# One fresh process checks both: which modules `zoo.data` imports (before
# the TFDS loader runs) and the error of a load from the default data_dir
# (TFDS reads TFDS_DATA_DIR when it is imported, so it needs a process).
FRESH_PROCESS_CODE = (
    "import sys, zoo.data\n"
    "zoo.data.info('imdb_reviews')\n"
    "next(iter(zoo.data.load('sentiment', num_examples=4)))\n"
    "print('tensorflow_datasets' in sys.modules)\n"
    "try:\n"
    "    zoo.data.load('imdb_reviews')\n"
    "except RuntimeError as error:\n"
    "    print(error)\n")


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """`(default_dir, stdout)` of FRESH_PROCESS_CODE run with TFDS_DATA_DIR=default_dir."""
    default_dir = tmp_path_factory.mktemp("tfds") / "default_dir"
    env = {**os.environ, "TFDS_DATA_DIR": str(default_dir)}
    out = subprocess.run([sys.executable, "-c", FRESH_PROCESS_CODE], capture_output=True,
                         text=True, check=True, timeout=120, env=env)
    return default_dir, out.stdout


def test_default_data_dir_is_named_in_the_error(fresh_process):
    default_dir, stdout = fresh_process
    error = stdout.split("\n", 1)[1]
    assert str(default_dir) in error
    assert "imdb_reviews" in error


def test_tensorflow_datasets_is_imported_only_by_the_loader(fresh_process):
    _, stdout = fresh_process
    assert stdout.split("\n", 1)[0] == "False"


def test_info_and_registry():
    assert "imdb_reviews" in zoo.data.DATASETS
    assert zoo.data.info("imdb_reviews") == {
        "modality": "text", "num_classes": 2, "splits": ("train", "test"),
        "class_names": ["neg", "pos"], "options": ("data_dir", "download")}


@pytest.mark.parametrize("kwargs", [
    {"split": "unsupervised"},
    {"batch_size": 0},
    {"seed": -1},
    {"shuffle": 1},
    {"drop_remainder": "no"},
    {"data_dir": 3},
    {"download": "yes"},
], ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()))
def test_bad_input_names_argument_and_value(kwargs):
    (arg, value), = kwargs.items()
    with pytest.raises(ValueError) as info:
        zoo.data.load("imdb_reviews", **kwargs)
    assert f"{arg}={value!r}" in str(info.value)


def test_unknown_option_and_unknown_name():
    with pytest.raises(ValueError, match=r"dataset 'imdb_reviews' takes no "
                                         r"option num_examples=5; its options "
                                         r"are \['data_dir', 'download'\]"):
        zoo.data.load("imdb_reviews", num_examples=5)
    with pytest.raises(ValueError, match=r"received name='mnist'"):
        tfds_text.load("mnist")


def test_registry_agrees_with_tfds_metadata(tmp_path):
    builder = tfds.builder("imdb_reviews", data_dir=tmp_path)
    assert builder.info.supervised_keys == ("text", "label")
    assert builder.info.features["label"].num_classes == (
        tfds_text.DATASETS["imdb_reviews"]["num_classes"])
