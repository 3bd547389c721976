"""Tests for `zoo.blocks.dense`: DenseLayer, DenseBlock and Transition (DenseNet's blocks).

The reference is keras.applications' own definition (`conv_block`,
`dense_block`, `transition_block` of keras/src/applications/densenet.py),
built as a functional model and given the block's weights.
"""

import keras
import numpy as np
import pytest
from keras.src.applications import densenet as keras_densenet

import helpers
from zoo.blocks import BatchNorm, ConvBN, DenseBlock, DenseLayer, Transition


@pytest.mark.parametrize("cls, kwargs, input_shape, output_shape", [
    (DenseLayer, {"growth_rate": 4, "bottleneck_width": 2}, (2, 6, 6, 5), (2, 6, 6, 9)),
    (DenseBlock, {"num_layers": 3, "growth_rate": 4}, (2, 6, 6, 8), (2, 6, 6, 20)),
    (Transition, {"compression": 0.5}, (2, 8, 7, 6), (2, 4, 3, 3)),  # odd width floored
    (Transition, {"compression": 1.0}, (2, 4, 4, 5), (2, 2, 2, 5)),
])
def test_layer_contract(cls, kwargs, input_shape, output_shape):
    # Config round-trips, a training step, both mixed precision policies and
    # the channels_first twin (same weights).
    helpers.run_layer_test(cls, kwargs, input_shape=input_shape,
                           expected_output_shape=output_shape)


def _reference(build, input_shape):
    """A functional model of keras.applications' block `build(x)`."""
    inputs = keras.Input(input_shape[1:])
    return keras.Model(inputs, build(inputs))


def _same_outputs(block, reference, x, training=False):
    np.testing.assert_allclose(helpers.to_numpy(block(x, training=training)),
                               helpers.to_numpy(reference(x, training=training)),
                               atol=1e-5, rtol=0)


def test_dense_layer_is_keras_applications_conv_block():
    x = helpers.random_inputs((2, 5, 7, 12), seed=1)
    layer = DenseLayer(32)
    layer(x)
    helpers.randomize_batchnorm(layer, seed=2)
    reference = _reference(lambda t: keras_densenet.conv_block(t, 32, name="b"), x.shape)
    # The same weights in the same order: bn, 1x1 conv, bn, 3x3 conv.
    assert [tuple(w.shape) for w in reference.weights] == [tuple(w.shape) for w in layer.weights]
    reference.set_weights(layer.get_weights())
    _same_outputs(layer, reference, x)
    # The input comes first in the concatenation, unchanged.
    np.testing.assert_array_equal(helpers.to_numpy(layer(x))[..., :12], x)
    assert (layer.norm.epsilon, layer.norm.momentum) == (1.001e-5, 0.99)  # keras.applications'


def test_dense_block_is_keras_applications_dense_block():
    x = helpers.random_inputs((2, 4, 4, 8), seed=3)
    block = DenseBlock(3)  # keras' dense_block has growth rate 32 and width 128
    block(x)
    helpers.randomize_batchnorm(block, seed=4)
    reference = _reference(lambda t: keras_densenet.dense_block(t, 3, name="s"), x.shape)
    reference.set_weights(block.get_weights())
    _same_outputs(block, reference, x)
    # Training mode too: batch statistics, the same moving-statistic updates.
    _same_outputs(block, reference, x, training=True)
    ours = [helpers.to_numpy(w) for w in block.non_trainable_weights]
    theirs = [helpers.to_numpy(w) for w in reference.non_trainable_weights]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_transition_is_keras_applications_transition_block():
    x = helpers.random_inputs((2, 9, 6, 10), seed=5)
    block = Transition()
    block(x)
    helpers.randomize_batchnorm(block, seed=6)
    reference = _reference(lambda t: keras_densenet.transition_block(t, 0.5, name="t"),
                           x.shape)
    reference.set_weights(block.get_weights())
    _same_outputs(block, reference, x)
    assert tuple(block(x).shape) == (2, 4, 3, 5)


def test_units_and_weight_names():
    layer = DenseLayer(8, bottleneck_width=4)
    layer.build((None, 6, 6, 5))
    assert isinstance(layer.norm, BatchNorm) and not isinstance(layer.norm, ConvBN)
    assert isinstance(layer.bottleneck, ConvBN)  # its BatchNorm folds
    assert (layer.bottleneck.filters, layer.bottleneck.kernel_size,
            layer.bottleneck.activation) == (32, 1, "relu")
    assert (layer.conv.filters, layer.conv.kernel_size, layer.conv.use_bias) == (8, (3, 3), False)
    assert [w.path.split("/", 1)[1] for w in layer.weights] == [
        "norm/gamma", "norm/beta", "norm/moving_mean", "norm/moving_variance",
        "bottleneck/conv/kernel", "bottleneck/bn/gamma", "bottleneck/bn/beta",
        "bottleneck/bn/moving_mean", "bottleneck/bn/moving_variance", "conv/kernel"]
    block = DenseBlock(2, growth_rate=4)
    block.build((None, 6, 6, 5))
    assert [sub.name for sub in block.dense_layers] == ["layer1", "layer2"]
    assert [sub.built for sub in block.dense_layers] == [True, True]
    assert tuple(block.dense_layers[1].norm.gamma.shape) == (9,)  # 5 + one growth
    transition = Transition(0.5)
    transition.build((None, 6, 6, 7))
    assert transition.conv.filters == 3  # int(7 * 0.5), as keras.applications


def test_the_bottleneck_folds_for_inference():
    x = helpers.random_inputs((2, 5, 5, 6), seed=7)
    layer = DenseLayer(4)
    layer(x)
    helpers.randomize_batchnorm(layer, seed=8)
    before = helpers.to_numpy(layer(x, training=False))
    layer.bottleneck.fold_batchnorm()
    np.testing.assert_allclose(helpers.to_numpy(layer(x, training=False)), before,
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls, kwargs, in_channels, out_channels", [
    (DenseLayer, {"growth_rate": 4}, 5, 9),
    (DenseBlock, {"num_layers": 2, "growth_rate": 3}, 4, 10),
    (Transition, {}, 6, 3),
])
def test_channels_first_concatenates_and_pools_the_channel_axis(cls, kwargs, in_channels,
                                                               out_channels):
    x = helpers.random_inputs((2, in_channels, 6, 6), seed=9)
    block = cls(data_format="channels_first", **kwargs)
    assert tuple(block(x).shape)[:2] == (2, out_channels)
    assert tuple(block.compute_output_shape((None, in_channels, 6, 6)))[:2] == \
        (None, out_channels)
