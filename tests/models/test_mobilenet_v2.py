"""Tests for `zoo.models.mobilenet_v2` (the registry battery: tests/test_all_models.py)."""

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo import finetune
from zoo.models import mobilenet_v2
from zoo.models.mobilenet_v2 import MobileNetV2


def small(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return MobileNetV2(**{"alpha": 0.35, "num_classes": 3, "input_shape": (32, 32, 1),
                          **kwargs})


@pytest.fixture(scope="module")
def gray():
    return small()


# --------------------------------------------------------------------------
# Parameter counts (the model builds in its constructor: no call needed)


@pytest.mark.parametrize("alpha, total, trainable", [
    # keras.applications.MobileNetV2(weights=None), 224x224x3, 1000 classes.
    (1.0, 3_538_984, 3_504_872),
    (0.35, 1_691_208, 1_677_128),
])
def test_param_counts_equal_keras_applications(alpha, total, trainable):
    model = zoo.create_model("mobilenet_v2", alpha=alpha)
    assert model.input_shape_ == (224, 224, 3) and model.num_classes == 1000
    assert model.count_params() == total
    assert helpers.count_weights(model.trainable_weights) == trainable


@pytest.mark.parametrize("alpha, kwargs", [
    (1.4, {"classes": 10}),
    (0.5, {"include_top": False, "pooling": "avg"}),
    (0.75, {"include_top": False, "pooling": "max"}),
])
def test_param_counts_equal_keras_applications_other_settings(alpha, kwargs):
    k = keras.applications.MobileNetV2(weights=None, alpha=alpha, input_shape=(32, 32, 3),
                                       **kwargs)
    ours = {("num_classes" if key == "classes" else key): value
            for key, value in kwargs.items()}
    model = MobileNetV2(alpha=alpha, input_shape=(32, 32, 3), **ours)
    assert model.count_params() == k.count_params()
    assert helpers.count_weights(model.trainable_weights) == \
        helpers.count_weights(k.trainable_weights)


def test_widths_follow_keras_applications():
    # make_divisible(int(c * alpha)): 24 * 0.35 = 8.4 -> 8; the stem is not
    # truncated first (32 * 0.35 = 11.2 -> 16); the head is never narrowed.
    model = MobileNetV2(alpha=0.35, input_shape=(32, 32, 3))
    assert model.stem.filters == 16 and model.head_conv.filters == 1280
    assert [block.filters for block in model.blocks] == \
        [8, 8, 8, 16, 16, 16, 24, 24, 24, 24, 32, 32, 32, 56, 56, 56, 112]
    assert mobilenet_v2.channel_widths(1.3)[2] == 1664  # (the parameter counts above build it)
    assert [(b.expansion, b.strides) for b in model.blocks][:4] == \
        [(1, 1), (6, 2), (6, 1), (6, 2)]  # block 0 has no expansion


# --------------------------------------------------------------------------
# keras.applications weights


@pytest.fixture(scope="module")
def keras_logits():
    keras.utils.set_random_seed(0)
    k = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(64, 64, 3),
                                       classes=10, classifier_activation=None)
    helpers.randomize_batchnorm(k, seed=1)  # a mis-mapped BN shows
    return k


def test_from_keras_applications_same_logits(keras_logits):
    k = keras_logits
    model = mobilenet_v2.from_keras_applications(k)
    assert isinstance(model, MobileNetV2)
    assert (model.alpha, model.num_classes, model.include_top, model.input_shape_) == \
        (0.35, 10, True, (64, 64, 3))
    assert (model.bn_momentum, model.bn_epsilon) == (0.999, 1e-3)  # Keras' own
    assert model.classifier_activation is None
    assert model.count_params() == k.count_params()
    x = helpers.random_inputs((2, 64, 64, 3), seed=11)
    expected = helpers.to_numpy(k(x, training=False))
    got = helpers.to_numpy(model(x, training=False))
    assert np.abs(expected).max() > 1e-2  # not a degenerate output
    assert np.abs(got - expected).max() < 1e-4


def test_from_keras_applications_overrides(keras_logits):
    model = mobilenet_v2.from_keras_applications(keras_logits, dropout=0.2, bn_momentum=0.9,
                                                 name="tuned")
    assert (model.dropout, model.bn_momentum, model.name) == (0.2, 0.9, "tuned")
    x = helpers.random_inputs((1, 64, 64, 3), seed=12)
    np.testing.assert_allclose(helpers.to_numpy(model(x, training=False)),
                               helpers.to_numpy(keras_logits(x, training=False)),
                               atol=1e-4, rtol=0)


def test_from_keras_applications_without_top_odd_size():
    # 63x63: every stride-2 layer sees an odd size, where "same" pads 1/1.
    k = keras.applications.MobileNetV2(weights=None, alpha=0.5, input_shape=(63, 63, 3),
                                       include_top=False, pooling="avg")
    helpers.randomize_batchnorm(k, seed=2)
    model = mobilenet_v2.from_keras_applications(k)
    assert (model.alpha, model.include_top, model.pooling) == (0.5, False, "avg")
    x = helpers.random_inputs((2, 63, 63, 3), seed=13)
    expected = helpers.to_numpy(k(x, training=False))
    got = helpers.to_numpy(model(x, training=False))
    assert got.shape == expected.shape == (2, 1280)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("bad, fragment", [
    (lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "'bn_Conv1'"),
    (lambda: "not a model", "'bn_Conv1'"),
    (lambda: keras.applications.MobileNet(weights=None, input_shape=(32, 32, 3),
                                          include_top=False), "'bn_Conv1'"),
])
def test_from_keras_applications_rejects_other_models(bad, fragment):
    helpers.assert_rejects(lambda: mobilenet_v2.from_keras_applications(bad()), ValueError,
                           "keras_model", fragment)


def _impostor(model, name, replacement):
    """`model`, as from_keras_applications reads it, with layer `name` replaced."""
    replacement.name = name
    return type("Impostor", (), {
        "layers": [replacement if layer.name == name else layer for layer in model.layers],
        "input_shape": model.input_shape})()


def _built(layer, shape):
    layer.build(shape)
    return layer


@pytest.mark.parametrize("name, replacement, fragments", [
    ("block_5_depthwise", lambda: keras.layers.Conv2D(96, 3),
     ("'block_5_depthwise'", "Conv2D", "DepthwiseConv2D")),
    ("block_5_expand_BN", lambda: _built(keras.layers.BatchNormalization(), (None, 4, 4, 7)),
     ("'block_5_expand_BN'", "(7,)", "stage3_block3/expand/bn")),
])
def test_from_keras_applications_names_the_layer_that_does_not_fit(
        keras_logits, name, replacement, fragments):
    bad = _impostor(keras_logits, name, replacement())
    helpers.assert_rejects(lambda: mobilenet_v2.from_keras_applications(bad), ValueError,
                           *fragments)


# --------------------------------------------------------------------------
# Structure, summary, layouts


def test_layer_names_are_stages_and_blocks(gray):
    names = [layer.name for layer in finetune.top_level_layers(gray)]
    assert names[0] == "stem_conv" and names[-4:] == ["head_conv", "avg_pool", "classifier",
                                                      "predictions"]
    assert names[1:-4] == [f"stage{s}_block{i}" for s, (_, _, n, _) in
                           enumerate(mobilenet_v2.MOBILENET_V2_SPECS, 1)
                           for i in range(1, n + 1)]
    paths = {w.path.split("/", 1)[1] for w in gray.weights}
    assert {"stage2_block1/expand/conv/kernel", "stage2_block2/depthwise/bn/moving_mean",
            "stage7_block1/project/bn/gamma", "head_conv/conv/kernel",
            "classifier/kernel"} <= paths


def test_summary_opens_the_blocks(gray):
    lines = helpers.summary_lines(gray)
    rows = helpers.summary_rows(lines)
    start = [r["name"] for r in rows].index("stage2_block1")
    assert [(r["depth"], r["name"], r["type"], r["shape"]) for r in rows[start:start + 12]] == [
        (0, "stage2_block1", "InvertedResidual", "(None, 8, 8, 8)"),
        (1, "expand", "ConvBN", "(None, 16, 16, 48)"),
        (2, "conv", "Conv2D", "(None, 16, 16, 48)"),
        (2, "bn", "BatchNorm", "(None, 16, 16, 48)"),
        (2, "act", "Activation", "(None, 16, 16, 48)"),
        (1, "depthwise", "ConvBN", "(None, 8, 8, 48)"),
        (2, "conv", "DepthwiseConv2D", "(None, 8, 8, 48)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 48)"),
        (2, "act", "Activation", "(None, 8, 8, 48)"),
        (1, "project", "ConvBN", "(None, 8, 8, 8)"),
        (2, "conv", "Conv2D", "(None, 8, 8, 8)"),
        (2, "bn", "BatchNorm", "(None, 8, 8, 8)"),
    ]
    # stage2_block2 keeps width and size: its input is added back.
    assert (1, "add", "Add") in {(r["depth"], r["name"], r["type"]) for r in rows}
    assert [r for r in rows if r["depth"] == 0][-4]["shape"] == "(None, 1, 1, 1280)"
    assert sum(r["params"] for r in rows if r["depth"] == 0) == gray.count_params()
    assert helpers.summary_totals(lines)["Total"] == gray.count_params()


@pytest.mark.parametrize("pooling, shape", [(None, (2, 1, 1, 1280)), ("avg", (2, 1280)),
                                            ("max", (2, 1280))])
def test_feature_extractor_outputs(pooling, shape):
    model = small(include_top=False, pooling=pooling)
    assert tuple(model(model.example_inputs(batch_size=2)).shape) == shape
    assert model.classifier is None


def test_channels_first_matches_channels_last(gray):
    first = small(data_format="channels_first", input_shape=(1, 32, 32))
    first.set_weights(gray.get_weights())
    x = gray.example_inputs(batch_size=2, seed=3)
    np.testing.assert_allclose(
        helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False)),
        helpers.to_numpy(gray(x, training=False)), atol=1e-5, rtol=0)


def test_defaults_and_config():
    model = small()
    config = model.get_config()
    assert (config["bn_momentum"], config["bn_epsilon"], config["dropout"]) == (0.9, 1e-3, 0.0)
    assert model.dropout_layer is None  # nothing between pool and classifier at 0
    assert MobileNetV2(alpha=1, input_shape=(8, 8, 3)).alpha == 1.0  # an int is fine
    assert type(MobileNetV2.from_config(config)) is MobileNetV2
    assert model.name == "mobilenet_v2"  # the registered name, alpha in the config


def test_dropout_only_in_training(gray):
    model = gray.rebuilt(dropout=0.5)
    assert model.dropout_layer.rate == 0.5
    x = gray.example_inputs(batch_size=2, seed=4)
    np.testing.assert_array_equal(helpers.to_numpy(model(x, training=False)),
                                  helpers.to_numpy(gray(x, training=False)))


def test_small_inputs_any_size_and_channels():
    model = MobileNetV2(alpha=0.35, num_classes=2, input_shape=(None, None, 5))
    for size in (1, 17, 40):
        assert tuple(model(helpers.random_inputs((1, size, size, 5))).shape) == (1, 2)


def test_mixed_precision_model():
    model = small(dtype="mixed_bfloat16")
    y = model(model.example_inputs(batch_size=2))
    assert helpers.dtype_name(y) == "float32"  # the head runs in float32
    assert {helpers.dtype_name(w) for w in model.weights} == {"float32"}
    assert helpers.dtype_name(model.blocks[3].project.conv.kernel) == "float32"


# --------------------------------------------------------------------------
# zoo.finetune by stage

BN_STATS = ("moving_mean", "moving_variance")


def _batch(seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((8, 32, 32, 1)).astype("float32"),
            rng.integers(0, 3, size=(8,)))


def test_freeze_the_backbone_by_name(gray):
    model = gray.rebuilt()
    frozen = finetune.freeze(model, upto="head_conv")
    assert frozen[0] == "stem_conv" and frozen[-2:] == ["stage7_block1", "head_conv"]
    assert {v.path.split("/", 1)[1] for v in model.trainable_weights} == {
        "classifier/kernel", "classifier/bias"}


def test_freeze_all_but_the_last_stage_is_bit_identical_after_training():
    model = small(seed=1)
    frozen = finetune.freeze(model, upto="stage6")
    layers = finetune.top_level_layers(model)
    trained = ["stage7_block1", "head_conv", "avg_pool", "classifier", "predictions"]
    assert frozen == [layer.name for layer in layers][:-len(trained)]
    before = helpers.weight_snapshot(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    for step in range(2):
        model.train_on_batch(*_batch(step))
    after = helpers.weight_snapshot(model)

    frozen_paths = {v.path for layer in layers if layer.name in frozen for v in layer.weights}
    assert {p.rsplit("/", 1)[-1] for p in frozen_paths} >= {
        "kernel", "gamma", "beta", "moving_mean", "moving_variance"}
    changed = sorted(p for p in frozen_paths if not np.array_equal(before[p], after[p]))
    assert not changed, f"frozen weights changed: {changed}"
    moving = {v.path for v in model.trainable_weights} | {
        getattr(bn, stat).path for layer in layers if layer.name in trained
        for bn in helpers.batchnorm_layers(layer) for stat in BN_STATS}
    assert moving and moving | frozen_paths == set(before)
    still = sorted(p for p in moving if np.array_equal(before[p], after[p]))
    assert not still, f"unfrozen weights did not move: {still}"
