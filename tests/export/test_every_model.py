"""Every registered model, every format: save here, load in a fresh process,
same outputs (DESIGN.md: a round-trip loads in a fresh process, because an
in-process load can silently reuse registered objects)."""

import json

import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.export

# Max abs difference of the outputs after the round-trip (the bounds),
# scaled by max(1, largest |output|): untrained deep ResNets give logits in the
# thousands, where TFLite's float32 kernels differ from TensorFlow's by ~3e-7
# relative (rounding), above 1e-4 absolute. Every other format is exact here.
TOLERANCE = {"keras": 1e-5, "h5": 1e-5, "weights": 1e-5, "saved_model": 1e-5,
             "tflite": 1e-4}
TARGETS = {"keras": "model.keras", "h5": "model.h5", "weights": "model.weights.h5",
           "saved_model": "saved_model", "tflite": "model.tflite"}
# Whose full round-trip (SavedModel and TFLite conversion of tens of millions
# of parameters) takes more than ~20 s on 2 cores.
SLOW_MODELS = {"resnet101", "resnet152"}

_LOAD_ALL = """
import json, numpy as np, keras
import zoo, zoo.export
folder = {folder!r}
x = np.load(folder + "/x.npy", allow_pickle=True)
expected = np.load(folder + "/expected.npy")
config = json.load(open(folder + "/config.json"))
report = {{}}
for format, target in {targets!r}.items():
    path = folder + "/" + target
    if format == "weights":
        model = keras.saving.deserialize_keras_object(config)
        zoo.export.load_weights(model, path)
    else:
        model = zoo.export.load(path)
    outputs = np.asarray(keras.ops.convert_to_numpy(model(x)), dtype="float32")
    report[format] = {{"shape": list(outputs.shape),
                       "max_diff": float(np.abs(outputs - expected).max()),
                       "type": type(model).__name__,
                       "vocabulary": list(getattr(model, "vocabulary", None) or [])}}
print(json.dumps(report))
"""


def _registered():
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_MODELS else n
            for n in zoo.list_models()]


@pytest.mark.parametrize("name", _registered())
def test_every_format_round_trips_in_a_fresh_process(name, tmp_path):
    model = helpers.small_model(name)
    x = model.example_inputs(batch_size=3, seed=1)
    expected = helpers.to_numpy(model(x, training=False)).astype("float32")
    for format, target in TARGETS.items():
        zoo.export.save(model, tmp_path / target, format=format)
    np.save(tmp_path / "x.npy", x, allow_pickle=True)
    np.save(tmp_path / "expected.npy", expected)
    (tmp_path / "config.json").write_text(json.dumps(keras.saving.serialize_keras_object(model)))

    out = helpers.run_in_fresh_process(_LOAD_ALL.format(folder=str(tmp_path), targets=TARGETS))
    report = json.loads(out.strip().splitlines()[-1])
    assert set(report) == set(TARGETS)
    scale = max(1.0, float(np.abs(expected).max()))
    for format, result in report.items():
        assert result["shape"] == list(expected.shape), (format, result["shape"])
        assert result["max_diff"] < TOLERANCE[format] * scale, (format, result["max_diff"])
    vocabulary = list(getattr(model, "vocabulary", None) or [])
    for format in ("keras", "h5", "weights"):
        assert report[format]["vocabulary"] == vocabulary, format
