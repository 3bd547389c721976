"""TFLite export: float / float16 / int8 files, loaded in a fresh process.

Saved through the dispatcher (`zoo.export.save(model, "m.tflite")`) and
loaded with `zoo.export.load` in a new interpreter (DESIGN.md: an in-process
load can silently reuse registered objects); the fresh process writes its
outputs as `.npy` and this process compares them with Keras.
"""

import json
import shutil
import warnings

import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.data
import zoo.export
from zoo.export import tflite

# Max abs difference from Keras, float files (the bound), relative to
# the output scale when that exceeds 1 (as in helpers.run_model_test): an
# untrained resnet20 with randomized BatchNorm gives logits of 50-110, where
# XNNPACK's summation order alone moved them by up to 7e-5 (1e-6 relative).
FLOAT_ATOL = 1e-4
# float16 weights: the difference scales with the outputs. Measured: resnet20
# logits of ~50 moved by <= 0.025 (5e-4 relative), einsum_mlp and text_rnn
# by ~2e-4 relative; 4x margin.
FLOAT16_RTOL = 2e-3
# int8 on digits (einsum_mlp, 5 epochs, 359 test images): measured drops of
# 0.0 points for seeds 0-3 (one image = 0.28 points); a bound with margin.
INT8_MAX_DROP = 2.0

# Words of varied length, some outside any vocabulary, punctuation and case
# (the standardization must match too).
TEXTS = np.array([
    "the film was good",
    "Bad!",
    "zyzzyva quixotic the plot was very very boring at all, and not great",
    "great acting but the PLOT was not good at all and the film was boring",
], dtype=str)

_LOAD = """
import json, numpy as np
import zoo.export
folder = {folder!r}
report = {{}}
for name in {names!r}:
    model = zoo.export.load(folder + "/" + name + ".tflite")
    x = np.load(folder + "/x.npy")
    np.save(folder + "/" + name + ".out.npy", model(x))
    report[name] = {{
        "type": type(model).__name__,
        "quantization": model.quantization,
        "input_dtype": np.dtype(model.input_details[0]["dtype"]).name,
        "input_signature": [int(d) for d in model.input_details[0]["shape_signature"]],
        "runtime": model.runtime,
        "vocabulary": model.vocabulary,
        "sequence_length": model.sequence_length,
    }}
    if model.vocabulary is not None:
        np.save(folder + "/" + name + ".tokens.npy", model.tokenize(x))
print(json.dumps(report))
"""


def load_in_fresh_process(folder, names, x):
    """Loads `folder/NAME.tflite` for each name in a new interpreter, runs `x`.

    Returns:
        (report dict per name, outputs dict per name).
    """
    np.save(folder / "x.npy", x)
    out = helpers.run_in_fresh_process(_LOAD.format(folder=str(folder), names=list(names)))
    report = json.loads(out.strip().splitlines()[-1])
    outputs = {name: np.load(folder / f"{name}.out.npy") for name in names}
    return report, outputs


def keras_outputs(model, x):
    return helpers.to_numpy(model(x, training=False)).astype("float32")


def text_model(**kwargs):
    kwargs = {"max_tokens": 60, "units": 8, "embedding_dim": 8, **kwargs}
    model = zoo.create_model("text_rnn", **kwargs)
    model.adapt(model.example_inputs(batch_size=8))
    return model


# --------------------------------------------------------------------------
# Round-trips


@pytest.mark.parametrize("name, kwargs", [
    ("resnet20", {"input_shape": (16, 16, 1), "num_classes": 3}),
    ("einsum_mlp", {"input_shape": (8, 8, 1)}),
])
def test_image_models_float_and_float16(name, kwargs, tmp_path):
    keras.utils.set_random_seed(0)
    model = zoo.create_model(name, **kwargs)
    helpers.randomize_batchnorm(model)  # so a lost BN statistic would show
    x = model.example_inputs(batch_size=4, seed=1)
    expected = keras_outputs(model, x)
    zoo.export.save(model, tmp_path / "float.tflite")
    zoo.export.save(model, tmp_path / "half.tflite", quantization="float16")

    report, outputs = load_in_fresh_process(tmp_path, ["float", "half"], x)

    assert report["float"]["type"] == "TFLiteModel"
    assert report["float"]["quantization"] is None
    assert report["half"]["quantization"] == "float16"
    # A dynamic batch: the file runs any batch size natively.
    assert report["float"]["input_signature"] == [-1, *kwargs["input_shape"]]
    assert report["float"]["input_dtype"] == "float32"
    assert outputs["float"].shape == expected.shape
    assert outputs["float"].dtype == np.float32
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(outputs["float"], expected, atol=FLOAT_ATOL * scale, rtol=0)
    np.testing.assert_allclose(outputs["half"], expected, atol=FLOAT16_RTOL * scale, rtol=0)
    float_size = (tmp_path / "float.tflite").stat().st_size
    assert (tmp_path / "half.tflite").stat().st_size < 0.6 * float_size


@pytest.mark.parametrize("head", ["last", "attention"])
def test_text_rnn_float_and_float16_with_its_vocabulary(head, tmp_path):
    keras.utils.set_random_seed(0)
    model = text_model(head=head)
    expected = keras_outputs(model, TEXTS)
    zoo.export.save(model, tmp_path / "float.tflite", sequence_length=24)
    zoo.export.save(model, tmp_path / "half.tflite", quantization="float16",
                    sequence_length=24)

    report, outputs = load_in_fresh_process(tmp_path, ["float", "half"], TEXTS)

    for name in ("float", "half"):
        assert report[name]["vocabulary"] == list(model.vocabulary)
        assert report[name]["sequence_length"] == 24
        # Static batch 1 (a masked BiLSTM only lowers to a builtin WHILE
        # with static shapes); the callable still took a batch of 4.
        assert report[name]["input_signature"] == [1, 24]
        assert report[name]["input_dtype"] == "int32"
        # Same token ids as the Keras model's own TextVectorization (which
        # pads to the batch's longest text; the file pads to 24).
        tokens = np.load(tmp_path / f"{name}.tokens.npy")
        keras_tokens = np.asarray(model.vectorizer(TEXTS))
        assert tokens.shape == (len(TEXTS), 24)
        np.testing.assert_array_equal(tokens[:, :keras_tokens.shape[1]], keras_tokens)
        assert not tokens[:, keras_tokens.shape[1]:].any()
        assert (keras_tokens == 1).any(), "the texts should include OOV words"
    np.testing.assert_allclose(outputs["float"], expected, atol=FLOAT_ATOL, rtol=0)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(outputs["half"], expected, atol=FLOAT16_RTOL * scale, rtol=0)


def test_text_rnn_default_sequence_length_warns_and_is_recorded(tmp_path):
    model = text_model()
    with pytest.warns(UserWarning, match="sequence_length=64"):
        zoo.export.save(model, tmp_path / "m.tflite")
    metadata = tflite.read_metadata(tmp_path / "m.tflite")
    assert metadata["text"] == {
        "vocabulary": list(model.vocabulary),
        "standardize": model.standardize,
        "split": "whitespace",
        "ngrams": model.ngrams,
        "max_tokens": model.max_tokens,
        "sequence_length": 64,
    }
    # Token ids in (batch, time) are accepted too, padded to the file's length.
    lite = zoo.export.load(tmp_path / "m.tflite")
    tokens = np.asarray(model.vectorizer(TEXTS)).astype("int32")
    np.testing.assert_allclose(lite(tokens), keras_outputs(model, TEXTS), atol=FLOAT_ATOL)


def test_text_rnn_model_sequence_length_wins_and_conflicts_fail(tmp_path):
    model = text_model(sequence_length=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "default length" warning
        zoo.export.save(model, tmp_path / "m.tflite")
    assert tflite.read_metadata(tmp_path / "m.tflite")["text"]["sequence_length"] == 12
    with pytest.raises(ValueError, match=r"sequence_length=20 conflicts .* sequence_length=12"):
        zoo.export.save(model, tmp_path / "other.tflite", sequence_length=20)
    assert not (tmp_path / "other.tflite").exists()


# --------------------------------------------------------------------------
# int8


def _digits(split):
    images, labels = [], []
    for x, y in zoo.data.load("digits", split=split, batch_size=64, image_size=8,
                              shuffle=False):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_int8_digits_accuracy_drop_is_small_and_the_file_small(tmp_path):
    keras.utils.set_random_seed(0)
    model = zoo.create_model("einsum_mlp", num_classes=10, input_shape=(8, 8, 1))
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(zoo.data.load("digits", split="train", batch_size=64, image_size=8),
              epochs=5, shuffle=False, verbose=0)  # the dataset shuffles itself
    train_images, _ = _digits("train")
    test_images, test_labels = _digits("test")
    keras_accuracy = float((keras_outputs(model, test_images).argmax(-1) == test_labels).mean())
    assert keras_accuracy > 0.9, keras_accuracy  # trained, or the comparison says nothing

    zoo.export.save(model, tmp_path / "float.tflite")
    zoo.export.save(model, tmp_path / "int8.tflite", quantization="int8",
                    representative_data=train_images[:200])
    zoo.export.save(model, tmp_path / "int8_io.tflite", quantization="int8",
                    representative_data=train_images[:200], int8_io=True)

    report, outputs = load_in_fresh_process(
        tmp_path, ["float", "int8", "int8_io"], test_images)

    assert report["int8"]["quantization"] == "int8"
    assert report["int8"]["input_dtype"] == "float32"  # int8 inside, float I/O
    assert report["int8_io"]["input_dtype"] == "int8"
    accuracy = {name: float((out.argmax(-1) == test_labels).mean())
                for name, out in outputs.items()}
    assert abs(accuracy["float"] - keras_accuracy) <= 1 / len(test_labels)
    for name in ("int8", "int8_io"):
        drop = 100 * (keras_accuracy - accuracy[name])
        assert drop <= INT8_MAX_DROP, (name, accuracy, keras_accuracy)
        assert outputs[name].dtype == np.float32
    # The same quantized graph whether the I/O is int8 or float.
    np.testing.assert_allclose(outputs["int8_io"], outputs["int8"], atol=0.3)
    float_size = (tmp_path / "float.tflite").stat().st_size
    assert (tmp_path / "int8.tflite").stat().st_size < 0.4 * float_size


def test_int8_without_representative_data_warns_and_runs(tmp_path):
    model = zoo.create_model("einsum_mlp", input_shape=(8, 8, 1), hidden_units=(16,))
    with pytest.warns(UserWarning, match="without representative_data"):
        zoo.export.save(model, tmp_path / "m.tflite", quantization="int8")
    lite = zoo.export.load(tmp_path / "m.tflite")
    x = model.example_inputs(batch_size=5)
    assert lite(x).shape == (5, 10)
    assert lite.quantization == "int8"


def test_int8_text_rnn_is_refused(tmp_path):
    model = text_model()
    with pytest.raises(ValueError, match=r"quantization='int8' is not available .*float16"):
        zoo.export.save(model, tmp_path / "m.tflite", quantization="int8",
                        representative_data=TEXTS, sequence_length=16)
    assert not (tmp_path / "m.tflite").exists()


def test_unknown_quantization_fails_and_writes_nothing(tmp_path):
    model = zoo.create_model("einsum_mlp", input_shape=(8,), hidden_units=(4,))
    with pytest.raises(ValueError, match=r"quantization=.*'int4'"):
        zoo.export.save(model, tmp_path / "m.tflite", quantization="int4")
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_and_misplaced_options_fail(tmp_path):
    model = zoo.create_model("einsum_mlp", input_shape=(8,), hidden_units=(4,))
    with pytest.raises(ValueError, match=r"Unknown tflite option\(s\) \['quantisation'\]"):
        zoo.export.save(model, tmp_path / "m.tflite", quantisation="int8")
    with pytest.raises(ValueError, match=r"int8_io=True needs quantization='int8'"):
        zoo.export.save(model, tmp_path / "m.tflite", int8_io=True)
    with pytest.raises(ValueError, match=r"sequence_length applies to text models"):
        zoo.export.save(model, tmp_path / "m.tflite", sequence_length=8)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Shapes


def test_unknown_spatial_size_needs_input_shape(tmp_path):
    model = zoo.create_model("resnet20", num_classes=2, input_shape=(None, None, 1))
    with pytest.raises(ValueError, match=r"fixed input shape.*input_shape="):
        zoo.export.save(model, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match=r"input_shape must be"):
        zoo.export.save(model, tmp_path / "m.tflite", input_shape=(8, 8, 3))
    zoo.export.save(model, tmp_path / "m.tflite", input_shape=(8, 8, 1))
    lite = zoo.export.load(tmp_path / "m.tflite")
    x = model.example_inputs(batch_size=3, unknown_dim=8)
    expected = keras_outputs(model, x)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(lite(x), expected, atol=FLOAT_ATOL * scale, rtol=0)
    with pytest.raises(ValueError, match=r"takes inputs of shape \(batch, 8, 8, 1\)"):
        lite(model.example_inputs(batch_size=1, unknown_dim=9))
    assert lite(x[:0]).shape == (0, 2)


# --------------------------------------------------------------------------
# Not a (valid) TFLite file


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    model = zoo.create_model("einsum_mlp", input_shape=(8, 8, 1), hidden_units=(16,))
    path = tmp_path_factory.mktemp("tflite") / "good.tflite"
    zoo.export.save(model, path)
    return path, model


def _assert_rejected(path):
    with pytest.raises(ValueError) as info:
        zoo.export.load(path)
    message = str(info.value)
    assert str(path) in message and "TFLite" in message, message
    return message


def test_truncated_file_is_rejected(good_file, tmp_path):
    good, _ = good_file
    data = good.read_bytes()
    for size in (0, 6, 100, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{size}.tflite"
        path.write_bytes(data[:size])
        _assert_rejected(path)


def test_corrupt_bytes_are_rejected(good_file, tmp_path):
    good, _ = good_file
    data = bytearray(good.read_bytes())
    # Bytes in the middle of the weights: the flatbuffer verifier accepts
    # this file, the stored SHA-256 does not.
    middle = len(data) // 2
    data[middle:middle + 4] = bytes(255 - b for b in data[middle:middle + 4])
    path = tmp_path / "flipped.tflite"
    path.write_bytes(bytes(data))
    assert "SHA-256" in _assert_rejected(path)

    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00" * 4 + b"TFL3" + np.random.default_rng(0).bytes(4000))
    _assert_rejected(garbage)


def test_other_formats_renamed_to_tflite_are_rejected(good_file, tmp_path):
    _, model = good_file
    model.save_weights(tmp_path / "w.weights.h5")  # an HDF5 file
    shutil.copy(tmp_path / "w.weights.h5", tmp_path / "h5.tflite")
    assert "TFL3" in _assert_rejected(tmp_path / "h5.tflite")
    (tmp_path / "text.tflite").write_text("not a model at all\n")
    _assert_rejected(tmp_path / "text.tflite")
