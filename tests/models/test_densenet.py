"""Tests for `zoo.models.densenet` and `zoo.convert.densenet` (the registry battery:
tests/test_all_models.py)."""


import keras
import numpy as np
import pytest
from keras.src.applications import densenet as keras_densenet

import helpers
import zoo
from zoo import convert, finetune
from zoo.models import densenet
from zoo.models.densenet import DenseNet

URL = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"

# JAX runs a forward pass op by op, compiling each op for each new shape: a
# DenseNet-121 (121 layers, a new width after every concatenation) costs 20-60 s
# per test there, 1-5 s on TensorFlow.
pytestmark = [pytest.mark.slow] if keras.backend.backend() == "jax" else []


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return DenseNet(**{"num_classes": 3, "input_shape": (32, 32, 1), **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


# --------------------------------------------------------------------------
# Parameter counts: keras.applications' with the 1000-class head, and the record's


@pytest.mark.parametrize("depth", [
    121, pytest.param(169, marks=pytest.mark.slow), pytest.param(201, marks=pytest.mark.slow)])
def test_param_counts_equal_keras_applications(depth):
    k = getattr(keras.applications, f"DenseNet{depth}")(weights=None)
    model = zoo.create_model(f"densenet{depth}")
    assert model.input_shape_ == (224, 224, 3) and model.num_classes == 1000
    assert model.count_params() == k.count_params() == zoo.model_info(f"densenet{depth}").params
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)
    assert zoo.model_info(f"densenet{depth}").reference == f"keras.applications.DenseNet{depth}"


def test_widths_follow_the_paper():
    assert [densenet.stage_widths(d) for d in (121, 169, 201)] == [
        [256, 512, 1024, 1024], [256, 512, 1280, 1664], [256, 512, 1792, 1920]]
    model = DenseNet(depth=169, features_only=True, out_stages=(2,), input_shape=(32, 32, 3))
    assert [b.name for b in model.blocks] == ["stem_conv", "stem_pool_pad", "stem_pool", "stage1",
                                              "stage1_transition", "stage2"]
    assert [model.blocks[3].num_layers, model.blocks[5].num_layers] == [6, 12]
    assert model.blocks[4].conv.filters == 128  # 256 * 0.5


# --------------------------------------------------------------------------
# keras.applications weights (randomized BatchNorm statistics show a mis-mapped BN)


@pytest.fixture(scope="module")
def keras_densenet121():
    keras.utils.set_random_seed(0)
    k = keras.applications.DenseNet121(weights=None, input_shape=(64, 96, 3), classes=10,
                                       classifier_activation=None)
    helpers.randomize_batchnorm(k, seed=1)
    return k


def test_from_keras_applications_same_logits_non_square(keras_densenet121):
    k = keras_densenet121
    model = densenet.from_keras_applications(k)
    assert isinstance(model, DenseNet)
    assert (model.depth, model.num_classes, model.include_top, model.input_shape_) == \
        (121, 10, True, (64, 96, 3))
    assert (model.bn_momentum, model.bn_epsilon) == (0.99, 1.001e-5)  # Keras' own
    assert model.count_params() == k.count_params()
    x = helpers.random_inputs((2, 64, 96, 3), seed=11)
    helpers.assert_close(model(x, training=False), k(x, training=False))
    # Overrides that change no weight keep the logits.
    tuned = densenet.from_keras_applications(k, dropout=0.2, name="tuned")
    assert (tuned.dropout, tuned.name) == (0.2, "tuned")
    helpers.assert_close(tuned(x, training=False), k(x, training=False))


def test_from_keras_applications_without_top_odd_size():
    # 67x75: the transitions' 2x2 average pools floor odd sizes, as Keras'.
    k = keras.applications.DenseNet121(weights=None, input_shape=(67, 75, 3),
                                       include_top=False, pooling="max")
    helpers.randomize_batchnorm(k, seed=2)
    model = densenet.from_keras_applications(k)
    assert (model.include_top, model.pooling) == (False, "max")
    x = helpers.random_inputs((2, 67, 75, 3), seed=13)
    helpers.assert_close(model(x, training=False), k(x, training=False))
    assert tuple(model(x).shape) == (2, 1024)


@pytest.mark.parametrize("bad, fragments", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), ("'conv1_bn'",)),
    (lambda: "not a model", ("'conv1_bn'",)),
    # keras.applications' own DenseNet builder with another block layout.
    (lambda: keras_densenet.DenseNet([2, 2, 2, 2], weights=None, include_top=False,
                                     input_shape=(32, 32, 3)), ("(2, 2, 2, 2)", "121")),
])
def test_from_keras_applications_rejects_other_models(bad, fragments):
    helpers.assert_rejects(lambda: densenet.from_keras_applications(bad()), ValueError,
                           "keras_model", *fragments)


# --------------------------------------------------------------------------
# weights="imagenet": keras.applications' files, offline


def test_imagenet_offline_names_the_url_and_the_cache_path(cache):
    name = "densenet121_weights_tf_dim_ordering_tf_kernels.h5"
    with pytest.raises(convert.WeightsDownloadError) as info:
        zoo.create_model("densenet121", weights="imagenet", input_shape=(32, 32, 3))
    assert URL + name in str(info.value) and str(cache / name) in str(info.value)
    assert zoo.model_info("densenet121").weights["imagenet"]["file_hash"] == \
        "9d60b8095a5708f2dcce2bca79d332c7"  # keras/src/applications/densenet.py's
    assert zoo.model_info("densenet201").weights["imagenet"]["preprocessing"]["mode"] == "torch"


@pytest.mark.slow
def test_imagenet_file_placed_in_the_cache_gives_keras_logits(cache, monkeypatch):
    name = "densenet121_weights_tf_dim_ordering_tf_kernels.h5"
    reference = keras.applications.DenseNet121(weights=None, input_shape=(64, 64, 3),
                                               classifier_activation=None)
    helpers.randomize_batchnorm(reference, seed=3)
    helpers.publish_keras_file(monkeypatch, convert.densenet, 121, reference, cache / name,
                               top=True)
    model = zoo.create_model("densenet121", weights="imagenet", input_shape=(64, 64, 3))
    x = helpers.random_inputs((2, 64, 64, 3), seed=14)
    helpers.assert_close(model(x), reference(x))


@pytest.mark.slow
def test_imagenet_no_top_file_for_a_new_head(cache, monkeypatch):
    name = "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
    reference = keras.applications.DenseNet121(weights=None, include_top=False,
                                               pooling="avg", input_shape=(48, 48, 3))
    helpers.randomize_batchnorm(reference, seed=4)
    helpers.publish_keras_file(monkeypatch, convert.densenet, 121, reference, cache / name,
                               top=False)
    features = zoo.create_model("densenet121", weights="imagenet", include_top=False,
                                pooling="avg", input_shape=(48, 48, 3))
    x = helpers.random_inputs((2, 48, 48, 3), seed=15)
    helpers.assert_close(features(x), reference(x))
    model = zoo.create_model("densenet121", weights="imagenet", num_classes=7,
                             input_shape=(40, 56, 3))
    assert tuple(model.classifier.kernel.shape) == (1024, 7)  # a new head
    np.testing.assert_array_equal(helpers.to_numpy(model.blocks[0].conv.kernel),
                                  helpers.to_numpy(reference.get_layer("conv1_conv").kernel))


# --------------------------------------------------------------------------
# Feature maps, structure, summary, layouts


def test_feature_maps_at_reductions_4_to_32(gray):
    model = small(features_only=True, input_shape=(32, 64, 1))
    assert [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in
            model.feature_info] == [
        ("stage0", 64, 2, "stem_conv"), ("stage1", 256, 4, "stage1"),
        ("stage2", 512, 8, "stage2"), ("stage3", 1024, 16, "stage3"),
        ("stage4", 1024, 32, "final_act")]
    maps = model(helpers.random_inputs((2, 32, 64, 1)))
    assert {name: tuple(v.shape) for name, v in maps.items()} == {
        "stage0": (2, 16, 32, 64), "stage1": (2, 8, 16, 256), "stage2": (2, 4, 8, 512),
        "stage3": (2, 2, 4, 1024), "stage4": (2, 1, 2, 1024)}
    # Stage 4 is the map the head pools: after the final BatchNorm and ReLU.
    assert helpers.to_numpy(maps["stage4"]).min() >= 0
    # A map of the first stages only: nothing after stage 2 is built.
    early = small(features_only=True, out_stages=(1, 2))
    assert [b.name for b in early.blocks][-3:] == ["stage1", "stage1_transition", "stage2"]


def test_last_stage_is_the_model_without_top(gray):
    headless = small(include_top=False, seed=2)
    helpers.randomize_batchnorm(headless, seed=5)
    features = small(features_only=True, out_stages=(4,))
    features.set_weights(headless.get_weights())
    x = gray.example_inputs(batch_size=2, seed=5)
    np.testing.assert_array_equal(helpers.to_numpy(features(x)["stage4"]),
                                  helpers.to_numpy(headless(x)))


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage1")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 11]] == [
        (0, "stage1", "DenseBlock", "(None, 8, 8, 256)"),
        (1, "layer1", "DenseLayer", "(None, 8, 8, 96)"),
        (2, "norm", "BatchNorm", "(None, 8, 8, 64)"),
        (2, "act", "Activation", "(None, 8, 8, 64)"),
        (2, "bottleneck", "ConvBN", "(None, 8, 8, 128)"),
        (3, "conv", "Conv2D", "(None, 8, 8, 128)"),
        (3, "bn", "BatchNorm", "(None, 8, 8, 128)"),
        (3, "act", "Activation", "(None, 8, 8, 128)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 32)"),
        (2, "concat", "Concatenate", "(None, 8, 8, 96)"),
        (1, "layer2", "DenseLayer", "(None, 8, 8, 128)"),
    ]
    top = [(r["name"], r["shape"]) for r in rows if r["depth"] == 0]
    assert top[:5] == [("stem_conv", "(None, 16, 16, 64)"), ("stem_pool_pad", "(None, 18, 18, 64)"),
                       ("stem_pool", "(None, 8, 8, 64)"), ("stage1", "(None, 8, 8, 256)"),
                       ("stage1_transition", "(None, 4, 4, 128)")]
    assert [name for name, _ in top[-5:]] == ["final_norm", "final_act", "avg_pool",
                                              "classifier", "predictions"]
    assert sum(r["params"] for r in rows if r["depth"] == 0) == gray.count_params()
    assert helpers.summary_totals(lines)["Total"] == gray.count_params()


def test_channels_first_matches_channels_last(gray):
    first = small(data_format="channels_first", input_shape=(1, 32, 32))
    first.set_weights(gray.get_weights())
    x = gray.example_inputs(batch_size=2, seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(gray(x, training=False)), atol=1e-5, rtol=0)


def test_defaults_and_config(gray):
    config = gray.get_config()
    assert (config["depth"], config["bn_momentum"], config["bn_epsilon"]) == \
        (121, 0.9, 1.001e-5)  # keras.applications' epsilon, the zoo's momentum
    assert type(DenseNet.from_config(config)) is DenseNet
    assert gray.name == "densenet121" and gray.dropout_layer is None
    assert zoo.create_model("densenet201", input_shape=(32, 32, 3)).name == "densenet201"


def test_dropout_only_in_training(gray):
    # DenseNet has no drop-path; the head's dropout is the only random layer.
    model = gray.rebuilt(dropout=0.5)
    assert model.dropout_layer.rate == 0.5
    x = gray.example_inputs(batch_size=2, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(model(x, training=False)),
                                  helpers.to_numpy(gray(x, training=False)))
    assert not np.array_equal(helpers.to_numpy(model(x, training=True)),
                              helpers.to_numpy(gray(x, training=True)))


def test_sizes_from_the_smallest_and_unknown():
    model = DenseNet(num_classes=2, input_shape=(None, None, 2))
    for size in (densenet.MIN_IMAGE_SIZE, 45):
        assert tuple(model(helpers.random_inputs((1, size, size, 2))).shape) == (1, 2)


# --------------------------------------------------------------------------
# zoo.finetune by stage


@pytest.mark.slow  # 18 s on 2 shared cores: compiling the train step of 121 layers
def test_freeze_up_to_a_stage_is_bit_identical_after_training():
    model = small(seed=1)
    frozen = finetune.freeze(model, upto="stage2")
    assert frozen == ["stem_conv", "stem_pool_pad", "stem_pool", "stage1", "stage1_transition",
                      "stage2", "stage2_transition"]
    layers = finetune.top_level_layers(model)
    before = helpers.weight_snapshot(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    rng = np.random.default_rng(0)
    for _ in range(2):
        model.train_on_batch(rng.standard_normal((4, 32, 32, 1)).astype("float32"),
                             rng.integers(0, 3, size=(4,)))
    after = helpers.weight_snapshot(model)
    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    assert any(p.endswith("moving_variance") for p in frozen_paths)
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    moved = [p for p in set(before) - frozen_paths if not np.array_equal(before[p], after[p])]
    assert any("stage3/" in p for p in moved) and any("final_norm" in p for p in moved)
