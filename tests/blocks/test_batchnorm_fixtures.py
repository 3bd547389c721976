"""Files saved when `ConvBN` used Keras' own BatchNormalization keep loading
now that it uses the zoo's fused `BatchNorm` (issue 14): `tests/fixtures/batchnorm/`,
written once by `tests/fixtures/make_batchnorm_fixtures.py` with the old code,
loaded here in a fresh process with `zoo.export.load`, `zoo.export.load_weights`
and a `tf.train.Checkpoint` keyed by variable paths (as `zoo.train`'s)."""

import json
import pathlib

import keras
import pytest

import helpers

FOLDER = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "batchnorm"

_LOAD = """
import json, keras, numpy as np, tensorflow as tf
import zoo, zoo.export
folder = {folder!r}
data = np.load(f"{{folder}}/resnet20.npz")
config = json.load(open(f"{{folder}}/resnet20.json"))
report = {{}}
for source in (".keras", ".h5", ".weights.h5", "checkpoint"):
    if source == ".weights.h5":
        model = keras.saving.deserialize_keras_object(config)
        zoo.export.load_weights(model, f"{{folder}}/resnet20.weights.h5")
    elif source == "checkpoint":
        model = keras.saving.deserialize_keras_object(config)
        status = tf.train.Checkpoint(weights={{v.path: v for v in model.variables}}).read(
            f"{{folder}}/resnet20_checkpoint-1")
        status.assert_existing_objects_matched()
    else:
        model = zoo.export.load(f"{{folder}}/resnet20{{source}}")
    y = np.asarray(keras.ops.convert_to_numpy(model(data["x"], training=False)))
    report[source] = {{
        "shape": list(y.shape), "max_diff": float(np.abs(y - data["y"]).max()),
        "scale": float(np.abs(data["y"]).max()),
        "norm_layers": sorted({{type(l).__module__ + "." + type(l).__name__
                               for l in model._flatten_layers()
                               if isinstance(l, keras.layers.BatchNormalization)}}),
        "moving_variance_min": min(float(np.min(v)) for v in
                                   [w.numpy() for w in model.weights if "moving_variance" in w.path])}}
print(json.dumps(report))
"""


# The files were written on TensorFlow (a tf.train.Checkpoint among them) and
# the fused kernel is TensorFlow's: on JAX the convolutions alone round
# differently (1.1e-5 measured on these logits).
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="TensorFlow files and the TensorFlow fused kernel")
def test_old_files_load_into_the_fused_batchnorm_with_the_same_outputs():
    stdout = helpers.run_in_fresh_process(_LOAD.format(folder=str(FOLDER)))
    report = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(report) == [".h5", ".keras", ".weights.h5", "checkpoint"]
    for source, result in report.items():
        assert result["shape"] == [4, 3], (source, result)
        # Every statistic loaded: the fixture's moving variances are
        # uniform in [0.5, 1.5], a fresh model's are 1.
        assert result["moving_variance_min"] < 0.6, (source, result)
        # The fused kernel sums in another order than Keras' ops, and
        # oneDNN's AVX-512 kernels in another than the files' machine's
        # (2.1e-5 on an AVX-512 EPYC): 1e-5 relative to the logits' scale.
        assert result["max_diff"] <= 1e-5 * max(1.0, result["scale"]), (source, result)
        # The zoo's layer now, not the Keras layer the file was written with.
        assert result["norm_layers"] == ["zoo.blocks.batch_norm.BatchNorm"], (source, result)
