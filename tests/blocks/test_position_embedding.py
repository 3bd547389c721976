"""PositionEmbedding: the layer contract, positions by index, lengths checked."""

import numpy as np
import pytest

import helpers
from zoo.blocks import PositionEmbedding


@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 3, 4)], ids=["full", "shorter"])
def test_layer_contract(shape):
    helpers.run_layer_test(PositionEmbedding, {"sequence_length": 5}, shape, shape)


def test_adds_row_t_at_position_t_for_any_length():
    layer = PositionEmbedding(6, initializer="glorot_uniform")
    x = helpers.random_inputs((2, 6, 3))
    full = helpers.to_numpy(layer(x))
    table = helpers.to_numpy(layer.embeddings)
    np.testing.assert_allclose(full, x + table[None], atol=1e-6)
    # A shorter (less padded) sequence keeps every position's vector.
    np.testing.assert_allclose(helpers.to_numpy(layer(x[:, :2])), full[:, :2], atol=1e-6)


def test_longer_than_sequence_length_is_an_error():
    layer = PositionEmbedding(4)
    layer(helpers.random_inputs((1, 4, 2)))
    helpers.assert_rejects(lambda: layer(helpers.random_inputs((1, 5, 2))), ValueError,
                           "sequence_length=4", "(1, 5, 2)")
