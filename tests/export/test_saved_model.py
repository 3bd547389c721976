"""SavedModel export: fresh-process round-trips, the signature TF Serving sees,
versioned layouts, atomic replacement and bad directories."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import helpers
import zoo
import zoo.export
from zoo.export import saved_model

ATOL = 1e-5


def small_resnet(seed=0):
    keras.utils.set_random_seed(seed)
    return zoo.create_model("resnet20", num_classes=3, input_shape=(16, 16, 1))


def small_mlp(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,),
                            hidden_units=(4,), **kwargs)


def small_text_rnn(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = zoo.create_model("text_rnn", num_classes=3, max_tokens=60, units=8,
                             embedding_dim=8, **kwargs)
    if model.input_mode == "string":
        model.adapt(model.example_inputs(batch_size=8))
    return model


def predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def as_npy(x):
    # Texts as a unicode array: np.load reads it without pickle.
    return x.astype(str) if x.dtype == object else x


# --------------------------------------------------------------------------
# Round-trips in a fresh process, and the signature saved_model_cli shows

# (build, input name, dtype in the SignatureDef, shape after the batch dim)
CASES = {
    "resnet20": (small_resnet, "images", "DT_FLOAT", (16, 16, 1)),
    "einsum_mlp": (small_mlp, "features", "DT_FLOAT", (8,)),
    "text_rnn": (small_text_rnn, "text", "DT_STRING", ()),
}

FRESH_LOAD = """
import json, sys, numpy as np, zoo.export
out = {}
for name in sys.argv[2:] or ["sm", "served"]:
    served = zoo.export.load(f"{sys.argv[1]}/{name}")
    x = np.load(f"{sys.argv[1]}/x.npy")
    np.save(f"{sys.argv[1]}/y_{name}.npy", served(x))
    out[name] = {"type": type(served).__name__, "input_name": served.input_name,
                 "dtype": served.input_spec.dtype.name, "output_name": served.output_name,
                 "version": served.version}
print(json.dumps(out))
"""


def run_fresh_load(directory, *names):
    # helpers.run_in_fresh_process runs `python -c`; argv is passed through
    # a tiny wrapper so the code stays a constant string.
    code = (f"import sys; sys.argv = ['-c', {str(directory)!r}, *{list(names)!r}]\n"
            + FRESH_LOAD)
    stdout = helpers.run_in_fresh_process(code)
    return json.loads(stdout.strip().splitlines()[-1])


def saved_model_cli_show(directory):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    command = ([str(cli)] if cli.exists()
               else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"])
    result = subprocess.run(command + ["show", "--dir", str(directory), "--all"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def serving_default_block(cli_output):
    match = re.search(r"signature_def\['serving_default'\]:\n(.*?)Method name is",
                      cli_output, re.S)
    assert match, f"no serving_default signature in:\n{cli_output[:3000]}"
    return match[1]


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_in_fresh_process_and_cli_signature(tmp_path, name):
    build, input_name, dtype, inner_shape = CASES[name]
    model = build()
    x = model.example_inputs(batch_size=4)
    expected = predict(model, x)
    np.save(tmp_path / "x.npy", as_npy(x))

    assert zoo.export.save(model, tmp_path / "sm", format="saved_model") == tmp_path / "sm"
    written = zoo.export.save(model, tmp_path / "served", format="saved_model", version=1)
    assert written == tmp_path / "served" / "1"
    assert (written / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served", "sm", "x.npy"], (
        "scratch directories left behind")
    assert [p.name for p in (tmp_path / "served").iterdir()] == ["1"]

    info = run_fresh_load(tmp_path)
    for key in ("sm", "served"):
        got = np.load(tmp_path / f"y_{key}.npy")
        assert got.shape == expected.shape
        # Scaled as helpers.EXPORT_TOLERANCE is: a folded BatchNorm rounds
        # differently, and oneDNN's AVX-512 kernels gave 2.1e-5 on logits ~3.
        assert np.abs(got - expected).max() < ATOL * max(1.0, np.abs(expected).max()), key
        assert info[key]["type"] == "ServingModel"
        assert info[key]["input_name"] == input_name
        assert info[key]["output_name"] == "logits"
    assert info["sm"]["version"] is None and info["served"]["version"] == 1
    assert info["sm"]["dtype"] == ("string" if dtype == "DT_STRING" else "float32")

    block = serving_default_block(saved_model_cli_show(tmp_path / "served" / "1"))
    shape = "(" + ", ".join(str(d) for d in (-1, *inner_shape)) + ")"
    assert re.search(rf"inputs\['{input_name}'\] tensor_info:\s+dtype: {dtype}\s+"
                     rf"shape: {re.escape(shape)}", block), block
    assert re.search(r"outputs\['logits'\] tensor_info:\s+dtype: DT_FLOAT\s+"
                     r"shape: \(-1, 3\)", block), block


def test_text_vocabulary_travels_without_the_python_model(tmp_path):
    """Unknown words, padding-heavy batches and one lone string agree with
    Keras after a fresh-process load: the lookup table is in the SavedModel."""
    model = small_text_rnn()
    texts = np.array(["the film was good", "zzz qqq unknown words",
                      "bad", "", "THE Film, was... GOOD!"], dtype=object)
    expected = predict(model, texts)
    np.save(tmp_path / "x.npy", as_npy(texts))
    zoo.export.save(model, tmp_path / "sm")
    run_fresh_load(tmp_path, "sm")
    assert np.abs(np.load(tmp_path / "y_sm.npy") - expected).max() < ATOL
    # The same text, whatever its batch: the standardization happened inside.
    served = zoo.export.load(tmp_path / "sm")
    np.testing.assert_allclose(served("the film was good"), expected[:1], atol=ATOL, rtol=0)
    np.testing.assert_allclose(served(["the film was good"]), expected[-1:], atol=ATOL, rtol=0)


# --------------------------------------------------------------------------
# Signature details


def test_output_is_named_after_what_the_model_returns(tmp_path):
    assert saved_model.output_name(small_mlp()) == "logits"
    assert saved_model.output_name(small_mlp(classifier_activation="linear")) == "logits"
    assert saved_model.output_name(small_mlp(classifier_activation="sigmoid")) == \
        "probabilities"
    assert saved_model.output_name(small_mlp(classifier_activation="relu")) == "predictions"

    model = small_mlp(classifier_activation="softmax")
    x = model.example_inputs(batch_size=3)
    served = zoo.export.load(zoo.export.save(model, tmp_path / "sm"))
    assert served.output_names == ("probabilities",)
    np.testing.assert_allclose(served(x).sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(served(x), predict(model, x), atol=ATOL, rtol=0)


def test_image_mlp_and_token_inputs(tmp_path):
    keras.utils.set_random_seed(0)
    images = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8, 8, 1),
                              hidden_units=(4,))
    served = zoo.export.load(zoo.export.save(images, tmp_path / "images"))
    assert served.input_name == "images"
    assert tuple(served.input_spec.shape) == (None, 8, 8, 1)

    tokens = small_text_rnn(input_mode="tokens")
    x = tokens.example_inputs(batch_size=3)
    served = zoo.export.load(zoo.export.save(tokens, tmp_path / "tokens"))
    assert served.input_name == "tokens" and served.input_spec.dtype.name == "int32"
    assert tuple(served.input_spec.shape) == (None, None)
    # int64 ids are cast to the signature's int32.
    np.testing.assert_allclose(served(x.astype("int64")), predict(tokens, x),
                               atol=ATOL, rtol=0)


def test_serving_model_inputs(tmp_path):
    model = small_mlp()
    x = model.example_inputs(batch_size=2)
    served = zoo.export.load(zoo.export.save(model, tmp_path / "sm"))
    expected = predict(model, x)
    assert "features" in repr(served) and "logits" in repr(served)
    # float64 arrays, nested lists, tensors and a dict keyed by the input name.
    for inputs in (x.astype("float64"), x.tolist(), keras.ops.convert_to_tensor(x),
                   {"features": x}):
        np.testing.assert_allclose(served(inputs), expected, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match=r"'features' takes shape \(None, 8\).*\(2, 5\)"):
        served(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="'features' takes float32 values, received strings"):
        served([["a"] * 8])
    with pytest.raises(ValueError, match="keyed by 'features'.*'images'"):
        served({"images": x})


def test_string_model_rejects_numbers(tmp_path):
    model = small_text_rnn()
    served = zoo.export.load(zoo.export.save(model, tmp_path / "sm"))
    with pytest.raises(ValueError, match="'text' takes strings, received float"):
        served([1.0, 2.0])


# --------------------------------------------------------------------------
# Versions and options


def test_target_path_and_bad_versions(tmp_path):
    assert saved_model.target_path(tmp_path / "m") == tmp_path / "m"
    assert saved_model.target_path(tmp_path / "m", version=7) == tmp_path / "m" / "7"
    for bad in (0, -1, True, "1", 1.5):
        with pytest.raises(ValueError, match=rf"version=.*{re.escape(repr(bad))}"):
            saved_model.target_path(tmp_path / "m", version=bad)
        with pytest.raises(ValueError, match=rf"version=.*{re.escape(repr(bad))}"):
            zoo.export.save(small_mlp(), tmp_path / "m", format="saved_model", version=bad)
    assert not (tmp_path / "m").exists()


def test_unknown_option_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="quantization"):
        zoo.export.save(small_mlp(), tmp_path / "sm", format="saved_model",
                        quantization="int8")
    assert list(tmp_path.iterdir()) == [], "a failed save left files behind"


def test_highest_version_is_loaded(tmp_path):
    first, second = small_mlp(seed=0), small_mlp(seed=1)
    x = first.example_inputs(batch_size=2)
    zoo.export.save(first, tmp_path / "m", version=1)
    zoo.export.save(second, tmp_path / "m", version=2)
    (tmp_path / "m" / "notes").mkdir()  # ignored: not a version number
    served = zoo.export.load(tmp_path / "m")
    assert served.version == 2 and served.path == tmp_path / "m" / "2"
    np.testing.assert_allclose(served(x), predict(second, x), atol=ATOL, rtol=0)
    np.testing.assert_allclose(zoo.export.load(tmp_path / "m" / "1")(x), predict(first, x),
                               atol=ATOL, rtol=0)


def test_model_without_vocabulary_is_refused(tmp_path):
    model = zoo.create_model("text_rnn", max_tokens=60, units=8, embedding_dim=8)
    with pytest.raises(ValueError, match="no vocabulary"):
        zoo.export.save(model, tmp_path / "sm", format="saved_model")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Overwriting and atomic replacement


def test_existing_directory_needs_overwrite(tmp_path):
    first, second = small_mlp(seed=0), small_mlp(seed=1)
    x = first.example_inputs(batch_size=2)
    zoo.export.save(first, tmp_path / "sm")
    zoo.export.save(first, tmp_path / "served", version=1)
    with pytest.raises(FileExistsError, match=re.escape(repr(str(tmp_path / "sm")))):
        zoo.export.save(second, tmp_path / "sm")
    with pytest.raises(FileExistsError, match=re.escape(repr(str(tmp_path / "served" / "1")))):
        zoo.export.save(second, tmp_path / "served", version=1)
    np.testing.assert_allclose(zoo.export.load(tmp_path / "sm")(x), predict(first, x),
                               atol=ATOL, rtol=0)

    zoo.export.save(second, tmp_path / "sm", overwrite=True)
    np.testing.assert_allclose(zoo.export.load(tmp_path / "sm")(x), predict(second, x),
                               atol=ATOL, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served", "sm"]


def test_failed_overwrite_keeps_the_old_export(tmp_path, monkeypatch):
    old, new = small_mlp(seed=0), small_mlp(seed=1)
    x = old.example_inputs(batch_size=2)
    zoo.export.save(old, tmp_path / "sm")
    real_save = saved_model.save

    def save_then_crash(model, path, **options):
        real_save(model, path, **options)  # a complete export ...
        pb = pathlib.Path(path) / "saved_model.pb"
        pb.write_bytes(pb.read_bytes()[:100])  # ... then a torn write
        raise OSError("disk full")

    monkeypatch.setattr(saved_model, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        zoo.export.save(new, tmp_path / "sm", overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        zoo.export.save(new, tmp_path / "served", version=1)
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["served", "sm"], (
        "scratch directories left behind")
    assert list((tmp_path / "served").iterdir()) == []
    np.testing.assert_allclose(zoo.export.load(tmp_path / "sm")(x), predict(old, x),
                               atol=ATOL, rtol=0)


# --------------------------------------------------------------------------
# Bad directories


@pytest.fixture(scope="module")
def good_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "sm"
    zoo.export.save(small_mlp(), path)
    return path


def _copy(source, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_saved_model_pb_is_a_value_error(good_export, tmp_path, damage):
    path = _copy(good_export, tmp_path)
    pb = path / "saved_model.pb"
    data = {"truncated": pb.read_bytes()[: pb.stat().st_size // 2],
            "garbage": b"not a protobuf " * 40, "empty": b""}[damage]
    pb.write_bytes(data)
    with pytest.raises(ValueError, match=rf"SavedModel.*{re.escape(str(path))}"):
        zoo.export.load(path)


def test_truncated_variables_are_a_value_error(good_export, tmp_path):
    path = _copy(good_export, tmp_path)
    data = next((path / "variables").glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(ValueError, match=rf"SavedModel.*{re.escape(str(path))}"):
        zoo.export.load(path)


def test_non_saved_model_directories_are_value_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("hello")
    (tmp_path / "other" / "1").mkdir()  # a version dir without saved_model.pb
    (tmp_path / "plainfile").write_text("not a directory")
    for name in ("empty", "other", "plainfile"):
        with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path / name))}.*SavedModel"):
            zoo.export.load(tmp_path / name)
        with pytest.raises(ValueError, match="SavedModel"):
            zoo.export.load(tmp_path / name, format="saved_model")
    with pytest.raises(FileNotFoundError):
        zoo.export.load(tmp_path / "missing")


@pytest.mark.parametrize("build", [small_resnet, small_text_rnn], ids=["resnet20", "text_rnn"])
def test_each_weight_is_stored_once(tmp_path, build):
    # ExportArchive.track(layer) on layers with variables stores them twice
    # (keras-team/keras#23553); the writer must not.
    import tensorflow as tf

    def stored(path):
        return sum(int(np.prod(shape))
                   for name, shape in tf.train.list_variables(str(path / "variables" / "variables"))
                   if name.endswith(".ATTRIBUTES/VARIABLE_VALUE"))

    model = build()
    assert stored(zoo.export.save(model, tmp_path / "sm", fold_batchnorm=False)) == \
        model.count_params()
    # Folded (the default), the graph reads each BatchNorm's beta only (the
    # bias); its gamma and moving statistics are in the kernels, not stored.
    channels = sum(bn.gamma.shape[0] for bn in helpers.batchnorm_layers(model))
    assert stored(zoo.export.save(model, tmp_path / "folded")) == \
        model.count_params() - 3 * channels
