"""Tests for `zoo.blocks.mbconv.MBConv` (EfficientNet's block)."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import ConvBN, InvertedResidual, MBConv, SqueezeExcite


@pytest.mark.parametrize("kwargs, in_channels, size, names", [
    ({"filters": 4}, 4, 8, ["expand", "depthwise", "se", "project", "add"]),
    ({"filters": 6, "strides": 2, "kernel_size": 5}, 4, 4,
     ["expand", "depthwise", "se", "project"]),
    ({"filters": 4, "expansion": 1}, 4, 8, ["depthwise", "se", "project", "add"]),
    ({"filters": 4, "se_ratio": 0.0}, 4, 8, ["expand", "depthwise", "project", "add"]),
])
def test_layer_contract(kwargs, in_channels, size, names):
    # Config round-trips, a training step, mixed precision, the channels_first twin.
    layer = helpers.run_layer_test(MBConv, kwargs, input_shape=(2, 8, 8, in_channels),
                                   expected_output_shape=(2, size, size, kwargs["filters"]))
    assert [sub.name for sub in layer._layers] == names
    assert isinstance(layer, InvertedResidual)


def test_units_are_keras_applications_block():
    block = MBConv(16, kernel_size=5, strides=2, expansion=6, se_ratio=0.25)
    block.build((None, 9, 9, 10))
    assert all(isinstance(u, ConvBN) for u in (block.expand, block.depthwise, block.project))
    # Keras registers "swish" as "silu": x * sigmoid(x).
    assert (block.expand.filters, block.expand.kernel_size, block.expand.activation) == \
        (60, 1, "silu")
    assert (block.depthwise.depthwise, block.depthwise.kernel_size, block.depthwise.strides,
            block.depthwise.activation, block.depthwise.padding) == (True, 5, 2, "silu", "same")
    # 0.25 of the block's *input* channels (10), not of the expanded 60.
    assert isinstance(block.se, SqueezeExcite) and block.se.squeeze_filters == 2
    assert (block.se.activation, block.se.gate_activation) == ("silu", "sigmoid")
    assert (block.project.filters, block.project.activation) == (16, None)
    assert (block.bn_momentum, block.bn_epsilon) == (0.99, 1e-3)  # keras' BatchNormalization
    assert tuple(block.compute_output_shape((None, 9, 9, 10))) == (None, 5, 5, 16)
    assert block.drop is None and block.add is None  # strided: no identity, no drop-connect


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_is_input_plus_branch(data_format):
    shape = (2, 6, 6, 4) if data_format == "channels_last" else (2, 4, 6, 6)
    x = helpers.random_inputs(shape, seed=2)
    block = MBConv(4, expansion=3, data_format=data_format)
    block(x)
    helpers.randomize_batchnorm(block, seed=3)
    got = helpers.to_numpy(block(x, training=False))
    inner = x if block.compute_format == data_format else np.transpose(x, (0, 2, 3, 1))
    branch = inner
    for unit in (block.expand, block.depthwise, block.se, block.project):
        branch = unit(branch, training=False)
    branch = helpers.to_numpy(branch)
    if block.compute_format != data_format:
        branch = np.transpose(branch, (0, 3, 1, 2))
    np.testing.assert_allclose(got, x + branch, atol=1e-5, rtol=0)


def _twins(drop_rate, channels=4, seed=0):
    """An MBConv with `drop_rate` and its drop_rate=0 twin, same weights."""
    keras.utils.set_random_seed(seed)
    dropping, plain = MBConv(channels, drop_rate=drop_rate), MBConv(channels)
    for block in (dropping, plain):
        block.build((None, 2, 2, channels))
    plain.set_weights(dropping.get_weights())
    return dropping, plain


def test_drop_connect_is_off_in_inference():
    dropping, plain = _twins(0.5)
    x = helpers.random_inputs((8, 2, 2, 4), seed=4)
    for training in (False, None):
        np.testing.assert_array_equal(helpers.to_numpy(dropping(x, training=training)),
                                      helpers.to_numpy(plain(x, training=False)))


def test_drop_connect_drops_whole_examples_branches_at_its_rate():
    # keras.applications: Dropout(rate, noise_shape=(None, 1, 1, 1)) on the
    # branch. Per example, the branch is either dropped entirely (output =
    # input) or kept and scaled by 1 / (1 - rate); BatchNorm's batch statistics
    # come before the drop, so the twin without it gives the kept branch.
    rate, n = 0.25, 2000
    dropping, plain = _twins(rate)
    assert dropping.drop.rate == rate and dropping.drop.noise_shape == (None, 1, 1, 1)
    x = helpers.random_inputs((n, 2, 2, 4), seed=5)
    branch = helpers.to_numpy(plain(x, training=True)) - x
    got = helpers.to_numpy(dropping(x, training=True)) - x
    dropped = np.all(np.abs(got) < 1e-6, axis=(1, 2, 3))
    kept = ~dropped
    np.testing.assert_allclose(got[kept], branch[kept] / (1 - rate), atol=1e-4, rtol=1e-4)
    assert np.abs(branch[dropped]).max() > 1e-2  # a dropped branch was not zero anyway
    # Binomial(2000, 0.25): standard deviation 0.0097; 4 of them.
    assert abs(dropped.mean() - rate) < 0.04, dropped.mean()


def test_no_identity_no_drop_connect():
    # keras.applications ignores a block's rate where there is no identity.
    block = MBConv(8, drop_rate=0.3)
    block.build((None, 4, 4, 4))
    assert block.drop is None and not block.residual
    assert MBConv.from_config(block.get_config()).drop_rate == 0.3


def test_constructor_and_config_are_unchanged_by_the_generalised_base():
    # Positional: filters, kernel_size, strides, expansion, se_ratio, drop_rate, data_format.
    block = MBConv(8, 5, 2, 4, 0.5, 0.1, "channels_last", 0.9, 1e-2)
    assert (block.kernel_size, block.strides, block.expansion, block.se_ratio, block.drop_rate,
            block.bn_momentum, block.bn_epsilon) == (5, 2, 4, 0.5, 0.1, 0.9, 1e-2)
    config = block.get_config()
    assert {"kernel_size", "se_ratio", "drop_rate", "expansion", "activation", "padding"} <= \
        set(config) and config["expanded_filters"] is None
    # A config saved before expanded_filters existed loads with the same weights.
    old = {key: value for key, value in config.items() if key != "expanded_filters"}
    for saved in (config, old):
        loaded = MBConv.from_config(saved)
        loaded.build((None, 8, 8, 6))
        assert [tuple(w.shape) for w in loaded.weights][:2] == [(1, 1, 6, 24), (24,)]
        assert loaded.se.squeeze_filters == 3  # 0.5 of the 6 *input* channels


def test_squeeze_excite_is_efficientnets_not_mobilenet_v3s():
    block = MBConv(16, expansion=6, se_ratio=0.25)
    block.build((None, 4, 4, 16))
    # int(0.25 * 16) = 4 (of the input), where InvertedResidual's would be _depth(0.25 * 96) = 24.
    assert (block.se.squeeze_filters, block.se.activation, block.se.gate_activation) == \
        (4, "silu", "sigmoid")
    twin = InvertedResidual(16, expansion=6, se_ratio=0.25)
    twin.build((None, 4, 4, 16))
    assert (twin.se.squeeze_filters, twin.se.gate_activation) == (24, "hard_sigmoid")
