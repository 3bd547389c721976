"""Files saved by the zoo before issue 23 (main at a081ec5) keep loading.

`tests/fixtures/legacy/` holds, per model, the `.keras`, zoo `.h5` and
`.weights.h5` files, a variable-path checkpoint, the config and inputs with
their outputs, written by `tests/fixtures/make_legacy_fixtures.py` with that
code; and the `--model_dir` of a one-epoch `python -m zoo.train` run. Each
file is loaded here with today's code in a fresh process: outputs to 1e-6
relative to their scale, and the training run resumes to the same weights.
The files were written with oneDNN's AVX-512 kernels; Eigen's (oneDNN off)
sum in another order, 1.03e-6 relative on ResNet-50's logits, so there the
bound is 1e-5.
"""

import json
import pathlib
import subprocess
import sys
import tarfile

import keras
import pytest

import helpers
from zoo import ops

FOLDER = pathlib.Path(__file__).resolve().parent / "fixtures" / "legacy"
MODELS = ("resnet20", "resnet20_features", "resnet50_v1_5", "mobilenet_v2_035", "text_rnn",
          "transformer", "einsum_mlp")
SOURCES = (".keras", ".h5", ".weights.h5", "checkpoint")
WRITTEN_WITH = "cpu/onednn"

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="TensorFlow files (a tf.train.Checkpoint among them)")

_LOAD = """
import json, keras, numpy as np, tensorflow as tf
import zoo, zoo.export
folder, names = {folder!r}, {names!r}
report = {{}}
for name in names:
    data = np.load(f"{{folder}}/{{name}}.npz")
    config = json.load(open(f"{{folder}}/{{name}}.json"))
    for source in {sources!r}:
        if source == ".weights.h5":
            model = keras.saving.deserialize_keras_object(config)
            zoo.export.load_weights(model, f"{{folder}}/{{name}}.weights.h5")
        elif source == "checkpoint":
            model = keras.saving.deserialize_keras_object(config)
            # Weights only: dropout's seed-generator states are numbered per
            # process (seed_generator_11), the order models were built in.
            tf.train.Checkpoint(weights={{v.path: v for v in model.weights}}).read(
                f"{{folder}}/{{name}}_checkpoint-1").assert_existing_objects_matched()
        else:
            model = zoo.export.load(f"{{folder}}/{{name}}{{source}}")
        y = model(data["x"], training=False)
        y = y if isinstance(y, dict) else {{"y": y}}
        report[f"{{name}}{{source}}"] = {{
            key: [float(np.abs(np.asarray(value) - data[f"y_{{key}}"]).max()),
                  float(np.abs(data[f"y_{{key}}"]).max()), list(np.shape(value))]
            for key, value in y.items()}} | {{"keys": sorted(y), "type": type(model).__name__}}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("legacy")
    for archive in FOLDER.glob("*.tar.xz"):
        with tarfile.open(archive) as files:
            files.extractall(folder, filter="data")
    return folder


def test_old_model_files_load_with_the_same_outputs(unpacked):
    report = json.loads(helpers.run_in_fresh_process(
        _LOAD.format(folder=str(unpacked), names=MODELS, sources=SOURCES),
        timeout=600).strip().splitlines()[-1])
    assert sorted(report) == sorted(f"{name}{source}" for name in MODELS for source in SOURCES)
    bound = 1e-6 if ops.tensorflow_platform() == WRITTEN_WITH else 1e-5
    for key, outputs in report.items():
        expected_keys = ["stage1", "stage3"] if key.startswith("resnet20_features") else ["y"]
        assert outputs.pop("keys") == expected_keys, key
        outputs.pop("type")
        for output, (max_diff, scale, shape) in outputs.items():
            assert shape[0] in (3, 7), (key, output, shape)
            assert max_diff <= bound * max(1.0, scale), (key, output, max_diff, scale)


@pytest.mark.slow
def test_an_old_training_run_resumes_to_the_same_weights(unpacked):
    run_dir = unpacked / "train_resnet20"
    flags = json.loads((run_dir / "flags.json").read_text())
    before = (run_dir / "summary.txt").read_text().split()
    result = subprocess.run([sys.executable, "-m", "zoo.train", *flags,
                             f"--model_dir={run_dir}"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    after = result.stdout.strip().splitlines()[-1].split()

    def field(words, name):
        return next(word for word in words if word.startswith(f"{name}="))

    # Nothing left to train: the restored weights are the saved ones, bit for bit.
    for name in ("epochs", "test_accuracy", "weights_sha256"):
        assert field(after, name) == field(before, name), (name, before, after)
    assert field(after, "checkpoint").endswith("/ckpt-23")
