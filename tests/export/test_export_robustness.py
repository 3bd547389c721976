"""Files that lie, threads, and saves killed at the worst moment.

- Integrity: bytes flipped inside a weight of a zoo `.h5` or `.weights.h5`
  fail the load, naming the file and the weight (HDF5 itself does not
  notice: they loaded as numbers off by up to 4e27).
- Threads: SavedModel, `.keras` and TFLite models called from 8 threads
  give exactly the sequential results.
- Interrupted saves: a kill between the two renames of a SavedModel swap,
  and a kill mid-write, leave a loadable model and no scratch after the
  next save.
"""

import os
import pathlib
import subprocess
import sys
import threading
import warnings

import h5py
import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.export
from zoo.export import _atomic

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def small_resnet(seed=0):
    keras.utils.set_random_seed(seed)
    return zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))


def small_mlp(seed=0):
    keras.utils.set_random_seed(seed)
    return zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,), hidden_units=(4,))


def dead_pid():
    """The id of a process that has exited (a killed save's, for scratch names)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --------------------------------------------------------------------------
# Integrity


@pytest.fixture(scope="module")
def model():
    return small_resnet()


def _flip_32_bytes(path, dataset_name):
    """Inverts 32 bytes in the middle of one dataset's raw data, as a bad disk would."""
    with h5py.File(path, "r") as file:
        dataset = file[dataset_name]
        offset = dataset.id.get_offset() + dataset.id.get_storage_size() // 2 - 16
    data = bytearray(path.read_bytes())
    data[offset:offset + 32] = bytes(255 - b for b in data[offset:offset + 32])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, dataset, weight", [
    ("m.h5", "weights/00000", "resnet20/stem_conv/conv/kernel"),
    ("m.weights.h5", "layers/conv_bn/conv/vars/0", "layers/conv_bn/conv/vars/0"),
], ids=["zoo_h5", "weights_h5"])
def test_flipped_bytes_in_a_weight_fail_naming_file_and_weight(model, tmp_path, name, dataset,
                                                               weight):
    path = zoo.export.save(model, tmp_path / name)
    with h5py.File(path, "r") as file:
        assert file[dataset].attrs.get("path", weight) == weight
    _flip_32_bytes(path, dataset)
    fresh = small_resnet(seed=1)
    message = helpers.assert_rejects(lambda: zoo.export.load_weights(fresh, path), ValueError,
                                     repr(str(path)), repr(weight), "SHA-256")
    assert "corrupt" in message
    if name == "m.h5":
        helpers.assert_rejects(lambda: zoo.export.load(path), ValueError, repr(weight))


def test_zoo_weights_file_still_loads_in_plain_keras(model, tmp_path):
    path = zoo.export.save(model, tmp_path / "m.weights.h5")
    fresh = small_resnet(seed=1)
    fresh.load_weights(path)  # Keras ignores the zoo's checksum attributes
    x = model.example_inputs(batch_size=2)
    np.testing.assert_array_equal(helpers.to_numpy(fresh(x)), helpers.to_numpy(model(x)))


def test_plain_keras_weights_load_with_one_warning(model, tmp_path):
    path = tmp_path / "plain.weights.h5"
    model.save_weights(path)  # no zoo checksums
    fresh = small_resnet(seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo.export.load_weights(fresh, path)
    said = [str(w.message) for w in caught if "checksums" in str(w.message)]
    assert len(said) == 1 and "plain.weights.h5" in said[0] and "unverified" in said[0]
    x = model.example_inputs(batch_size=2)
    np.testing.assert_array_equal(helpers.to_numpy(fresh(x)), helpers.to_numpy(model(x)))


def test_weights_of_another_shape_name_the_weight_and_both_shapes(model, tmp_path):
    path = zoo.export.save(model, tmp_path / "m.weights.h5")
    other = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 1))
    helpers.assert_rejects(lambda: zoo.export.load_weights(other, path), ValueError,
                           "m.weights.h5", "'classifier/vars/0'", "(64, 3)", "(64, 5)")


# --------------------------------------------------------------------------
# Threads


@pytest.fixture(scope="module")
def served_three_ways(tmp_path_factory, model):
    folder = tmp_path_factory.mktemp("threads")
    return {
        "saved_model": zoo.export.load(zoo.export.save(model, folder / "sm")),
        "keras": zoo.export.load(zoo.export.save(model, folder / "m.keras")),
        "tflite": zoo.export.load(zoo.export.save(model, folder / "m.tflite")),
    }


@pytest.mark.parametrize("format", ["saved_model", "keras", "tflite"])
def test_eight_threads_get_exactly_the_sequential_results(served_three_ways, format):
    served = served_three_ways[format]
    inputs = [np.random.default_rng(i).random((2, 16, 16, 1)).astype("float32")
              for i in range(8)]
    expected = [helpers.to_numpy(served(x)) for x in inputs]
    failures = []

    def work(index):
        for _ in range(50 if format == "tflite" else 3):
            try:
                got = helpers.to_numpy(served(inputs[index]))
                if not np.array_equal(got, expected[index]):
                    failures.append(f"thread {index}: differs by "
                                    f"{np.abs(got - expected[index]).max()}")
            except Exception as error:  # noqa: BLE001 -- every failure is the finding
                failures.append(f"thread {index}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    if format == "tflite":
        assert served.delegate == "xnnpack"  # not dropped on a concurrency error


# --------------------------------------------------------------------------
# Interrupted saves

_KILLED_SWAP = """
import os, keras, zoo, zoo.export
from zoo.export import _atomic
keras.utils.set_random_seed(1)
model = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,), hidden_units=(4,))
real_replace = os.replace
def replace_then_die(source, target):
    real_replace(source, target)
    if ".old-" in str(target):  # the old export is aside, the new one not yet in
        os._exit(9)
_atomic.os.replace = replace_then_die
zoo.export.save(model, {path!r}, overwrite=True)
"""


def test_a_kill_between_the_two_renames_leaves_a_loadable_model(tmp_path):
    old = small_mlp(seed=0)
    target = zoo.export.save(old, tmp_path / "sm")
    x = old.example_inputs(batch_size=2)
    expected = helpers.to_numpy(old(x))
    child = subprocess.run([sys.executable, "-c", _KILLED_SWAP.format(path=str(target))],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 9, child.stderr[-3000:]
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if ".old-" in p.name]  # the kept old copy
    np.testing.assert_allclose(zoo.export.load(target)(x), expected, atol=1e-5, rtol=0)
    assert target.is_dir()  # put back in place, not just read aside
    zoo.export.save(old, target, overwrite=True)  # the next save clears the dead scratch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


def test_versioned_layout_recovers_a_version_left_aside(tmp_path):
    model = small_mlp(seed=0)
    version = zoo.export.save(model, tmp_path / "served", version=3)
    os.rename(version, version.with_name(f".3.old-{dead_pid()}"))  # a killed swap
    served = zoo.export.load(tmp_path / "served")
    assert served.version == 3
    x = model.example_inputs(batch_size=2)
    np.testing.assert_allclose(served(x), helpers.to_numpy(model(x)), atol=1e-5, rtol=0)


def test_stale_scratch_of_a_dead_save_is_removed_and_a_live_one_kept(tmp_path):
    model = small_mlp(seed=0)
    stale = tmp_path / f".m.h5.{dead_pid()}.abcd1234.partial"
    stale.mkdir()
    (stale / "m.h5").write_bytes(b"half a file")
    live = tmp_path / f".m.h5.{os.getppid()}.efgh5678.partial"  # a running process
    live.mkdir()
    zoo.export.save(model, tmp_path / "m.h5")
    assert not stale.exists()
    assert live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.h5", live.name])


def test_replacing_names_scratch_after_the_process(tmp_path):
    with _atomic.replacing(tmp_path / "m.h5") as scratch:
        assert scratch.parent.name.startswith(f".m.h5.{os.getpid()}.")
        assert scratch.parent.name.endswith(".partial")
        scratch.write_bytes(b"x")
    assert (tmp_path / "m.h5").read_bytes() == b"x"


# --------------------------------------------------------------------------
# Overwrite never deletes what is not a model


def test_overwrite_refuses_a_users_directory_and_deletes_nothing(model, tmp_path):
    folder = tmp_path / "somedir"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    helpers.assert_rejects(lambda: zoo.export.save(model, folder, overwrite=True), ValueError,
                           repr(str(folder)), "not a SavedModel", "nothing was deleted")
    assert (folder / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_a_versioned_layout(tmp_path):
    first, second = small_mlp(seed=0), small_mlp(seed=1)
    zoo.export.save(first, tmp_path / "served", version=1)
    zoo.export.save(second, tmp_path / "served", overwrite=True)  # the whole layout
    x = first.example_inputs(batch_size=2)
    np.testing.assert_allclose(zoo.export.load(tmp_path / "served")(x),
                               helpers.to_numpy(second(x)), atol=1e-5, rtol=0)


def test_error_messages_name_the_target_not_the_scratch(tmp_path, monkeypatch):
    from zoo.export import keras_formats

    def failing_save(model, path, **options):
        raise ValueError(f"cannot write {path}")

    monkeypatch.setattr(keras_formats.H5, "save", staticmethod(failing_save))
    message = helpers.assert_rejects(
        lambda: zoo.export.save(small_mlp(), tmp_path / "m.h5"), ValueError,
        str(tmp_path / "m.h5"))
    assert ".partial" not in message
    assert list(tmp_path.iterdir()) == []
