"""Tests for `zoo.blocks.residual`: BasicBlock and Bottleneck."""


import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import BasicBlock, Bottleneck, ConvBN

X_SHAPE = (2, 8, 8, 4)


@pytest.mark.parametrize("filters, strides, projection", [
    (4, 1, False),  # identity shortcut
    (8, 1, True),   # width change -> projection
    (4, 2, True),   # stride -> projection
    (8, 2, True),
])
@pytest.mark.parametrize("zero_init_residual", [False, True])
def test_basic_block_contract(filters, strides, projection, zero_init_residual):
    size = 8 // strides
    layer = helpers.run_layer_test(
        BasicBlock,
        {"filters": filters, "strides": strides, "zero_init_residual": zero_init_residual},
        input_shape=X_SHAPE,
        expected_output_shape=(2, size, size, filters),
        # Behind a zero gamma the branch kernels get no gradient at step one.
        expect_all_trainable_updated=not zero_init_residual,
    )
    assert (layer.shortcut is not None) == projection
    assert [unit.name for unit in layer.branch] == ["conv1", "conv2"]
    assert layer.branch[0].strides == strides and layer.branch[1].strides == 1
    assert layer.branch[-1].activation is None


@pytest.mark.parametrize("filters, strides, in_channels, projection", [
    (1, 1, 4, False),  # 4 * 1 == 4 channels in: identity
    (2, 1, 4, True),
    (2, 2, 4, True),
    (1, 2, 4, True),
])
@pytest.mark.parametrize("stride_in_1x1", [False, True])
def test_bottleneck_contract(filters, strides, in_channels, projection, stride_in_1x1):
    size = 8 // strides
    layer = helpers.run_layer_test(
        Bottleneck,
        {"filters": filters, "strides": strides, "stride_in_1x1": stride_in_1x1},
        input_shape=(2, 8, 8, in_channels),
        expected_output_shape=(2, size, size, 4 * filters),
    )
    assert (layer.shortcut is not None) == projection
    assert layer.get_config()["stride_in_1x1"] is stride_in_1x1


@pytest.mark.parametrize("stride_in_1x1, strided_unit", [(True, 0), (False, 1)])
def test_bottleneck_stride_lands_on_the_right_conv(stride_in_1x1, strided_unit):
    layer = Bottleneck(2, strides=2, stride_in_1x1=stride_in_1x1)
    layer.build(X_SHAPE)
    strides = [unit.conv.strides for unit in layer.branch]
    expected = [(1, 1)] * 3
    expected[strided_unit] = (2, 2)
    assert strides == expected
    assert [unit.conv.kernel_size for unit in layer.branch] == [(1, 1), (3, 3), (1, 1)]
    assert layer.shortcut.conv.strides == (2, 2)

    # Inner output shapes: the resolution halves exactly at the strided unit.
    shape = X_SHAPE
    sizes = []
    for unit in layer.branch:
        shape = unit.compute_output_shape(shape)
        sizes.append(tuple(shape)[1])
    assert sizes == ([4, 4, 4] if stride_in_1x1 else [8, 4, 4])
    assert tuple(shape)[-1] == 8
    # Only a strided 3x3 needs explicit padding; a strided 1x1 needs none.
    assert (layer.branch[1].pad is not None) == (not stride_in_1x1)
    assert layer.branch[0].pad is None


def _last_bn_gamma(block):
    return helpers.to_numpy(block.branch[-1].bn.gamma)


@pytest.mark.parametrize("make", [
    lambda: BasicBlock(4, zero_init_residual=True),
    lambda: BasicBlock(8, strides=2, zero_init_residual=True),
    lambda: Bottleneck(1, zero_init_residual=True),
    lambda: Bottleneck(2, strides=2, zero_init_residual=True),
])
def test_zero_init_residual_starts_as_relu_of_shortcut(make):
    block = make()
    x = helpers.random_inputs(X_SHAPE, seed=5)
    y = helpers.to_numpy(block(x, training=False))
    assert np.all(_last_bn_gamma(block) == 0)
    # Only the last BN of the branch is zeroed.
    for unit in block.branch[:-1]:
        assert np.all(helpers.to_numpy(unit.bn.gamma) == 1)
    if block.shortcut is not None:
        assert np.all(helpers.to_numpy(block.shortcut.bn.gamma) == 1)
        shortcut = helpers.to_numpy(block.shortcut(x, training=False))
    else:
        shortcut = x
    np.testing.assert_allclose(y, np.maximum(shortcut, 0.0), atol=1e-6, rtol=0)
    # And the flag survives a config round-trip.
    clone = type(block).from_config(block.get_config())
    clone(x)
    assert np.all(_last_bn_gamma(clone) == 0)


def test_default_init_last_gamma_is_one():
    block = BasicBlock(4)
    block.build(X_SHAPE)
    assert np.all(_last_bn_gamma(block) == 1)


def test_block_computes_relu_of_branch_plus_shortcut():
    block = BasicBlock(8, strides=2)
    x = helpers.random_inputs(X_SHAPE, seed=2)
    block(x)
    helpers.randomize_batchnorm(block, seed=3)
    h = x
    for unit in block.branch:
        h = unit(h, training=False)
    expected = np.maximum(helpers.to_numpy(h) + helpers.to_numpy(block.shortcut(x)), 0.0)
    np.testing.assert_allclose(helpers.to_numpy(block(x, training=False)), expected,
                               atol=1e-6, rtol=0)


def test_stride2_3x3_pads_symmetrically_inside_block():
    block = BasicBlock(4, strides=2)
    x = helpers.random_inputs(X_SHAPE, seed=7)
    block(x)
    conv1 = block.branch[0]
    assert isinstance(conv1, ConvBN) and conv1.pad is not None
    assert conv1.pad.padding == ((1, 1), (1, 1))
    manual = keras.ops.conv(keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
                            conv1.conv.kernel, strides=2, padding="valid")
    np.testing.assert_allclose(helpers.to_numpy(conv1.conv(conv1.pad(x))),
                               helpers.to_numpy(manual), atol=1e-6, rtol=0)


def test_sublayer_names_are_stable_weight_keys():
    block = Bottleneck(2, strides=2, name="stage2_block1")
    block.build(X_SHAPE)
    paths = [w.path for w in block.weights]
    for name in ["conv1", "conv2", "conv3", "shortcut"]:
        assert f"stage2_block1/{name}/conv/kernel" in paths
        assert f"stage2_block1/{name}/bn/moving_mean" in paths


@pytest.mark.parametrize("cls", [BasicBlock, Bottleneck])
@pytest.mark.parametrize("kwargs, argument, value", [
    ({"filters": 0}, "filters", "0"),
    ({"filters": -4}, "filters", "-4"),
    ({"strides": -1}, "strides", "-1"),
    ({"strides": 0}, "strides", "0"),
    ({"strides": 1.5}, "strides", "1.5"),
    ({"data_format": "channel_last"}, "data_format", "channel_last"),
])
def test_bad_arguments(cls, kwargs, argument, value):
    args = {"filters": 4, **kwargs}
    with pytest.raises((TypeError, ValueError)) as info:
        cls(**args)
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("cls", [BasicBlock, Bottleneck])
@pytest.mark.parametrize("shape", [(8, 8, 4), (2, 8, 8, 8, 4)])
def test_wrong_rank_names_layer_and_shape(cls, shape):
    layer = cls(4, name="my_block")
    with pytest.raises(ValueError) as info:
        layer(np.zeros(shape, "float32"))
    message = str(info.value)
    assert "my_block" in message and str(shape) in message, message


@pytest.mark.parametrize("cls", [BasicBlock, Bottleneck])
def test_unknown_channels_is_a_clear_error(cls):
    layer = cls(4, name="my_block")
    with pytest.raises(ValueError, match="my_block"):
        layer.build((None, 8, 8, None))


@pytest.mark.parametrize("make", [
    lambda: ConvBN(4, 3, bn_synchronized=True),
    lambda: BasicBlock(4, bn_synchronized=True),
    lambda: Bottleneck(4, bn_synchronized=True),
], ids=["ConvBN", "BasicBlock", "Bottleneck"])
def test_bn_synchronized_off_tensorflow_is_a_clear_error(non_tensorflow_backend, make):
    # SyncBatchNorm is tf.distribute's; say so when the block is made, not
    # from inside Keras' BatchNormalization.
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert "bn_synchronized=True" in message and repr(non_tensorflow_backend) in message, \
        message


@pytest.mark.tensorflow_only("SyncBatchNorm is tf.distribute's")
def test_bn_synchronized_reaches_every_batchnorm_on_tensorflow():
    block = Bottleneck(2, strides=2, bn_synchronized=True)
    block.build(X_SHAPE)
    bns = helpers.batchnorm_layers(block)
    assert len(bns) == 4 and all(bn.synchronized for bn in bns)
