"""`python -m zoo.export` and `python -m zoo.train --export=...`, run as a user runs them."""


import numpy as np
import pytest

import helpers
from helpers import run_module
import zoo
import zoo.export


def run(module, *flags, timeout=300):
    return run_module(module, *flags, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run exporting three formats (shared by the tests)."""
    out = tmp_path_factory.mktemp("train")
    paths = [out / "r.keras", out / "r.h5", out / "r.weights.h5"]
    proc = run("zoo.train", "--model=resnet20", "--epochs=1", "--image_size=16",
               "--verbose=0", "--export=" + ",".join(map(str, paths)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, paths, proc.stdout


def test_train_exports_every_requested_format(trained):
    out, paths, stdout = trained
    assert "exports=" + ",".join(map(str, paths)) in stdout
    x = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    keras_model = zoo.export.load(paths[0])
    h5_model = zoo.export.load(paths[1])
    np.testing.assert_allclose(helpers.to_numpy(h5_model(x)), helpers.to_numpy(keras_model(x)),
                               atol=1e-6)
    fresh = zoo.create_model("resnet20", num_classes=10, input_shape=(16, 16, 1))
    zoo.export.load_weights(fresh, paths[2])
    np.testing.assert_allclose(helpers.to_numpy(fresh(x)), helpers.to_numpy(keras_model(x)),
                               atol=1e-6)


def test_export_cli_converts_whole_model_and_weights(trained):
    out, paths, _ = trained
    proc = run("zoo.export", f"--model_file={paths[0]}", f"--out={out / 'converted.h5'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"wrote {out / 'converted.h5'}" in proc.stdout
    proc = run("zoo.export", "--model=resnet20", "--num_classes=10", "--input_shape=16,16,1",
               f"--weights={paths[2]}", f"--out={out / 'from_weights.keras'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    x = np.random.default_rng(1).random((2, 16, 16, 1)).astype("float32")
    reference = helpers.to_numpy(zoo.export.load(paths[0])(x))
    for name in ("converted.h5", "from_weights.keras"):
        np.testing.assert_allclose(helpers.to_numpy(zoo.export.load(out / name)(x)),
                                   reference, atol=1e-6)


def _images(folder, count, seed=0):
    """`count` PNG files (RGB: the reader converts them to the model's 1 channel)
    in two class subfolders, and a file that is no image, which is skipped."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for i in range(count):
        sub = folder / ("cats" if i % 2 else "dogs")
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (20, 24, 3), dtype="uint8")
        (sub / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.mark.slow  # two CLI runs and two int8 conversions: ~30 s on 2 busy cores
def test_export_cli_int8_calibrates_on_representative_data(trained, tmp_path):
    from zoo.data.images import load_image_files

    _, paths, _ = trained
    rng = np.random.default_rng(2)
    np.save(tmp_path / "calibration.npy", rng.random((12, 16, 16, 1), dtype="float32"))
    folder = _images(tmp_path / "images", 5)
    # What each source must calibrate on: the array, or the folder's images
    # read as zoo.data reads them (sorted, at the model's size and channels).
    sources = {
        "npy": (tmp_path / "calibration.npy", np.load(tmp_path / "calibration.npy")),
        "images": (folder, load_image_files(sorted(map(str, folder.rglob("*.png"))),
                                            (16, 16), 1)),
    }
    x = rng.random((3, 16, 16, 1), dtype="float32")
    for name, (source, expected) in sources.items():
        out = tmp_path / f"{name}.tflite"
        proc = run("zoo.export", f"--model_file={paths[0]}", f"--out={out}",
                   "--quantization=int8", f"--representative_data={source}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (f"calibrating int8 on {len(expected)} examples from "
                f"--representative_data={source}") in proc.stdout, proc.stdout
        assert "without representative_data" not in proc.stdout + proc.stderr
        lite = zoo.export.load(out)
        assert lite.quantization == "int8"
        outputs = lite(x)
        assert outputs.shape == (3, 10) and np.isfinite(outputs).all()
        # Calibrated on exactly those inputs: the same int8 model as an
        # in-process save given them.
        same = zoo.export.save(zoo.export.load(paths[0]), tmp_path / f"same_{name}.tflite",
                               quantization="int8", representative_data=expected)
        np.testing.assert_array_equal(zoo.export.load(same)(x), outputs)


# Bad command lines of both, weights of another input shape and an --export
# path of no known format included, are rejected in-process by
# tests/bad_input/test_bad_export_cli.py and test_bad_train_cli.py, and end
# to end there (exit status 2, a usage line, no traceback, nothing written).
