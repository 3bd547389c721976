"""Tests for `zoo.models.resnet_v2` and `zoo.convert.resnet_v2` (the registry battery:
tests/test_all_models.py; bad arguments: tests/bad_input/test_bad_resnet_v2.py)."""


import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import convert, finetune
from zoo.convert import resnet_v2 as port
from zoo.models import resnet_v2
from zoo.models.resnet_v2 import ResNetV2

URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return ResNetV2(**{"num_classes": 3, "input_shape": (32, 32, 1), **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


# --------------------------------------------------------------------------
# Parameter counts (keras.applications, 224x224x3, 1000 classes)


# JAX compiles each initializer of a new shape: ~40 s for the first 1000-class build.
SLOW_OFF_TF = [pytest.mark.slow] if keras.backend.backend() != "tensorflow" else []


@pytest.mark.parametrize("depth, total, trainable", [
    pytest.param(50, 25_613_800, 25_568_360, marks=SLOW_OFF_TF),
    pytest.param(101, 44_675_560, 44_577_896, marks=pytest.mark.slow),
    pytest.param(152, 60_380_648, 60_236_904, marks=pytest.mark.slow),
])
def test_param_counts_equal_keras_applications(depth, total, trainable):
    reference = getattr(keras.applications, f"ResNet{depth}V2")(weights=None)
    name = f"resnet{depth}_v2"
    model = zoo.create_model(name)
    assert model.input_shape_ == (224, 224, 3) and model.num_classes == 1000
    assert (model.count_params(), reference.count_params()) == (total, total)
    assert helpers.count_weights(model.trainable_weights) == trainable == \
        helpers.count_weights(reference.trainable_weights)
    record = zoo.model_info(name)
    assert (record.params, record.reference) == (total, f"keras.applications.ResNet{depth}V2")


def test_records_and_weight_sources():
    record = zoo.model_info("resnet101_v2")
    assert record.input_size == (224, 224, 3) and record.family == "ResNetV2"
    imagenet = record.weights["imagenet"]
    assert imagenet["preprocessing"]["mode"] == "tf"  # resnet_v2.preprocess_input: [-1, 1]
    assert imagenet["origin"] == URL + "resnet101v2_weights_tf_dim_ordering_tf_kernels.h5"
    assert imagenet["file_hash"] == "6343647c601c52e1368623803854d971"  # keras' WEIGHTS_HASHES
    assert zoo.list_models("resnet*_v2") == ["resnet101_v2", "resnet152_v2", "resnet50_v2"]


def test_stages_follow_keras_applications():
    model = ResNetV2(depth=101, input_shape=(32, 32, 3))
    assert model.name == "resnet101_v2"
    blocks = [(b.name, b.filters, b.strides) for b in model.blocks]
    assert len(blocks) == 33
    # The stride sits in every stage's last block but the last stage's.
    assert [b for b in blocks if b[2] == 2] == [("stage1_block3", 64, 2),
                                                ("stage2_block4", 128, 2),
                                                ("stage3_block23", 256, 2)]
    assert [b.projection for b in model.blocks if b.name.endswith("_block1")] == [True] * 4
    assert not any(b.projection for b in model.blocks if not b.name.endswith("_block1"))
    assert (model.stem[1].use_bias, model.post_bn.epsilon) == (True, 1.001e-5)


# --------------------------------------------------------------------------
# keras.applications weights


@pytest.fixture(scope="module")
def keras_model():
    keras.utils.set_random_seed(0)
    return helpers.randomize_reference(keras.applications.ResNet50V2(
        weights=None, input_shape=(64, 96, 3), classes=10, classifier_activation=None), seed=1)


@pytest.fixture(scope="module")
def ported(keras_model):
    return port.from_keras_applications(keras_model)


def test_from_keras_applications_same_logits(keras_model, ported):
    assert isinstance(ported, ResNetV2)
    assert (ported.depth, ported.num_classes, ported.include_top, ported.input_shape_) == \
        (50, 10, True, (64, 96, 3))
    assert (ported.bn_momentum, ported.bn_epsilon) == (0.99, 1.001e-5)  # Keras' own
    assert ported.classifier_activation is None
    assert ported.count_params() == keras_model.count_params()
    x = helpers.random_inputs((2, 64, 96, 3), seed=11)
    helpers.assert_close(ported(x, training=False), keras_model(x, training=False))


def test_feature_maps_are_keras_applications_layers(keras_model, ported):
    # Each tap is a keras.applications layer output: the block sums before a stride.
    taps = ["conv1_conv", "conv2_block2_out", "conv3_block3_out", "conv4_block5_out",
            "conv5_block3_out"]
    reference = keras.Model(keras_model.input, [keras_model.get_layer(n).output for n in taps])
    features = ResNetV2(input_shape=(64, 96, 3), features_only=True)
    for variable in features.weights:
        variable.assign(_weight(ported, variable))
    x = helpers.random_inputs((2, 64, 96, 3), seed=12)
    maps = features(x)
    assert [(f["name"], f["reduction"], f["channels"]) for f in features.feature_info] == [
        ("stage0", 2, 64), ("stage1", 4, 256), ("stage2", 8, 512), ("stage3", 16, 1024),
        ("stage4", 32, 2048)]
    for (name, got), expected in zip(maps.items(), reference(x)):
        assert tuple(got.shape) == tuple(expected.shape), name
        helpers.assert_close(got, expected)
    assert tuple(maps["stage3"].shape) == (2, 4, 6, 1024)


def _weight(model, variable):
    """`model`'s weight at the path of `variable` (under the model)."""
    paths = {v.path.split("/", 1)[1]: v for v in model.weights}
    return paths[variable.path.split("/", 1)[1]]


def test_from_keras_applications_without_top_odd_size():
    # 63x75: every stride-2 layer sees an odd size.
    k = helpers.randomize_reference(keras.applications.ResNet50V2(
        weights=None, input_shape=(63, 75, 3), include_top=False, pooling="avg"), seed=2)
    model = resnet_v2.from_keras_applications(k, name="odd")  # the family module's door
    assert (model.include_top, model.pooling, model.name) == (False, "avg", "odd")
    x = helpers.random_inputs((2, 63, 75, 3), seed=13)
    helpers.assert_close(model(x, training=False), k(x, training=False))
    assert tuple(model(x).shape) == (2, 2048)


@pytest.mark.parametrize("bad, fragment", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "'conv1_conv'"),
    (lambda: "not a model", "'conv1_conv'"),
    (lambda: keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3),
                                         include_top=False), "'conv2_block1_preact_bn'"),
])
def test_from_keras_applications_rejects_other_models(bad, fragment):
    helpers.assert_rejects(lambda: port.from_keras_applications(bad()), ValueError,
                           "keras_model", fragment)


def test_from_keras_applications_names_what_does_not_fit(keras_model):
    layers = [layer for layer in keras_model.layers if layer.name != "conv4_block6_out"]
    impostor = type("Impostor", (), {"layers": layers, "input_shape": (None, 64, 96, 3)})()
    helpers.assert_rejects(lambda: port.from_keras_applications(impostor), ValueError,
                           "keras_model", "(3, 4, 5, 3)")
    # A layer of the right name and class but the wrong shape: named with the zoo weight.
    layers = [keras.layers.BatchNormalization(name="conv3_block2_1_bn")
              if layer.name == "conv3_block2_1_bn" else layer for layer in keras_model.layers]
    layers[[l.name for l in layers].index("conv3_block2_1_bn")].build((None, 4, 4, 7))
    impostor = type("Impostor", (), {"layers": layers, "input_shape": (None, 64, 96, 3)})()
    helpers.assert_rejects(lambda: port.from_keras_applications(impostor), ValueError,
                           "'conv3_block2_1_bn'", "(7,)", "stage2_block2/conv1/bn")


# weights="imagenet", offline: keras.applications' file stood in for by random weights.


@pytest.mark.slow  # ~17 s on 2 shared cores: a 100 MB file written, hashed, read twice
def test_imagenet_offline_then_placed_files(cache, offline, monkeypatch):
    name = "resnet50v2_weights_tf_dim_ordering_tf_kernels.h5"
    with pytest.raises(OSError) as info:
        zoo.create_model("resnet50_v2", weights="imagenet", input_shape=(64, 64, 3))
    message = str(info.value)
    assert isinstance(info.value, convert.WeightsDownloadError)
    assert URL + name in message and str(cache / name) in message, message
    assert offline == ["storage.googleapis.com"]

    reference = helpers.randomize_reference(keras.applications.ResNet50V2(
        weights=None, input_shape=(64, 64, 3), classifier_activation=None), seed=3)
    helpers.publish_keras_file(monkeypatch, port, 50, reference, cache / name, top=True)
    model = zoo.create_model("resnet50_v2", weights="imagenet", input_shape=(64, 64, 3))
    x = helpers.random_inputs((2, 64, 64, 3), seed=14)
    helpers.assert_close(model(x), reference(x))

    # Another head (or none): keras' "notop" file.
    notop = "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    backbone = helpers.randomize_reference(keras.applications.ResNet50V2(
        weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3)), seed=4)
    helpers.publish_keras_file(monkeypatch, port, 50, backbone, cache / notop, top=False)
    model = zoo.create_model("resnet50_v2", weights="imagenet", num_classes=10,
                             input_shape=(48, 80, 3))
    stem = {layer.name: layer for layer in backbone.layers}["conv1_conv"]
    np.testing.assert_array_equal(helpers.to_numpy(model.stem[1].kernel),
                                  helpers.to_numpy(stem.kernel))
    assert tuple(model(helpers.random_inputs((2, 48, 80, 3))).shape) == (2, 10)
    features = zoo.create_model("resnet50_v2", weights="imagenet", include_top=False,
                                pooling="avg", input_shape=(64, 64, 3))
    helpers.assert_close(features(x), backbone(x))
    assert len(offline) == 1  # the cached files needed no network


# --------------------------------------------------------------------------
# Structure, summary, layouts


def test_layer_names_and_feature_shapes(gray):
    names = [layer.name for layer in finetune.top_level_layers(gray)]
    assert names[:4] == ["stem_pad", "stem_conv", "stem_pool_pad", "stem_pool"]
    assert names[-5:] == ["post_bn", "post_act", "avg_pool", "classifier", "predictions"]
    assert names[4:-5] == [f"stage{s}_block{i}" for s, n in enumerate((3, 4, 6, 3), 1)
                           for i in range(1, n + 1)]
    features = small(features_only=True, out_stages=(1, 3))
    maps = features(features.example_inputs(batch_size=2))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "stage1": (2, 8, 8, 256), "stage3": (2, 2, 2, 1024)}
    # Nothing after the last tap is built: stage3_block6 strides, so it is left out.
    assert [b.name for b in features.blocks][-1] == "stage3_block5"
    assert features.post_bn is None


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage1_block3")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 13]] == [
        (0, "stage1_block3", "PreActBottleneck", "(None, 4, 4, 256)"),
        (1, "preact_bn", "BatchNorm", "(None, 8, 8, 256)"),
        (1, "preact_act", "Activation", "(None, 8, 8, 256)"),
        (1, "conv1", "ConvBN", "(None, 8, 8, 64)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 64)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 64)"),
        (2, "act", "Activation", "(None, 8, 8, 64)"),
        (1, "conv2", "ConvBN", "(None, 4, 4, 64)"),
        (2, "pad", "ZeroPadding2D", "(None, 10, 10, 64)"),
        (2, "conv", "Conv2D", "(None, 4, 4, 64)"),
        (2, "bn", "BatchNorm", "(None, 4, 4, 64)"),
        (2, "act", "Activation", "(None, 4, 4, 64)"),
        (1, "conv3", "Conv2D", "(None, 4, 4, 256)"),
    ]
    assert (1, "shortcut_pool", "MaxPooling2D") in {
        (r["depth"], r["name"], r["type"]) for r in rows}
    assert sum(r["params"] for r in rows if r["depth"] == 0) == gray.count_params()
    assert helpers.summary_totals(lines)["Total"] == gray.count_params()


def test_channels_first_matches_channels_last(gray):
    first = small(data_format="channels_first", input_shape=(1, 32, 32))
    first.set_weights(gray.get_weights())
    x = gray.example_inputs(batch_size=2, seed=3)
    # Within 1e-5 of the logits' scale (about 75 here: an untrained 50-layer net).
    helpers.assert_close(first(np.transpose(x, (0, 3, 1, 2)), training=False),
                         gray(x, training=False), tolerance=1e-5)


def test_defaults_and_config():
    model = small()
    config = model.get_config()
    assert (config["depth"], config["bn_momentum"], config["bn_epsilon"]) == (50, 0.9, 1.001e-5)
    assert type(ResNetV2.from_config(config)) is ResNetV2
    assert model.name == "resnet50_v2"  # the registered name


def test_dropout_only_in_training(gray):
    model = gray.rebuilt(dropout=0.5)
    assert model.dropout_layer.rate == 0.5
    x = gray.example_inputs(batch_size=2, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(model(x, training=False)),
                                  helpers.to_numpy(gray(x, training=False)))
    trained = [helpers.to_numpy(model(x, training=True)) for _ in range(2)]
    assert not np.array_equal(*trained)  # a new mask each call


def test_folded_keeps_outputs(gray):
    folded = gray.folded()
    x = gray.example_inputs(batch_size=2, seed=5)
    assert all(b.conv1.batchnorm_folded and b.conv2.batchnorm_folded for b in folded.blocks)
    np.testing.assert_allclose(helpers.to_numpy(folded(x)), helpers.to_numpy(gray(x)),
                               atol=1e-4 * max(1.0, float(np.abs(helpers.to_numpy(gray(x))).max())),
                               rtol=0)


# --------------------------------------------------------------------------
# zoo.finetune by stage

BN_STATS = ("moving_mean", "moving_variance")


def test_freeze_up_to_stage3_is_bit_identical_after_training():
    model = small(seed=1)
    frozen = finetune.freeze(model, upto="stage3")
    layers = finetune.top_level_layers(model)
    trained = ["stage4_block1", "stage4_block2", "stage4_block3", "post_bn", "post_act",
               "avg_pool", "classifier", "predictions"]
    assert frozen == [layer.name for layer in layers][:-len(trained)]
    before = helpers.weight_snapshot(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    rng = np.random.default_rng(0)
    for _ in range(2):
        model.train_on_batch(rng.standard_normal((8, 32, 32, 1)).astype("float32"),
                             rng.integers(0, 3, size=(8,)))
    after = helpers.weight_snapshot(model)
    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    assert {p.rsplit("/", 1)[-1] for p in frozen_paths} >= {
        "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    # The residual sum's biases get no gradient (`gradient_free_weights`): left out.
    moving = {v.path for v in model.trainable_weights if not v.path.endswith("/bias")
              or "classifier" in v.path} | {
        getattr(bn, stat).path for layer in layers if layer.name in trained
        for bn in helpers.batchnorm_layers(layer) for stat in BN_STATS}
    still = sorted(p for p in moving if np.array_equal(before[p], after[p]))
    assert not still, f"unfrozen weights did not move: {still}"
