"""Tests for `zoo.blocks.drop_path.DropPath`, against keras.applications' ConvNeXt
`StochasticDepth`."""

import keras
import numpy as np
import pytest
from keras.src.applications.convnext import StochasticDepth

import helpers
from zoo.blocks import DropPath


def test_layer_contract():
    # Inference is the identity: the battery's comparisons see the input.
    helpers.run_layer_test(DropPath, {"rate": 0.25, "seed": 3}, input_shape=(2, 4, 4, 3),
                           expected_output_shape=(2, 4, 4, 3), run_training=False)


def test_same_outputs_as_keras_stochastic_depth_for_the_same_draws(monkeypatch):
    # Both draw one U[0, 1) per example; given the same draws they must agree exactly.
    draws = np.array([0.05, 0.3, 0.29999, 0.7, 0.95, 0.0], "float32").reshape(6, 1, 1, 1)
    monkeypatch.setattr(keras.random, "uniform",
                        lambda shape, *args, **kwargs: keras.ops.convert_to_tensor(draws))
    monkeypatch.setattr(keras.src.applications.convnext.random, "uniform",
                        lambda shape, *args, **kwargs: keras.ops.convert_to_tensor(draws))
    x = helpers.random_inputs((6, 3, 2, 4), seed=1)
    ours = helpers.to_numpy(DropPath(0.3)(x, training=True))
    theirs = helpers.to_numpy(StochasticDepth(0.3)(x, training=True))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    kept = [bool(np.any(row)) for row in ours]
    assert kept == [False, True, False, True, True, False]  # kept iff the draw >= rate
    np.testing.assert_allclose(ours[1], x[1] / 0.7, rtol=1e-6)


@pytest.mark.parametrize("layer", [DropPath(0.3, seed=7), StochasticDepth(0.3)],
                         ids=["zoo", "keras"])
def test_drop_rate_and_expected_value(layer):
    keras.utils.set_random_seed(0)
    n = 20000
    out = helpers.to_numpy(layer(np.ones((n, 2, 2, 1), "float32"), training=True))
    per_example = out.reshape(n, -1)
    # Whole examples: every value of an example is dropped or kept together.
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1))
    np.testing.assert_allclose(np.unique(per_example), [0.0, 1 / 0.7], rtol=1e-6)
    dropped = float(np.mean(per_example[:, 0] == 0))
    sigma = (0.3 * 0.7 / n) ** 0.5
    assert abs(dropped - 0.3) < 4 * sigma, dropped
    assert abs(float(out.mean()) - 1.0) < 4 * sigma / 0.7  # unbiased: E[out] = x


def test_identity_in_inference_and_at_rate_zero():
    x = helpers.random_inputs((4, 3, 3, 2), seed=2)
    np.testing.assert_array_equal(helpers.to_numpy(DropPath(0.9)(x, training=False)), x)
    np.testing.assert_array_equal(helpers.to_numpy(DropPath(0.9)(x)), x)
    np.testing.assert_array_equal(helpers.to_numpy(DropPath(0.0)(x, training=True)), x)


def test_seeded_layers_repeat_their_drops():
    x = np.ones((64, 1), "float32")
    first = helpers.to_numpy(DropPath(0.5, seed=11)(x, training=True))
    second = helpers.to_numpy(DropPath(0.5, seed=11)(x, training=True))
    np.testing.assert_array_equal(first, second)
    assert 0 < float(np.mean(first == 0)) < 1
    assert DropPath.from_config(DropPath(0.5, seed=11).get_config()).seed == 11
