"""PatchEmbedding and TokenPooling against their definitions (ViT, arXiv:2010.11929)."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import PatchEmbedding, TokenPooling


def test_patch_embedding_is_patches_times_kernel_plus_token_and_positions():
    layer = PatchEmbedding(5, patch_size=2)
    x = helpers.random_inputs((2, 4, 6, 3), seed=1)
    out = helpers.to_numpy(layer(x))
    assert out.shape == (2, 1 + 2 * 3, 5) and layer.grid_shape == (2, 3)
    kernel = helpers.to_numpy(layer.projection.kernel)  # (2, 2, 3, 5)
    bias = helpers.to_numpy(layer.projection.bias)
    positions = helpers.to_numpy(layer.position_embedding.embeddings)
    token = helpers.to_numpy(layer.class_token)[0, 0]
    x = helpers.to_numpy(x)
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(token + positions[0], (2, 5)),
                               atol=1e-6)
    for row in range(2):
        for column in range(3):
            patch = x[:, 2 * row:2 * row + 2, 2 * column:2 * column + 2, :]
            expected = np.einsum("bhwc,hwck->bk", patch, kernel) + bias
            index = 1 + row * 3 + column  # row by row, as timm's flatten(2)
            np.testing.assert_allclose(out[:, index], expected + positions[index], atol=1e-5)


def test_patch_embedding_channels_first_and_config():
    last = PatchEmbedding(4, patch_size=4)
    x = helpers.random_inputs((1, 8, 8, 2), seed=2)
    expected = helpers.to_numpy(last(x))
    first = PatchEmbedding(4, patch_size=4, data_format="channels_first")
    first.build((None, 2, 8, 8))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(helpers.to_numpy(first(np.transpose(x, (0, 3, 1, 2)))), expected,
                               atol=1e-6)
    clone = PatchEmbedding.from_config(last.get_config())
    assert clone.get_config() == last.get_config()
    assert [w.name for w in last.weights] == ["class_token", "kernel", "bias", "embeddings"]


def test_patch_embedding_refuses_sizes_the_patches_do_not_divide():
    layer = PatchEmbedding(4, patch_size=4)
    helpers.assert_rejects(lambda: layer(keras.ops.ones((1, 8, 10, 3))), ValueError,
                           "patch_size=4", "(1, 8, 10, 3)")
    layer(keras.ops.ones((1, 8, 8, 3)))
    helpers.assert_rejects(lambda: layer(keras.ops.ones((1, 16, 8, 3))), ValueError,
                           "2x2 patches", "(1, 16, 8, 3)")


@pytest.mark.parametrize("mode, expected", [
    ("token", [[1.0, -1.0]]), ("avg", [[3.0, 0.0]]), ("max", [[4.0, 2.0]])])
def test_token_pooling(mode, expected):
    x = keras.ops.convert_to_tensor([[[1.0, -1.0], [2.0, -2.0], [4.0, 2.0]]])
    layer = TokenPooling(mode)
    assert helpers.to_numpy(layer(x)).tolist() == expected
    assert layer.compute_output_shape((None, 3, 2)) == (None, 2)
    assert TokenPooling.from_config(layer.get_config()).mode == mode
