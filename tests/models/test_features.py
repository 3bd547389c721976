"""Feature maps of the image families: `features_only=True`, `out_stages`, `feature_info`.

Every family (ResNet in both layouts, MobileNetV2) returns a dict of the
stages asked for, with the shapes `feature_info` promises, the values of the
full network's layers at those points (weights copied by name), in either
data format, and the same dict after every export that can hold one.
Bad arguments: tests/bad_input/test_bad_features.py.
"""

import json
import math

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import finetune

EXPORT = pytest.mark.tensorflow_only("SavedModel and TFLite are TensorFlow formats")

# name -> (constructor overrides, input size, every stage's (channels, reduction))
FAMILIES = {
    "resnet18": ({}, 64, [(64, 2), (64, 4), (128, 8), (256, 16), (512, 32)]),
    "resnet20": ({}, 32, [(16, 1), (16, 1), (32, 2), (64, 4)]),
    "mobilenet_v2": ({"alpha": 0.35}, 33, [(8, 2), (8, 4), (16, 8), (32, 16), (112, 32)]),
}


def build(name, seed=0, size=None, channels=3, **kwargs):
    overrides, default_size, _ = FAMILIES[name]
    size = size or default_size
    keras.utils.set_random_seed(seed)
    shape = ((channels, size, size) if kwargs.get("data_format") == "channels_first"
             else (size, size, channels))
    return zoo.create_model(name, **{"input_shape": shape, **overrides, **kwargs})


def numpy_dict(outputs):
    return {name: helpers.to_numpy(value) for name, value in outputs.items()}


def copy_weights_by_name(source, target):
    """Copies every weight of `target` from the weight of `source` at the same path."""
    values = {v.path: v for v in source.weights}
    for variable in target.weights:
        assert variable.path in values, f"{variable.path} is not in {source.name}"
        variable.assign(values[variable.path])


def assert_dicts_close(got, expected, atol):
    """Same keys in the same order, and values within `atol` times their scale."""
    assert list(got) == list(expected)
    for name in expected:
        scale = max(1.0, float(np.abs(expected[name]).max()))
        assert got[name].shape == expected[name].shape, name
        np.testing.assert_allclose(got[name], expected[name], atol=atol * scale, rtol=0,
                                   err_msg=name)


# --------------------------------------------------------------------------
# Keys, shapes and feature_info


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_stage_by_default_with_the_shapes_feature_info_gives(name):
    _, size, stages = FAMILIES[name]
    model = build(name, features_only=True)
    outputs = model(model.example_inputs(batch_size=2))
    assert list(outputs) == [f"stage{k}" for k in range(len(stages))]
    assert [(f["channels"], f["reduction"]) for f in model.feature_info] == stages
    for info, (key, value) in zip(model.feature_info, outputs.items()):
        assert info["name"] == key and info["stage"] == int(key[len("stage"):])
        side = math.ceil(size / info["reduction"])
        assert tuple(value.shape) == (2, side, side, info["channels"]), key
    # Each map is the output of the top-level layer feature_info names.
    assert all(model.get_layer(f["layer"]) is not None for f in model.feature_info)


@pytest.mark.parametrize("name, out_stages", [("resnet18", (2, 4)), ("resnet20", [0, 3]),
                                              ("mobilenet_v2", (1,))])
def test_out_stages_select_keys_in_order(name, out_stages):
    model = build(name, features_only=True, out_stages=out_stages)
    outputs = model(model.example_inputs(batch_size=1))
    assert list(outputs) == [f"stage{k}" for k in out_stages]
    assert [f["stage"] for f in model.feature_info] == list(out_stages)
    assert model.out_stages == tuple(out_stages)
    assert model.include_top is False and model.pooling is None


def test_feature_info_of_the_issue_example_and_of_a_classifier():
    model = zoo.create_model("resnet50", features_only=True, out_stages=(2, 3, 4),
                             input_shape=(32, 32, 3))
    assert model.feature_info == [
        {"name": "stage2", "stage": 2, "channels": 512, "reduction": 8,
         "layer": "stage2_block4"},
        {"name": "stage3", "stage": 3, "channels": 1024, "reduction": 16,
         "layer": "stage3_block6"},
        {"name": "stage4", "stage": 4, "channels": 2048, "reduction": 32,
         "layer": "stage4_block3"},
    ]
    # timm's mobilenetv2_100: 16, 24, 32, 96, 320 channels at 1/2 ... 1/32.
    classifier = zoo.create_model("mobilenet_v2", num_classes=3, input_shape=(32, 32, 3))
    assert classifier.features_only is False
    assert [(f["channels"], f["reduction"]) for f in classifier.feature_info] == [
        (16, 2), (24, 4), (32, 8), (96, 16), (320, 32)]
    # Copies: changing one changes nothing in the model.
    classifier.feature_info[0]["channels"] = 0
    assert classifier.feature_info[0]["channels"] == 16


def test_odd_and_unknown_sizes():
    model = build("resnet18", features_only=True, out_stages=(0, 1, 4), size=33)
    shapes = {k: tuple(v.shape) for k, v in model(model.example_inputs(1)).items()}
    assert shapes == {"stage0": (1, 17, 17, 64), "stage1": (1, 9, 9, 64),
                      "stage4": (1, 2, 2, 512)}
    free = zoo.create_model("resnet20", features_only=True, input_shape=(None, None, 1))
    shapes = {k: tuple(v.shape) for k, v in free(helpers.random_inputs((1, 12, 20, 1))).items()}
    assert shapes["stage3"] == (1, 3, 5, 64)


# --------------------------------------------------------------------------
# Values: the full network's, at the stages' layers


@pytest.mark.parametrize("name", list(FAMILIES))
def test_maps_equal_the_full_networks_layers(name):
    full = build(name, num_classes=3)
    helpers.randomize_batchnorm(full, seed=1)
    features = build(name, seed=5, features_only=True)
    copy_weights_by_name(full, features)
    x = full.example_inputs(batch_size=2, seed=2)
    view = full.functional()
    inner = keras.Model(view.input, {f["name"]: view.get_layer(f["layer"]).output
                                      for f in features.feature_info})
    expected = numpy_dict(inner(x, training=False))
    assert_dicts_close(numpy_dict(features(x, training=False)), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "resnet20"])
def test_last_stage_equals_the_model_without_top(name):
    headless = build(name, include_top=False)
    helpers.randomize_batchnorm(headless, seed=3)
    features = build(name, seed=7, features_only=True)
    copy_weights_by_name(headless, features)
    assert features.count_params() == headless.count_params()
    x = headless.example_inputs(batch_size=2, seed=4)
    last = features.feature_info[-1]["name"]
    np.testing.assert_allclose(helpers.to_numpy(features(x)[last]),
                               helpers.to_numpy(headless(x)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["resnet20", "mobilenet_v2"])
def test_channels_first_maps_are_the_channels_last_maps_transposed(name):
    last = build(name, features_only=True, out_stages=(1, 2, 3))
    first = build(name, features_only=True, out_stages=(1, 2, 3),
                  data_format="channels_first")
    first.set_weights(last.get_weights())
    x = last.example_inputs(batch_size=2, seed=6)
    expected = {k: np.transpose(v, (0, 3, 1, 2))
                for k, v in numpy_dict(last(x, training=False)).items()}
    got = numpy_dict(first(np.transpose(x, (0, 3, 1, 2)), training=False))
    assert_dicts_close(got, expected, atol=1e-5)
    assert [f["channels"] for f in first.feature_info] == [v.shape[1] for v in got.values()]


# --------------------------------------------------------------------------
# What is built: no head, no pooling, nothing after the last stage


@pytest.mark.parametrize("name, out_stages, layers", [
    ("resnet18", (0,), ["stem_conv"]),
    ("resnet18", (1, 2), ["stem_conv", "stem_pool_pad", "stem_pool", "stage1_block1",
                          "stage1_block2", "stage2_block1", "stage2_block2"]),
    ("resnet20", (1,), ["stem_conv", "stage1_block1", "stage1_block2", "stage1_block3"]),
    ("mobilenet_v2", (1,), ["stem_conv", "stage1_block1", "stage2_block1",
                            "stage2_block2"]),
])
def test_layers_after_the_last_stage_are_not_built(name, out_stages, layers):
    model = build(name, features_only=True, out_stages=out_stages)
    assert [layer.name for layer in finetune.top_level_layers(model)] == layers
    full = build(name, include_top=False)
    kept = sum(helpers.count_weights(full.get_layer(layer).weights) for layer in layers)
    assert model.count_params() == kept < full.count_params()


def test_mobilenet_features_have_no_head_convolution():
    every = build("mobilenet_v2", features_only=True)
    headless = build("mobilenet_v2", include_top=False)
    head = helpers.count_weights(headless.get_layer("head_conv").weights)
    assert every.count_params() == headless.count_params() - head
    assert finetune.top_level_layers(every)[-1].name == "stage7_block1"


# --------------------------------------------------------------------------
# The model face: config, summary, functional view, mixed precision, finetune


@pytest.mark.parametrize("name", list(FAMILIES))
def test_config_round_trip_gives_the_same_maps(name):
    model = build(name, features_only=True, out_stages=[1, 3])
    config = helpers.assert_config_mirrors_init(model)
    assert (config["features_only"], config["out_stages"]) == (True, (1, 3))
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    clone = keras.saving.deserialize_keras_object(serialized)
    assert (clone.features_only, clone.out_stages) == (True, (1, 3))
    assert clone.feature_info == model.feature_info
    clone.set_weights(model.get_weights())
    x = model.example_inputs(batch_size=2)
    assert_dicts_close(numpy_dict(clone(x)), numpy_dict(model(x)), atol=0)


def test_default_out_stages_round_trips_as_none():
    model = build("resnet20", features_only=True)
    assert model.out_stages is None and model.get_config()["out_stages"] is None
    assert type(model).from_config(model.get_config()).feature_info == model.feature_info


def test_summary_functional_view_and_example_inputs():
    model = build("resnet18", features_only=True, out_stages=(2, 3))
    lines = helpers.summary_lines(model)
    assert "features_only: returns {'stage2': (None, 8, 8, 128), " \
           "'stage3': (None, 4, 4, 256)}" in lines
    assert not any("?" in line for line in lines)
    assert helpers.summary_totals(lines)["Total"] == model.count_params()
    view = model.functional()
    assert view.count_params() == model.count_params()
    x = model.example_inputs(batch_size=2)
    assert x.shape == (2, 64, 64, 3)
    assert_dicts_close(numpy_dict(view(x, training=False)),
                       numpy_dict(model(x, training=False)), atol=1e-6)
    empty = model(model.example_inputs(batch_size=0))
    assert {k: tuple(v.shape) for k, v in empty.items()} == {
        "stage2": (0, 8, 8, 128), "stage3": (0, 4, 4, 256)}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_maps_are_in_the_compute_dtype(policy):
    model = build("mobilenet_v2", features_only=True, out_stages=(2, 4), dtype=policy)
    outputs = model(model.example_inputs(batch_size=2))
    assert {helpers.dtype_name(v) for v in outputs.values()} == {policy[len("mixed_"):]}
    assert {helpers.dtype_name(w) for w in model.weights} == {"float32"}
    assert all(np.all(np.isfinite(v.astype("float32"))) for v in numpy_dict(outputs).values())


def test_freeze_by_stage_keeps_frozen_weights_bit_identical():
    model = build("resnet20", features_only=True, out_stages=(2, 3), size=16)
    frozen = finetune.freeze(model, upto="stage1")
    assert frozen == ["stem_conv", "stage1_block1", "stage1_block2", "stage1_block3"]
    before = helpers.weight_snapshot(model)
    # A loss on the sum of the maps: mean square of each against zeros.
    model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=False,
                  loss={f["name"]: "mse" for f in model.feature_info})
    x = model.example_inputs(batch_size=4, unknown_dim=16)
    outputs = model(x)
    model.train_on_batch(x, {k: np.zeros(v.shape, "float32") for k, v in outputs.items()})
    after = helpers.weight_snapshot(model)
    frozen_paths = {v.path for name in frozen for v in model.get_layer(name).weights}
    assert {p.rsplit("/", 1)[-1] for p in frozen_paths} >= {
        "kernel", "gamma", "beta", "moving_mean", "moving_variance"}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    trained = {v.path for v in model.trainable_weights}
    assert trained and trained.isdisjoint(frozen_paths)
    still = sorted(p for p in trained if np.array_equal(before[p], after[p]))
    assert not still, f"trainable weights did not move: {still}"


# --------------------------------------------------------------------------
# Files, loaded in a fresh process

LOAD_AND_RUN = """
import json, sys, numpy as np, keras, zoo.export
folder, report = sys.argv[1], {}
x = np.load(folder + "/x.npy")
for target in sys.argv[2:]:
    loaded = zoo.export.load(folder + "/" + target)
    outputs = loaded(x)
    assert isinstance(outputs, dict), (target, type(outputs))
    np.savez(folder + "/" + target.replace(".", "_") + ".npz",
             **{k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()})
    report[target] = {"type": type(loaded).__name__, "keys": list(outputs),
                      "output_name": getattr(loaded, "output_name", None)}
print(json.dumps(report))
"""


def load_in_fresh_process(folder, *targets):
    """Loads each of `targets` in a new interpreter and calls it on `folder/x.npy`.

    Returns:
        target -> (the dict it returned, in its order; the fresh process's
        report: `type` of the loaded object, `keys`, `output_name`).
    """
    code = f"import sys; sys.argv = ['-c', {str(folder)!r}, *{list(targets)!r}]\n" \
        + LOAD_AND_RUN
    report = json.loads(helpers.run_in_fresh_process(code).strip().splitlines()[-1])
    results = {}
    for target in targets:
        with np.load(folder / (target.replace(".", "_") + ".npz")) as data:
            results[target] = ({k: data[k] for k in report[target]["keys"]},
                               report[target])
    return results


@pytest.mark.slow  # a fresh interpreter imports TensorFlow: 20-25 s on 2 busy cores
def test_keras_and_h5_files_round_trip_in_a_fresh_process(tmp_path):
    import zoo.export

    model = build("resnet20", features_only=True, out_stages=(1, 3), size=16)
    helpers.randomize_batchnorm(model, seed=2)
    x = model.example_inputs(batch_size=2, seed=3)
    expected = numpy_dict(model(x))
    np.save(tmp_path / "x.npy", x)
    for target in ("m.keras", "m.h5"):
        zoo.export.save(model, tmp_path / target)
    results = load_in_fresh_process(tmp_path, "m.keras", "m.h5")
    for target, (outputs, report) in results.items():
        assert report["type"] == "ResNet", target
        assert_dicts_close(outputs, expected, atol=1e-6)


@EXPORT
@pytest.mark.slow  # two SavedModels, then a fresh interpreter: 25-40 s on 2 busy cores
def test_saved_model_serves_one_named_output_per_stage(tmp_path):
    import zoo.export

    model = build("mobilenet_v2", features_only=True, out_stages=(2, 3, 4), size=32)
    helpers.randomize_batchnorm(model, seed=4)
    x = model.example_inputs(batch_size=2, seed=5)
    expected = numpy_dict(model(x, training=False))
    np.save(tmp_path / "x.npy", x)
    zoo.export.save(model, tmp_path / "sm")
    single = build("resnet20", features_only=True, out_stages=(3,), size=32)
    zoo.export.save(single, tmp_path / "single")
    results = load_in_fresh_process(tmp_path, "sm", "single")
    outputs, report = results["sm"]
    assert (report["type"], report["output_name"]) == ("ServingModel", None)
    # One output per stage, in stage order (assert_dicts_close checks the keys).
    assert_dicts_close(outputs, expected, atol=1e-5)
    # One stage is still a dict keyed by the stage, as the model returns it.
    outputs, _ = results["single"]
    assert_dicts_close(outputs, numpy_dict(single(x, training=False)), atol=1e-5)


@EXPORT
def test_tflite_refuses_a_features_model_and_writes_nothing(tmp_path):
    import zoo.export

    model = build("resnet20", features_only=True, out_stages=(2, 3), size=16)
    helpers.assert_rejects(lambda: zoo.export.save(model, tmp_path / "m.tflite"),
                           ValueError, "single output", "'stage2', 'stage3'",
                           "features_only=True", "saved_model")
    assert list(tmp_path.iterdir()) == []
