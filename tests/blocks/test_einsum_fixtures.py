"""Files saved by today's `EinsumDense` keep loading through any rewrite of it
(issue 12 rebuilds it on `keras.layers.EinsumDense`): `tests/fixtures/einsum/`,
written once by `tests/fixtures/make_einsum_fixtures.py`, loaded here in a
fresh process with `zoo.export.load` / `zoo.export.load_weights`."""

import json
import pathlib

import pytest

import helpers

FOLDER = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "einsum"
NAMES = sorted(path.stem for path in FOLDER.glob("*.npz"))

_LOAD = """
import json, keras, numpy as np
import zoo, zoo.export
folder, name = {folder!r}, {name!r}
data = np.load(f"{{folder}}/{{name}}.npz")
report = {{}}
for suffix in (".keras", ".h5", ".weights.h5"):
    path = f"{{folder}}/{{name}}{{suffix}}"
    if suffix == ".weights.h5":
        config = json.load(open(f"{{folder}}/{{name}}.json"))
        model = keras.saving.deserialize_keras_object(config)
        zoo.export.load_weights(model, path)
    else:
        model = zoo.export.load(path)
    y = np.asarray(keras.ops.convert_to_numpy(model(data["x"], training=False)))
    report[suffix] = {{"shape": list(y.shape), "max_diff": float(np.abs(y - data["y"]).max()),
                       "type": type(model).__name__,
                       "layers": sorted(type(l).__module__ + "." + type(l).__name__
                                        for l in model.layers
                                        if type(l).__name__ == "EinsumDense")}}
print(json.dumps(report))
"""


def test_fixtures_exist():
    assert NAMES == ["einsum_mlp_features", "einsum_mlp_nchw_batchnorm", "einsum_mlp_nhwc"]


@pytest.mark.parametrize("name", NAMES)
def test_old_files_load_with_the_same_outputs(name):
    stdout = helpers.run_in_fresh_process(_LOAD.format(folder=str(FOLDER), name=name))
    report = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(report) == [".h5", ".keras", ".weights.h5"]
    for suffix, result in report.items():
        assert result["type"] == "EinsumMLP", (suffix, result)
        assert result["shape"] == [4, 3], (suffix, result)
        assert result["max_diff"] <= 1e-6, (suffix, result)
        # The zoo's block, not a Keras layer the file happened to name.
        assert result["layers"] and set(result["layers"]) == {
            "zoo.blocks.einsum_dense.EinsumDense"}, (suffix, result)
