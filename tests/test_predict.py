"""Class names and preprocessing travel with a model; `zoo.predict` names classes.

Every format that loads as a model carries `class_names` and `preprocessing`
(loaded in a fresh process), and prediction on image files reads them with
exactly the training pipeline's preprocessing (`zoo.data.images`).
"""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
import zoo.data
import zoo.data.images
import zoo.export
import zoo.predict
from helpers import EXPORT_TARGETS, assert_usage_error, run_in_fresh_process, run_module

CLASSES = ["daisy", "rose", "tulip"]
SIZE = 16


def write_png(path, seed, size=(20, 27)):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    return str(path)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = zoo.create_model("resnet20", num_classes=3, input_shape=(SIZE, SIZE, 3),
                             class_names=CLASSES,
                             preprocessing=zoo.data.images.preprocessing(SIZE, 3))
    # Logits apart but not saturated, so that the order of classes is a real check.
    model.get_layer("classifier").kernel.assign(
        0.01 * np.random.default_rng(1).standard_normal(model.get_layer("classifier").kernel.shape))
    return model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A class-named folder of PNGs of several sizes (two per class)."""
    root = tmp_path_factory.mktemp("flowers")
    for c, name in enumerate(CLASSES):
        for i in range(2):
            write_png(root / name / f"{i}.png", seed=10 * c + i, size=(20 + 3 * i, 27 - c))
    return root


def files_of(folder):
    return zoo.predict.image_files(folder)


def test_predictions_use_the_training_pipelines_preprocessing(model, folder):
    files = files_of(folder)
    # What training fed the model: zoo.data's folder pipeline, unshuffled.
    dataset, names = zoo.data.from_image_folder(folder, SIZE, batch_size=64, shuffle=False)
    trained_on = next(iter(dataset))[0].numpy()
    assert names == CLASSES and len(files) == 6
    np.testing.assert_array_equal(
        zoo.data.images.load_image_files(files, SIZE, 3), trained_on)
    predictions = zoo.predict.predict(model, files, top=3)
    logits = model(trained_on, training=False).numpy().astype("float64")
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities = exp / exp.sum(-1, keepdims=True)
    assert np.ptp(probabilities, axis=-1).min() > 1e-3  # no ties to hide an order
    for row, top in zip(probabilities, predictions):
        assert [p.index for p in top] == np.argsort(-row).tolist()
        assert [p.name for p in top] == [CLASSES[i] for i in np.argsort(-row)]
        np.testing.assert_allclose([p.score for p in top], np.sort(row)[::-1], rtol=1e-5)


def test_top_is_capped_and_unnamed_classes_get_their_index(model):
    x = np.zeros((2, SIZE, SIZE, 3), "float32")
    assert len(zoo.predict.predict(model, x, top=10)[0]) == 3
    named = zoo.predict.scores_to_predictions([[0.2, 0.5, 0.3]], ["a"], top=3)
    assert [p.name for p in named[0]] == ["1", "2", "a"]


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    return {fmt: zoo.export.save(model, out / name) for fmt, name in EXPORT_TARGETS.items()}


def test_every_model_format_carries_class_names_and_preprocessing(model, exported):
    paths = {fmt: str(path) for fmt, path in exported.items()}
    out = run_in_fresh_process(f"""
        import json, zoo, zoo.export
        found = {{}}
        for fmt, path in {paths!r}.items():
            if zoo.export.FORMATS[fmt].kind == "weights":  # into a model built without names
                loaded = zoo.create_model("resnet20", num_classes=3, input_shape=({SIZE}, {SIZE}, 3))
                zoo.export.load_weights(loaded, path)
            else:
                loaded = zoo.export.load(path)
            found[fmt] = [loaded.class_names, loaded.preprocessing, loaded.outputs_logits]
        print(json.dumps(found))
    """)
    found = json.loads(out.strip().splitlines()[-1])
    for fmt in paths:
        assert found[fmt] == [CLASSES, model.preprocessing, True], fmt


def test_an_edited_labels_record_is_refused(model, exported, tmp_path):
    import shutil

    import h5py

    weights = shutil.copy(exported["weights"], tmp_path / "edited.weights.h5")
    with h5py.File(weights, "a") as file:
        file.attrs["zoo_labels"] = file.attrs["zoo_labels"].replace("rose", "weed")
    fresh = zoo.create_model("resnet20", num_classes=3, input_shape=(SIZE, SIZE, 3))
    before = [w.numpy() for w in fresh.weights]
    with pytest.raises(ValueError, match="zoo_labels attribute does not match"):
        zoo.export.load_weights(fresh, weights)
    assert fresh.class_names is None  # refused before any weight was touched
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, fresh.weights))
    served = shutil.copytree(exported["saved_model"], tmp_path / "served")
    (served / "assets.extra" / "zoo_labels.json").write_text('{"class_names": ["a", "a"]}')
    with pytest.raises(ValueError, match="class_names must be distinct"):
        zoo.export.load(served)


def test_the_cli_names_the_classes_of_image_files_with_every_format(model, exported, folder):
    files = files_of(folder)
    expected = zoo.predict.predict(model, files, top=2)
    for fmt in ("saved_model", "tflite"):
        proc = run_module("zoo.predict", f"--model={exported[fmt]}", "--top=2", "--json",
                          str(folder))
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        assert [row["input"] for row in rows] == files
        for row, want in zip(rows, expected):
            assert [p["name"] for p in row["predictions"]] == [p.name for p in want], fmt
            np.testing.assert_allclose([p["score"] for p in row["predictions"]],
                                       [p.score for p in want], atol=1e-4)


def test_predict_reads_a_training_runs_best_model(model, tmp_path, folder):
    zoo.export.save(model, tmp_path / "best.keras")
    (tmp_path / "checkpoint").write_text("")
    files = files_of(folder)
    want = zoo.predict.predict(model, files, top=1)
    assert zoo.predict.predict(tmp_path, files, top=1) == want


def test_a_text_model_names_classes_of_texts():
    keras.utils.set_random_seed(0)
    model = zoo.create_model("text_rnn", num_classes=2, max_tokens=50,
                             class_names=["negative", "positive"])
    model.adapt(["good film", "bad film", "not bad at all"])
    [top] = zoo.predict.predict(model, "good film", top=2)
    assert sorted(p.name for p in top) == ["negative", "positive"]
    assert sum(p.score for p in top) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("make_input, fragment", [
    (lambda root: [str(root / "missing.png")], "missing.png' does not exist"),
    (lambda root: [str(root / "notes.txt")], "not an image file"),
    (lambda root: [str(root / "broken.png")], "broken.png"),
    (lambda root: [str(root / "empty")], "holds no image files"),
])
def test_bad_inputs_are_errors_naming_the_file(model, tmp_path, make_input, fragment):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=None) as error:
        zoo.predict.predict(model, make_input(tmp_path))
    assert fragment in str(error.value)


def test_bad_models_are_errors_naming_them(tmp_path, folder):
    with pytest.raises(ValueError, match="does not exist"):
        zoo.predict.predict(tmp_path / "nope.keras", files_of(folder))
    (tmp_path / "checkpoint").write_text("")
    with pytest.raises(ValueError, match="without best.keras"):
        zoo.predict.predict(tmp_path, files_of(folder))
    features = zoo.create_model("resnet20", input_shape=(SIZE, SIZE, 3), features_only=True)
    with pytest.raises(ValueError, match="no classifier"):
        zoo.predict.predict(features, files_of(folder))
    with pytest.raises(ValueError, match="top must be a positive integer"):
        zoo.predict.predict(features, files_of(folder), top=0)


def test_cli_usage_errors_exit_2(exported, tmp_path):
    from absl import app

    from zoo.predict import __main__ as cli

    assert_usage_error(run_module("zoo.predict", f"--model={exported['keras']}",
                                  str(tmp_path / "gone.png")), "gone.png", "does not exist")
    with pytest.raises(app.UsageError, match="name at least one image file"):
        cli.main(["zoo.predict"])
