"""Tests for `zoo.models.resnet` (every registered model: tests/test_all_models.py)."""

import json

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo.models import resnet
from zoo.models.resnet import ResNet

# --------------------------------------------------------------------------
# Parameter counts


@pytest.mark.parametrize("name, trainable", [
    # torchvision's counts (conv without bias + BN gamma/beta + fc).
    ("resnet18", 11_689_512),
    ("resnet34", 21_797_672),
    ("resnet50", 25_557_032),
    ("resnet101", 44_549_160),
    ("resnet152", 60_192_808),
])
def test_imagenet_trainable_param_counts(name, trainable):
    model = zoo.create_model(name, num_classes=1000, stride_in_1x1=True)
    assert helpers.count_weights(model.trainable_weights) == trainable


def _conv(k, c_in, c_out):
    return k * k * c_in * c_out  # no bias: BN follows


def _bn(c):
    return 2 * c  # gamma, beta (moving mean/variance are not trainable)


def _cifar_trainable(n, num_classes, in_channels=3):
    """ResNet-(6n+2) of the paper's section 4.2, projection shortcuts (option B)."""
    total = _conv(3, in_channels, 16) + _bn(16)
    c_in = 16
    for width in (16, 32, 64):
        for i in range(n):
            total += _conv(3, c_in, width) + _bn(width) + _conv(3, width, width) + _bn(width)
            if c_in != width:
                total += _conv(1, c_in, width) + _bn(width)
            c_in = width
    return total + 64 * num_classes + num_classes


def test_cifar_resnet20_trainable_param_count_from_first_principles():
    # 432 + 32 (stem) + 3 * 4672 (stage 1) + 14528 + 2 * 18560 (stage 2)
    # + 57728 + 2 * 73984 (stage 3) + 650 (head) = 272,474: the paper's
    # "0.27M" (its option-A shortcuts have no parameters; ours are 1x1 convs).
    assert _cifar_trainable(3, 10) == 272_474
    model = zoo.create_model("resnet20", num_classes=10)
    assert helpers.count_weights(model.trainable_weights) == 272_474
    # Non-trainable: moving mean and variance of every BN channel:
    # 16 (stem) + 6 * 16 + (6 * 32 + 32) + (6 * 64 + 64) = 784 channels.
    assert helpers.count_weights(model.non_trainable_weights) == 2 * 784


@pytest.mark.parametrize("name, n", [("resnet20", 3), ("resnet32", 5), ("resnet44", 7),
                                     ("resnet56", 9), ("resnet110", 18)])
def test_cifar_trainable_param_counts(name, n):
    model = zoo.create_model(name, num_classes=10, input_shape=(32, 32, 1))
    assert helpers.count_weights(model.trainable_weights) == _cifar_trainable(n, 10, 1)
    assert len(model.blocks) == 3 * n
    assert 2 * len(model.blocks) + 2 == model.depth


def test_non_trainable_params_are_bn_statistics():
    model = zoo.create_model("resnet20", num_classes=10)
    bns = helpers.batchnorm_layers(model)
    assert len(bns) == 1 + 2 * 9 + 2  # stem, two per block, two projections
    assert helpers.count_weights(model.non_trainable_weights) == sum(
        2 * bn.moving_mean.shape[0] for bn in bns)


# --------------------------------------------------------------------------
# Parity with keras.applications


def _randomize_keras_resnet(model, seed=0):
    """Non-trivial BN statistics and conv biases, so bias folding matters."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.0, gamma.shape).astype("float32"),
                rng.normal(0.0, 0.2, beta.shape).astype("float32"),
                rng.normal(0.0, 0.5, mean.shape).astype("float32"),
                rng.uniform(1.0, 2.0, variance.shape).astype("float32"),
            ])
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, 0.5, bias.shape).astype("float32")])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, 0.5, bias.shape).astype("float32")])


@pytest.fixture(scope="module")
def keras_resnet50_logits():
    k = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10,
                                    classifier_activation=None)
    _randomize_keras_resnet(k)
    return k


@pytest.mark.parametrize("classifier_activation", [None, "softmax"])
def test_from_keras_applications_matches(keras_resnet50_logits, classifier_activation):
    k = keras_resnet50_logits
    if classifier_activation is not None:
        # Same weights, softmax head.
        k2 = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10,
                                         classifier_activation=classifier_activation)
        k2.set_weights(k.get_weights())
        k = k2
    model = resnet.from_keras_applications(k)
    assert isinstance(model, ResNet)
    assert (model.depth, model.stride_in_1x1, model.num_classes) == (50, True, 10)
    assert model.bn_epsilon == 1.001e-5  # Keras' own, which its weights were trained with
    assert model.classifier_activation == classifier_activation
    assert model.input_shape_ == (64, 64, 3)
    # The BN folding is really exercised: biases are not zero.
    assert np.abs(k.get_layer("conv1_conv").get_weights()[1]).max() > 0.1

    x = helpers.random_inputs((2, 64, 64, 3), seed=11)
    expected = helpers.to_numpy(k(x, training=False))
    got = helpers.to_numpy(model(x, training=False))
    assert np.abs(expected).max() > 1e-2  # not a degenerate all-zero output
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    # Every keras.applications parameter but the conv biases was copied.
    conv_biases = sum(layer.bias.shape[0] for layer in k.layers
                      if isinstance(layer, keras.layers.Conv2D))
    assert model.count_params() == k.count_params() - conv_biases


@pytest.mark.parametrize("pooling", ["avg", "max", None])
def test_from_keras_applications_without_top(pooling):
    k = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3),
                                    include_top=False, pooling=pooling)
    _randomize_keras_resnet(k, seed=1)
    model = resnet.from_keras_applications(k)
    assert (model.include_top, model.pooling) == (False, pooling)
    x = helpers.random_inputs((2, 64, 64, 3), seed=12)
    expected = helpers.to_numpy(k(x, training=False))
    got = helpers.to_numpy(model(x, training=False))
    assert got.shape == expected.shape == ((2, 2048) if pooling else (2, 2, 2, 2048))
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1, np.abs(expected).max()),
                               rtol=0)


@pytest.mark.parametrize("bad", [
    lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
    lambda: "not a model",
    lambda: keras.applications.ResNet50V2(weights=None, input_shape=(32, 32, 3),
                                          include_top=False),
])
def test_from_keras_applications_rejects_other_models(bad):
    with pytest.raises(ValueError, match="keras_model"):
        resnet.from_keras_applications(bad())


# --------------------------------------------------------------------------
# summary()


@pytest.fixture(scope="module")
def resnet20_gray():
    return zoo.create_model("resnet20", num_classes=10, input_shape=(32, 32, 1))


def _rows_by_name(rows, depth=0):
    return {r["name"]: r for r in rows if r["depth"] == depth}


def test_summary_shapes_resnet20(resnet20_gray):
    model = resnet20_gray
    lines = helpers.summary_lines(model)
    rows = helpers.summary_rows(lines)
    assert not any("?" in line for line in lines)
    top = _rows_by_name(rows)
    assert top["stem_conv"]["shape"] == "(None, 32, 32, 16)"
    assert top["stage1_block3"]["shape"] == "(None, 32, 32, 16)"
    assert (top["stage2_block1"]["type"], top["stage2_block1"]["shape"]) == \
        ("BasicBlock", "(None, 16, 16, 32)")
    assert top["stage3_block3"]["shape"] == "(None, 8, 8, 64)"
    assert top["avg_pool"]["shape"] == "(None, 64)"
    assert top["classifier"]["shape"] == "(None, 10)"

    # The rows under stage2_block1, up to the next top-level row.
    start = next(i for i, r in enumerate(rows) if r["name"] == "stage2_block1")
    end = next(i for i in range(start + 1, len(rows)) if rows[i]["depth"] == 0)
    children = _rows_by_name(rows[start + 1:end], depth=1)
    assert children["shortcut"]["type"] == "ConvBN"
    assert children["shortcut"]["shape"] == "(None, 16, 16, 32)"
    assert children["shortcut"]["params"] == 16 * 32 + 4 * 32
    assert children["conv1"]["shape"] == "(None, 16, 16, 32)"
    grandchildren = [r for r in rows[start + 1:end] if r["depth"] == 2]
    assert ("pad", "ZeroPadding2D", "(None, 34, 34, 16)") in [
        (r["name"], r["type"], r["shape"]) for r in grandchildren]
    # A block's row counts its own and its sublayers' weights.
    assert top["stage2_block1"]["params"] == sum(r["params"] for r in children.values())


def test_summary_totals_match_the_model(resnet20_gray):
    model = resnet20_gray
    totals = helpers.summary_totals(helpers.summary_lines(model))
    trainable = helpers.count_weights(model.trainable_weights)
    non_trainable = helpers.count_weights(model.non_trainable_weights)
    assert totals == {"Total": model.count_params(), "Trainable": trainable,
                      "Non-trainable": non_trainable}
    assert totals["Total"] == model.functional().count_params()
    rows = helpers.summary_rows(helpers.summary_lines(model, expand_nested=False))
    assert sum(r["params"] for r in rows) == model.count_params()


def test_summary_resnet50_imagenet_shapes():
    model = zoo.create_model("resnet50", num_classes=10)
    lines = helpers.summary_lines(model, expand_nested=False)
    top = _rows_by_name(helpers.summary_rows(lines))
    assert top["stem_conv"]["shape"] == "(None, 112, 112, 64)"
    assert top["stem_pool"]["shape"] == "(None, 56, 56, 64)"
    assert top["stage1_block3"]["shape"] == "(None, 56, 56, 256)"
    assert top["stage4_block3"]["shape"] == "(None, 7, 7, 2048)"
    assert top["avg_pool"]["shape"] == "(None, 2048)"
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


def test_summary_expand_nested_false_shows_only_top_level(resnet20_gray):
    model = resnet20_gray
    lines = helpers.summary_lines(model, expand_nested=False)
    rows = helpers.summary_rows(lines)
    assert rows and all(r["depth"] == 0 for r in rows)
    assert [r["name"] for r in rows] == [layer.name for layer in model.layers]
    assert not any(r["type"] in ("Conv2D", "BatchNorm") for r in rows)
    assert len(helpers.summary_rows(helpers.summary_lines(model))) > len(rows)


def test_summary_unknown_spatial_dims_show_none():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(None, None, 3))
    lines = helpers.summary_lines(model)
    top = _rows_by_name(helpers.summary_rows(lines))
    assert top["stem_conv"]["shape"] == "(None, None, None, 16)"
    assert top["stage3_block3"]["shape"] == "(None, None, None, 64)"
    assert top["avg_pool"]["shape"] == "(None, 64)"
    assert top["classifier"]["shape"] == "(None, 5)"
    assert not any("?" in line for line in lines)
    # It still runs on any size.
    assert tuple(model(helpers.random_inputs((2, 20, 12, 3))).shape) == (2, 5)


def test_summary_leaves_no_trace(resnet20_gray):
    model = resnet20_gray
    x = helpers.random_inputs((2, 32, 32, 1), seed=4)
    before = helpers.to_numpy(model(x, training=False))
    first = helpers.summary_lines(model)
    for layer in model._flatten_layers(include_self=True, recursive=True):
        assert "call" not in vars(layer), f"{layer.name} kept an instance `call`"
        assert layer.call.__func__ is type(layer).call
    assert helpers.summary_lines(model) == first  # idempotent
    np.testing.assert_array_equal(helpers.to_numpy(model(x, training=False)), before)


def test_summary_show_trainable():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))
    model.blocks[0].trainable = False
    lines = helpers.summary_lines(model, show_trainable=True, expand_nested=False)
    rows = {r["name"]: r for r in helpers.summary_rows(lines)}
    assert rows["stage1_block1"]["trainable"] == "N"
    assert rows["stage1_block2"]["trainable"] == "Y"
    totals = helpers.summary_totals(lines)
    assert totals["Trainable"] == helpers.count_weights(model.trainable_weights)
    assert totals["Non-trainable"] == helpers.count_weights(model.non_trainable_weights)


def test_layer_table_paths_are_hierarchical(resnet20_gray):
    rows = resnet20_gray.layer_table()
    paths = [r["path"] for r in rows]
    assert "stage2_block1/shortcut/conv" in paths
    assert len(paths) == len(set(paths))


# --------------------------------------------------------------------------
# functional()


def test_functional_view_same_outputs_and_shared_variables():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))
    helpers.randomize_batchnorm(model, seed=2)
    view = model.functional()
    x = helpers.random_inputs((2, 16, 16, 3), seed=1)
    expected = helpers.to_numpy(model(x, training=False))
    np.testing.assert_allclose(helpers.to_numpy(view(x, training=False)), expected,
                               atol=1e-5, rtol=0)
    assert {id(v) for v in view.weights} == {id(v) for v in model.weights}
    bias = model.classifier.bias
    bias.assign(bias + 1.0)
    np.testing.assert_allclose(helpers.to_numpy(view(x, training=False)), expected + 1.0,
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(helpers.to_numpy(model(x, training=False)), expected + 1.0,
                               atol=1e-5, rtol=0)
    assert tuple(view.input_shape) == (None, 16, 16, 3)


# --------------------------------------------------------------------------
# Layouts, precision, options


@pytest.mark.parametrize("name, size", [("resnet20", 16), ("resnet18", 32)])
def test_channels_first_matches_channels_last(name, size):
    last = zoo.create_model(name, num_classes=5, input_shape=(size, size, 3))
    first = zoo.create_model(name, num_classes=5, input_shape=(3, size, size),
                             data_format="channels_first")
    assert first.input_channels == 3
    assert tuple(first.input_signature.shape) == (None, 3, size, size)
    helpers.randomize_batchnorm(last, seed=3)
    # Keras stores kernels as (kh, kw, in, out) in both layouts.
    first.set_weights(last.get_weights())
    x = helpers.random_inputs((2, size, size, 3), seed=5)
    expected = helpers.to_numpy(last(x, training=False))
    got = helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)), training=False))
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1, np.abs(expected).max()),
                               rtol=0)


def test_channels_first_input_shape_with_unknown_spatial_dims():
    model = ResNet(depth=20, num_classes=5, input_shape=(1, None, None),
                   data_format="channels_first")
    assert model.input_channels == 1
    assert tuple(model(helpers.random_inputs((2, 1, 16, 16))).shape) == (2, 5)


@pytest.mark.parametrize("policy", helpers.MIXED_POLICIES)
def test_mixed_precision_model(policy):
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3),
                             dtype=policy)
    x = model.example_inputs()
    y = model(x, training=False)
    # The head runs in float32 (stable softmax / loss); everything else in
    # the compute dtype; every variable in float32.
    assert helpers.dtype_name(y) == "float32"
    assert helpers.dtype_name(model.blocks[0](model.stem[0](x))) == \
        keras.DTypePolicy(policy).compute_dtype
    assert {helpers.dtype_name(v) for v in model.weights} == {"float32"}
    assert np.all(np.isfinite(helpers.to_numpy(y)))
    clone = ResNet.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.dtype_policy.name == policy


def test_global_mixed_policy_is_picked_up():
    keras.config.set_dtype_policy("mixed_float16")  # conftest restores it
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))
    assert model.dtype_policy.name == "mixed_float16"
    assert model.blocks[0].compute_dtype == "float16"
    assert helpers.dtype_name(model(model.example_inputs())) == "float32"


@pytest.mark.parametrize("pooling, shape", [(None, (2, 4, 4, 64)), ("avg", (2, 64)),
                                            ("max", (2, 64))])
def test_feature_extractor_outputs(pooling, shape):
    model = zoo.create_model("resnet20", include_top=False, pooling=pooling,
                             input_shape=(16, 16, 3))
    assert model.classifier is None
    assert tuple(model(model.example_inputs()).shape) == shape
    lines = helpers.summary_lines(model)
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


def test_softmax_head_sums_to_one():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3),
                             classifier_activation="softmax")
    y = helpers.to_numpy(model(model.example_inputs()))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("stride_in_1x1", [True, False])
def test_stride_in_1x1_is_forwarded_to_blocks(stride_in_1x1):
    model = zoo.create_model("resnet50", num_classes=5, input_shape=(32, 32, 3),
                             stride_in_1x1=stride_in_1x1)
    block = model.blocks[3]  # stage2_block1, strided
    assert block.name == "stage2_block1" and block.strides == 2
    assert all(b.stride_in_1x1 is stride_in_1x1 for b in model.blocks)
    strided = [u.conv.strides for u in block.branch].index((2, 2))
    assert strided == (0 if stride_in_1x1 else 1)


@pytest.mark.parametrize("kwargs, epsilon", [
    ({}, 1e-5),  # v1.5: torchvision, timm and keras-hub
    ({"stride_in_1x1": False}, 1e-5),
    ({"stride_in_1x1": True}, 1.001e-5),  # v1: keras.applications
    ({"stride_in_1x1": True, "bn_epsilon": 1e-3}, 1e-3),  # an explicit value wins
    ({"bn_epsilon": 2e-5}, 2e-5),
])
def test_bn_epsilon_defaults_to_the_reference_of_the_layout(kwargs, epsilon):
    model = zoo.create_model("resnet50", num_classes=5, input_shape=(32, 32, 3), **kwargs)
    assert model.bn_epsilon == epsilon
    assert model.get_config()["bn_epsilon"] == epsilon
    bns = helpers.batchnorm_layers(model)
    assert len(bns) == 53 and {bn.epsilon for bn in bns} == {epsilon}
    # The config holds the value, so a file saved before the default changed
    # (1.001e-5 everywhere) loads with the epsilon it was trained with.
    assert ResNet.from_config(model.get_config()).bn_epsilon == epsilon


def test_zero_init_residual_reaches_every_block():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3),
                             zero_init_residual=True)
    for block in model.blocks:
        assert np.all(helpers.to_numpy(block.branch[-1].bn.gamma) == 0), block.name


def test_example_inputs_and_signature():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(None, 16, 3))
    assert tuple(model.input_signature.shape) == (None, None, 16, 3)
    x = model.example_inputs(batch_size=3, seed=1, unknown_dim=8)
    assert x.shape == (3, 8, 16, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, model.example_inputs(batch_size=3, seed=1,
                                                          unknown_dim=8))
    assert zoo.create_model("resnet50").input_shape_ == (224, 224, 3)
    assert zoo.create_model("resnet20").input_shape_ == (32, 32, 3)


def test_layer_names_are_stable_weight_keys():
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))
    paths = {w.path for w in model.weights}
    for path in ["resnet20/stem_conv/conv/kernel",
                 "resnet20/stage2_block1/conv1/conv/kernel",
                 "resnet20/stage2_block1/shortcut/bn/moving_mean",
                 "resnet20/stage3_block3/conv2/bn/gamma",
                 "resnet20/classifier/kernel"]:
        assert path in paths, path


# --------------------------------------------------------------------------
# .keras round-trip in a fresh process


def test_keras_file_round_trip_in_fresh_process(tmp_path):
    model = zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))
    helpers.randomize_batchnorm(model, seed=8)
    report = helpers.run_export_test(model, tmp_path, formats=("keras",),
                                     inputs=model.example_inputs(batch_size=2, seed=3))
    assert (report["keras"]["type"], report["keras"]["name"]) == ("ResNet", "resnet20")


# --------------------------------------------------------------------------
# Bad arguments and inputs


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"depth": 42}, "depth", "42"),
    ({"depth": "50"}, "depth", "'50'"),
    ({"depth": 50.0}, "depth", "50.0"),
    ({"pooling": "mean"}, "pooling", "mean"),
    ({"data_format": "channel_last"}, "data_format", "channel_last"),
    ({"input_shape": (32, 32)}, "input_shape", "(32, 32)"),
    ({"input_shape": (0, 32, 3)}, "input_shape", "(0, 32, 3)"),
    ({"input_shape": (32, 32, None)}, "input_shape", "(32, 32, None)"),
    ({"input_shape": (32, 32, 3, 1)}, "input_shape", "(32, 32, 3, 1)"),
    ({"input_shape": 32}, "input_shape", "32"),
    ({"num_classes": 0}, "num_classes", "0"),
    ({"num_classes": -1}, "num_classes", "-1"),
    ({"num_classes": 10.0}, "num_classes", "10.0"),
])
def test_bad_arguments(kwargs, argument, value):
    args = {"depth": 20, **kwargs}
    # A wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError)) as info:
        ResNet(**args)
    message = str(info.value)
    assert argument in message and value in message, message


def test_bn_synchronized_off_tensorflow_is_a_clear_error(non_tensorflow_backend):
    with pytest.raises(ValueError) as info:
        zoo.create_model("resnet20", num_classes=5, bn_synchronized=True)
    message = str(info.value)
    assert "bn_synchronized=True" in message and repr(non_tensorflow_backend) in message, \
        message


@pytest.fixture(scope="module")
def rgb_model():
    return zoo.create_model("resnet20", num_classes=5, input_shape=(16, 16, 3))


def test_wrong_channel_count_names_channels_and_shape(rgb_model):
    with pytest.raises(ValueError) as info:
        rgb_model(np.zeros((2, 16, 16, 1), "float32"))
    message = str(info.value)
    assert "channels" in message and "(2, 16, 16, 1)" in message and "3" in message
    with pytest.raises(ValueError, match="channels"):
        rgb_model.predict(np.zeros((2, 16, 16, 1), "float32"), verbose=0)
    # The error leaves the model usable (on JAX, Keras' predict had detached
    # the weights when it raised: ZooModel.predict puts them back).
    assert rgb_model.predict(np.zeros((2, 16, 16, 3), "float32"), verbose=0).shape == (2, 5)
    assert tuple(rgb_model(np.zeros((2, 16, 16, 3), "float32")).shape) == (2, 5)


@pytest.mark.parametrize("shape", [(16, 16, 3), (2, 16, 16), (2, 16, 16, 3, 1)])
def test_wrong_rank_names_shape(rgb_model, shape):
    with pytest.raises(ValueError) as info:
        rgb_model(np.zeros(shape, "float32"))
    message = str(info.value)
    assert str(shape) in message and "rank 4" in message, message


def test_other_spatial_sizes_are_fine(rgb_model):
    assert tuple(rgb_model(np.zeros((2, 24, 40, 3), "float32")).shape) == (2, 5)
