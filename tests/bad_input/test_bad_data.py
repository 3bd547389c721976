"""Bad arguments to the data loaders: `zoo.data.load`, `info`, the TFDS
wrappers and users' own data. Every row is refused before any data is read
(the TFDS rows never reach TFDS), with a ValueError naming the argument and
the value."""

import pathlib

import pytest
import tensorflow as tf

import zoo.data
from helpers import assert_rejects

NAN, INF = float("nan"), float("inf")
HERE = pathlib.Path(__file__).parent  # an existing directory
THIS_FILE = pathlib.Path(__file__)    # an existing regular file
SIGNATURE = (tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32))


def _examples():
    yield 1.0, 1


def load(name, **kwargs):
    return lambda: zoo.data.load(name, **kwargs)


def row(call, *fragments, id):
    return pytest.param(call, fragments, id=id)


ROWS = [
    # -- names -----------------------------------------------------------------
    row(load(None), "name=None", id="load-name-none"),
    row(load(""), "name=''", id="load-name-empty"),
    row(load("digitz"), "name='digitz'", id="load-name-unknown"),
    row(lambda: zoo.data.info(None), "name=None", id="info-name-none"),
    row(lambda: zoo.data.info(""), "name=''", id="info-name-empty"),
    row(lambda: zoo.data.info(3), "name=3", id="info-name-int"),
    # -- common arguments (digits) ------------------------------------------------
    row(load("digits", split=""), "split=''", id="digits-split-empty"),
    row(load("digits", split="validation"), "split='validation'", id="digits-split-unknown"),
    row(load("digits", split=None), "split=None", id="digits-split-none"),
    row(load("digits", batch_size=0), "batch_size=0", id="digits-batch_size-zero"),
    row(load("digits", batch_size=-1), "batch_size=-1", id="digits-batch_size-negative"),
    row(load("digits", batch_size=1.5), "batch_size=1.5", id="digits-batch_size-float"),
    row(load("digits", batch_size=True), "batch_size=True", id="digits-batch_size-bool"),
    row(load("digits", batch_size=NAN), "batch_size=nan", id="digits-batch_size-nan"),
    row(load("digits", shuffle="no"), "shuffle='no'", id="digits-shuffle-str-no"),
    row(load("digits", shuffle="False"), "shuffle='False'", id="digits-shuffle-str-False"),
    row(load("digits", shuffle=1), "shuffle=1", id="digits-shuffle-int"),
    row(load("digits", drop_remainder="no"), "drop_remainder='no'", id="digits-drop_remainder-str"),
    row(load("digits", drop_remainder=None), "drop_remainder=None", id="digits-drop_remainder-none"),
    row(load("digits", seed=-1), "seed=-1", id="digits-seed-negative"),
    row(load("digits", seed=NAN), "seed=nan", id="digits-seed-nan"),
    row(load("digits", seed=1.0), "seed=1.0", id="digits-seed-float"),
    row(load("digits", start_epoch=-1), "start_epoch=-1", id="digits-start_epoch-negative"),
    row(load("digits", start_epoch=1.5), "start_epoch=1.5", id="digits-start_epoch-float"),
    # -- digits options ----------------------------------------------------------
    row(load("digits", image_size=0), "image_size=0", id="digits-image_size-zero"),
    row(load("digits", image_size=NAN), "image_size=nan", id="digits-image_size-nan"),
    row(load("digits", image_size="32"), "image_size='32'", id="digits-image_size-str"),
    row(load("digits", image_size=10**6), "image_size=1000000", "memory",
        id="digits-image_size-huge"),
    row(load("digits", test_fraction=NAN), "test_fraction=nan", id="digits-test_fraction-nan"),
    row(load("digits", test_fraction=INF), "test_fraction=inf", id="digits-test_fraction-inf"),
    row(load("digits", test_fraction=0), "test_fraction=0", id="digits-test_fraction-zero"),
    row(load("digits", test_fraction=1.0), "test_fraction=1.0", id="digits-test_fraction-one"),
    row(load("digits", test_fraction="0.2"), "test_fraction='0.2'", id="digits-test_fraction-str"),
    row(load("digits", foo=1), "foo=1", id="digits-unknown-option"),
    # -- sentiment -----------------------------------------------------------------
    row(load("sentiment", num_examples=0), "num_examples=0", id="sentiment-num_examples-zero"),
    row(load("sentiment", num_examples=NAN), "num_examples=nan", id="sentiment-num_examples-nan"),
    row(load("sentiment", image_size=8), "image_size=8", id="sentiment-foreign-option"),
    row(load("sentiment", shuffle="yes"), "shuffle='yes'", id="sentiment-shuffle-str"),
    row(lambda: zoo.data.sentiment.generate(5, stream=-1), "stream=-1", id="sentiment-generate-stream"),
    # -- TFDS wrappers (refused before TFDS is imported) ---------------------------
    row(load("mnist", data_dir=""), "data_dir=''", id="mnist-data_dir-empty"),
    row(load("mnist", data_dir=3), "data_dir=3", id="mnist-data_dir-int"),
    row(load("mnist", data_dir=str(THIS_FILE)), "data_dir=", "a file", id="mnist-data_dir-file"),
    row(load("mnist", download="yes"), "download='yes'", id="mnist-download-str"),
    row(load("mnist", one_hot="no"), "one_hot='no'", id="mnist-one_hot-str"),
    row(load("mnist", augment="no"), "augment='no'", id="mnist-augment-str"),
    row(load("mnist", normalize=None), "normalize=None", id="mnist-normalize-none"),
    row(load("mnist", cache="no"), "cache='no'", id="mnist-cache-str"),
    row(load("cifar10", augment=True, split="test"), "augment=True", "split='test'",
        id="cifar10-augment-test-split"),
    row(load("cifar10", batch_size=0), "batch_size=0", id="cifar10-batch_size-zero"),
    row(load("imdb_reviews", data_dir=""), "data_dir=''", id="imdb-data_dir-empty"),
    row(load("imdb_reviews", download="no"), "download='no'", id="imdb-download-str"),
    row(load("imdb_reviews", split="validation"), "split='validation'", id="imdb-split-unknown"),
    # -- users' own data -------------------------------------------------------------
    row(lambda: zoo.data.from_image_folder("", 8), "directory=''", id="folder-directory-empty"),
    row(lambda: zoo.data.from_image_folder(None, 8), "directory=None", id="folder-directory-none"),
    row(lambda: zoo.data.from_image_folder(HERE / "missing", 8), "directory=", "missing",
        id="folder-directory-missing"),
    row(lambda: zoo.data.from_image_folder(THIS_FILE, 8), "directory=", "existing directory",
        id="folder-directory-is-file"),
    row(lambda: zoo.data.from_image_folder(HERE, NAN), "image_size=nan", id="folder-image_size-nan"),
    row(lambda: zoo.data.from_image_folder(HERE, (0, 8)), "image_size=(0, 8)",
        id="folder-image_size-zero"),
    row(lambda: zoo.data.from_image_folder(HERE, 10**6), "image_size=1000000", "memory",
        id="folder-image_size-huge"),
    row(lambda: zoo.data.from_image_folder(HERE, 8, validation_fraction=NAN),
        "validation_fraction=nan", id="folder-validation_fraction-nan"),
    row(lambda: zoo.data.from_image_folder(HERE, 8, channels=2), "channels=2",
        id="folder-channels-two"),
    row(lambda: zoo.data.from_image_folder(HERE, 8, channels="3"), "channels='3'",
        id="folder-channels-str"),
    row(lambda: zoo.data.from_image_folder(HERE, 8, shuffle="no"), "shuffle='no'",
        id="folder-shuffle-str"),
    row(lambda: zoo.data.from_image_folder(HERE, 8, split="test"), "split='test'",
        id="folder-split-unknown"),
    row(lambda: zoo.data.from_text_file(""), "path=''", id="text-path-empty"),
    row(lambda: zoo.data.from_text_file(HERE), "path=", "existing file", id="text-path-is-dir"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, delimiter=""), "delimiter=''",
        id="text-delimiter-empty"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, class_names="ab"), "class_names='ab'",
        id="text-class_names-str"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, header="no"), "header='no'",
        id="text-header-str"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, split="test"), "split='test'",
        id="text-split-unknown"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, validation_fraction=1.0),
        "validation_fraction=1.0", id="text-validation_fraction-one"),
    row(lambda: zoo.data.from_text_file(THIS_FILE, batch_size=0), "batch_size=0",
        id="text-batch_size-zero"),
    row(lambda: zoo.data.images.load_image_files([HERE], 8), "image file", str(HERE),
        id="images-directory-as-file"),
    row(lambda: zoo.data.images.load_image_files([THIS_FILE], 8), "image file",
        str(THIS_FILE), id="images-not-an-image"),
    row(lambda: zoo.data.images.load_image_files([THIS_FILE], 0), "image_size=0",
        id="images-image_size-zero"),
    # -- users' own data by name: folder:PATH, csv:PATH ------------------------------
    row(lambda: zoo.data.info("folder:"), "'folder:'", "names no path", id="folder-name-no-path"),
    row(lambda: zoo.data.info(f"folder:{HERE / 'missing'}"), "'folder:", "missing",
        "does not exist", id="folder-name-missing"),
    row(lambda: zoo.data.info(f"folder:{THIS_FILE}"), "'folder:", "is a file",
        id="folder-name-is-file"),
    row(lambda: zoo.data.info(f"folder:{HERE.parent}"), "'folder:", "has no image files",
        id="folder-name-no-images"),
    row(lambda: zoo.data.info(f"csv:{HERE / 'missing.csv'}"), "'csv:", "missing.csv",
        "does not exist", id="csv-name-missing"),
    row(lambda: zoo.data.info(f"csv:{HERE}"), "'csv:", "has no train.csv",
        id="csv-name-dir-without-files"),
    row(lambda: zoo.data.info(f"csv:{THIS_FILE}"), "'csv:", "line 1 of path=",
        str(THIS_FILE), id="csv-name-not-csv"),
    row(load(f"folder:{HERE / 'missing'}", image_size=0), "image_size=0",
        id="folder-load-image_size-zero"),
    row(load(f"folder:{HERE / 'missing'}", split="validation"), "split='validation'",
        id="folder-load-split-unknown"),
    row(load(f"csv:{HERE / 'missing'}", image_size=8), "image_size=8",
        id="csv-load-foreign-option"),
    row(load(f"csv:{HERE / 'missing'}", validation_fraction=NAN), "validation_fraction=nan",
        id="csv-load-validation_fraction-nan"),
    row(load(f"csv:{HERE / 'missing'}", start_epoch=-1), "start_epoch=-1",
        id="csv-load-start_epoch-negative"),
    row(lambda: zoo.data.from_generator(None, SIGNATURE), "generator_fn=None",
        id="generator-fn-none"),
    row(lambda: zoo.data.from_generator(_examples, None), "output_signature=None",
        id="generator-signature-none"),
    row(lambda: zoo.data.from_generator(_examples, SIGNATURE, shuffle_buffer=0),
        "shuffle_buffer=0", id="generator-shuffle_buffer-zero"),
    row(lambda: zoo.data.from_generator(_examples, SIGNATURE, batch_size=NAN),
        "batch_size=nan", id="generator-batch_size-nan"),
]


@pytest.mark.parametrize("call, fragments", ROWS)
def test_bad_data_argument(call, fragments):
    assert_rejects(call, ValueError, *fragments)
