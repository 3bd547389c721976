"""`.keras`, whole-model `.h5`, `.weights.h5`: round-trips, bad files, atomic saves."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.export


def small_resnet(seed=0):
    keras.utils.set_random_seed(seed)
    return zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))


def small_text_rnn():
    model = zoo.create_model("text_rnn", max_tokens=60, units=8, embedding_dim=8)
    model.adapt(model.example_inputs(batch_size=16))
    return model


# --------------------------------------------------------------------------
# Format names


@pytest.mark.parametrize("path, format", [
    ("m.keras", "keras"), ("m.h5", "h5"), ("m.hdf5", "h5"), ("m.weights.h5", "weights"),
    ("M.WEIGHTS.H5", "weights"), ("m.tflite", "tflite"), ("export_dir", "saved_model"),
])
def test_format_from_path(path, format):
    assert zoo.export.format_from_path(path) == format


def test_unknown_suffix_and_format_are_errors_naming_them(tmp_path):
    with pytest.raises(ValueError, match=r"m\.zip.*'\.zip'"):
        zoo.export.save(small_resnet(), tmp_path / "m.zip")
    with pytest.raises(ValueError, match="format must be one of.*received format='onnx'"):
        zoo.export.save(small_resnet(), tmp_path / "m.keras", format="onnx")
    with pytest.raises(ValueError, match="format must be one of.*'pt'"):
        zoo.export.load(tmp_path / "m.keras", format="pt")


# --------------------------------------------------------------------------
# Round-trips in a fresh process


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("build", [small_resnet, small_text_rnn], ids=["resnet20", "text_rnn"])
def test_whole_model_round_trip_in_fresh_process(tmp_path, suffix, build):
    model = build()
    x = model.example_inputs(batch_size=4, seed=3)
    expected = helpers.to_numpy(model(x))
    path = zoo.export.save(model, tmp_path / f"model{suffix}")
    np.save(tmp_path / "x.npy", x, allow_pickle=True)
    out = helpers.run_in_fresh_process(f"""
import json, numpy as np, keras, zoo.export
model = zoo.export.load({str(path)!r})
x = np.load({str(tmp_path / "x.npy")!r}, allow_pickle=True)
print(json.dumps({{"y": keras.ops.convert_to_numpy(model(x)).tolist(),
                  "type": type(model).__name__,
                  "vocabulary": list(getattr(model, "vocabulary", None) or [])}}))
""")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["type"] == type(model).__name__
    np.testing.assert_allclose(np.array(result["y"]), expected, atol=1e-5, rtol=0)
    assert result["vocabulary"] == list(getattr(model, "vocabulary", None) or [])


def test_h5_holds_config_and_every_weight_by_path(tmp_path):
    model = small_text_rnn()
    path = zoo.export.save(model, tmp_path / "m.h5")
    with h5py.File(path, "r") as file:
        assert file.attrs["zoo_format"] == "zoo.h5"
        config = json.loads(file["config"][()].decode())
        paths = [file["weights"][k].attrs["path"] for k in sorted(file["weights"])]
    assert config["config"]["vocabulary"] == list(model.vocabulary)
    assert paths == [w.path for w in model.weights]


def test_weights_file_loads_into_a_fresh_model(tmp_path):
    model = small_resnet(seed=0)
    path = zoo.export.save(model, tmp_path / "m.weights.h5")
    fresh = small_resnet(seed=1)
    x = model.example_inputs(batch_size=2)
    assert not np.allclose(helpers.to_numpy(fresh(x)), helpers.to_numpy(model(x)))
    zoo.export.load_weights(fresh, path)
    np.testing.assert_array_equal(helpers.to_numpy(fresh(x)), helpers.to_numpy(model(x)))
    with pytest.raises(ValueError, match="weights only.*load_weights"):
        zoo.export.load(path)


def test_weights_from_a_whole_model_h5(tmp_path):
    model = small_resnet(seed=0)
    path = zoo.export.save(model, tmp_path / "m.h5")
    fresh = small_resnet(seed=1)
    zoo.export.load_weights(fresh, path)
    for a, b in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(helpers.to_numpy(a), helpers.to_numpy(b))


def test_weights_of_another_architecture_are_rejected_before_any_assignment(tmp_path):
    path = zoo.export.save(small_resnet(), tmp_path / "m.h5")
    other = zoo.create_model("resnet20", num_classes=7, input_shape=(16, 16, 1))
    before = [helpers.to_numpy(w).copy() for w in other.weights]
    with pytest.raises(ValueError, match=r"m\.h5.*do not fit model"):
        zoo.export.load_weights(other, path)
    for value, weight in zip(before, other.weights):
        np.testing.assert_array_equal(value, helpers.to_numpy(weight))


# --------------------------------------------------------------------------
# Existing targets and unbuilt models


def test_existing_path_needs_overwrite(tmp_path):
    model = small_resnet()
    path = zoo.export.save(model, tmp_path / "m.h5")
    with pytest.raises(FileExistsError, match=r"m\.h5.*overwrite=True"):
        zoo.export.save(model, path)
    other = small_resnet(seed=5)
    zoo.export.save(other, path, overwrite=True)
    x = model.example_inputs()
    np.testing.assert_array_equal(helpers.to_numpy(zoo.export.load(path)(x)),
                                  helpers.to_numpy(other(x)))
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]  # no scratch left behind


def test_unbuilt_model_is_refused(tmp_path):
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"m\.keras.*not built"):
        zoo.export.save(unbuilt, tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("kwargs", [{"version": 1}, {"quantization": "int8"}])
def test_options_a_format_does_not_take(tmp_path, kwargs):
    with pytest.raises(ValueError, match="takes no options"):
        zoo.export.save(small_resnet(), tmp_path / "m.h5", **kwargs)


# --------------------------------------------------------------------------
# Truncated, corrupt and mislabelled files


@pytest.fixture()
def saved_files(tmp_path):
    model = small_resnet()
    return {
        "keras": zoo.export.save(model, tmp_path / "good.keras"),
        "h5": zoo.export.save(model, tmp_path / "good.h5"),
        "weights": zoo.export.save(model, tmp_path / "good.weights.h5"),
    }


@pytest.mark.parametrize("format", ["keras", "h5"])
def test_truncated_file_is_a_clear_error(tmp_path, saved_files, format):
    good = saved_files[format]
    bad = tmp_path / f"truncated{good.suffix}"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"truncated{good.suffix}.*(truncated|corrupt)"):
        zoo.export.load(bad)


@pytest.mark.parametrize("format", ["keras", "h5"])
def test_garbage_file_is_a_clear_error(tmp_path, format):
    bad = tmp_path / f"garbage.{format}"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match=rf"garbage\.{format}"):
        zoo.export.load(bad)


def test_file_of_another_format_names_the_expected_one(tmp_path, saved_files):
    renamed = tmp_path / "actually_keras.h5"
    renamed.write_bytes(saved_files["keras"].read_bytes())
    with pytest.raises(ValueError, match=r"actually_keras\.h5.*HDF5"):
        zoo.export.load(renamed)
    renamed = tmp_path / "actually_h5.keras"
    renamed.write_bytes(saved_files["h5"].read_bytes())
    with pytest.raises(ValueError, match=r"actually_h5\.keras.*\.keras file"):
        zoo.export.load(renamed)
    # A Keras .weights.h5 (HDF5 but no architecture) named .h5.
    renamed = tmp_path / "weights_only.h5"
    renamed.write_bytes(saved_files["weights"].read_bytes())
    with pytest.raises(ValueError, match=r"weights_only\.h5.*not a zoo \.h5 model"):
        zoo.export.load(renamed)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.keras"):
        zoo.export.load(tmp_path / "nothing.keras")


# --------------------------------------------------------------------------
# Atomic saves: a killed save leaves the previous file intact


_KILLED_SAVE = """
import sys, time, keras, zoo, zoo.export
from zoo.export import keras_formats
keras.utils.set_random_seed(7)
model = zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))
calls = {{"n": 0}}
original = keras.ops.convert_to_numpy
def slow_convert(value):
    calls["n"] += 1
    if calls["n"] == 20:  # some weights are written, most are not
        print("MIDWAY", flush=True)
        time.sleep(600)
    return original(value)
keras.ops.convert_to_numpy = slow_convert
zoo.export.save(model, {path!r}, overwrite=True)
"""


def test_a_save_killed_mid_write_leaves_the_old_file_loadable(tmp_path):
    model = small_resnet(seed=0)
    path = zoo.export.save(model, tmp_path / "m.h5")
    x = model.example_inputs(batch_size=2)
    expected = helpers.to_numpy(model(x))
    old_bytes = path.read_bytes()

    child = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE.format(path=str(path))],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             cwd=pathlib.Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "MIDWAY" not in line and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line and child.poll() is not None:
                break
        assert "MIDWAY" in line, "the child never reached the middle of its save"
        partial = [p for p in tmp_path.glob(".m.h5.*.partial/m.h5")]
        assert partial and partial[0].stat().st_size > 0  # really mid-write
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(helpers.to_numpy(zoo.export.load(path)(x)), expected)
    # The killed save's scratch carries its dead pid: the next save removes it.
    zoo.export.save(model, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]
