"""Tests for `zoo.blocks.layer_scale.LayerScale`, against keras.applications' ConvNeXt
`LayerScale`."""

import numpy as np
import pytest
from keras.src.applications.convnext import LayerScale as KerasLayerScale

import helpers
from zoo.blocks import LayerScale


def test_layer_contract():
    layer = helpers.run_layer_test(LayerScale, {"init_value": 0.5}, input_shape=(2, 4, 4, 3),
                                   expected_output_shape=(2, 4, 4, 3), run_channels_first=False)
    assert [w.path.split("/", 1)[1] for w in layer.weights] == ["gamma"]


def test_same_outputs_as_keras_layer_scale():
    x = helpers.random_inputs((2, 3, 5, 4), seed=1)
    theirs = KerasLayerScale(1e-6, 4)
    ours = LayerScale(1e-6)
    np.testing.assert_array_equal(helpers.to_numpy(ours(x)), helpers.to_numpy(theirs(x)))
    np.testing.assert_array_equal(helpers.to_numpy(ours.gamma), np.full(4, 1e-6, "float32"))
    gamma = np.random.default_rng(2).normal(size=4).astype("float32")
    theirs.set_weights([gamma])
    ours.set_weights([gamma])
    np.testing.assert_array_equal(helpers.to_numpy(ours(x)), helpers.to_numpy(theirs(x)))
    np.testing.assert_allclose(helpers.to_numpy(ours(x)), x * gamma, rtol=1e-6)


@pytest.mark.parametrize("axis", [1, -3])
def test_channels_first_axis(axis):
    x = helpers.random_inputs((2, 4, 3, 5), seed=3)  # (batch, channels, height, width)
    layer = LayerScale(1.0, axis=axis)
    layer(x)
    gamma = np.arange(1, 5, dtype="float32")
    layer.set_weights([gamma])
    assert tuple(layer.gamma.shape) == (4,)
    np.testing.assert_allclose(helpers.to_numpy(layer(x)), x * gamma[:, None, None], rtol=1e-6)


@pytest.mark.parametrize("axis, shape", [(0, (2, 3)), (2, (2, 3)), (-3, (2, 3))])
def test_axis_must_be_a_non_batch_axis(axis, shape):
    layer = LayerScale(axis=axis, name="ls")
    helpers.assert_rejects(lambda: layer.build(shape), ValueError, "ls", f"axis={axis}")


def test_unknown_channels_is_a_clear_error():
    helpers.assert_rejects(lambda: LayerScale(name="ls").build((None, 4, None)), ValueError,
                           "ls", "(None, 4, None)")
