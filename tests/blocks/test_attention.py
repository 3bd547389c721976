"""MultiHeadSelfAttention and TransformerEncoderBlock: the layer contract,
equality with keras.layers.MultiHeadAttention, and padding that never counts."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import MultiHeadSelfAttention, TransformerEncoderBlock


def _padding_mask(batch, time, lengths):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


@pytest.mark.parametrize("kwargs, shape", [
    ({"num_heads": 2}, (2, 5, 8)),
    ({"num_heads": 1, "key_dim": 3, "use_bias": False}, (2, 3, 4)),
    ({"num_heads": 4, "key_dim": 2, "dropout": 0.5, "causal": True}, (2, 7, 6)),
], ids=["defaults", "one_head_no_bias", "key_dim_dropout_causal"])
def test_attention_layer_contract(kwargs, shape):
    helpers.run_layer_test(MultiHeadSelfAttention, kwargs, shape, shape)


# (batch, time, width, num_heads, key_dim): odd T, one head, key_dim != width / heads.
SHAPES = [(2, 7, 8, 2, None), (3, 5, 6, 1, None), (2, 9, 8, 4, 3), (1, 3, 4, 2, 5)]


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: "x".join(map(str, s)))
def twins(request):
    """Our layer and Keras' MultiHeadAttention with the same (random) weights."""
    batch, time, width, heads, key_dim = request.param
    rng = np.random.default_rng(batch * 100 + time)
    x = rng.standard_normal((batch, time, width)).astype("float32")
    ours = MultiHeadSelfAttention(heads, key_dim)
    theirs = keras.layers.MultiHeadAttention(heads, key_dim or width // heads)
    ours(x)
    theirs(x, x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    # Non-zero biases, so a bias on the wrong axis shows.
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in theirs.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    lengths = rng.integers(1, time + 1, size=batch)
    lengths[0] = max(1, time - 2)
    return ours, theirs, x, _padding_mask(batch, time, lengths)


def test_equals_keras_multi_head_attention_without_mask(twins):
    ours, theirs, x, _ = twins
    np.testing.assert_allclose(helpers.to_numpy(ours(x)), helpers.to_numpy(theirs(x, x)),
                               atol=1e-5, rtol=0)


def test_equals_keras_multi_head_attention_with_padding_mask(twins):
    ours, theirs, x, mask = twins
    # Keras masks the same keys when given the key mask as an attention mask
    # (batch, 1, S), broadcast over the queries.
    expected = helpers.to_numpy(theirs(x, x, attention_mask=mask[:, None, :]))
    np.testing.assert_allclose(helpers.to_numpy(ours(x, mask=mask)), expected,
                               atol=1e-5, rtol=0)


def test_causal_equals_keras_use_causal_mask(twins):
    ours, theirs, x, mask = twins
    causal = MultiHeadSelfAttention.from_config({**ours.get_config(), "causal": True})
    causal(x)
    causal.set_weights(ours.get_weights())
    for padding in (None, mask):
        expected = theirs(x, x, use_causal_mask=True,
                          attention_mask=None if padding is None else padding[:, None, :])
        np.testing.assert_allclose(helpers.to_numpy(causal(x, mask=padding)),
                                   helpers.to_numpy(expected), atol=1e-5, rtol=0)
    # A position never sees those after it: changing the last one changes only it.
    changed = x.copy()
    changed[:, -1] += 1.0
    before, after = helpers.to_numpy(causal(x)), helpers.to_numpy(causal(changed))
    np.testing.assert_array_equal(after[:, :-1], before[:, :-1])


def test_implicit_keras_mask_is_honoured_and_passed_on():
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    layer = MultiHeadSelfAttention(2)
    inputs = keras.Input((5,), dtype="int32")
    outputs = layer(embedding(inputs))
    model = keras.Model(inputs, outputs)
    mask = tokens != 0
    expected = helpers.to_numpy(layer(embedding(tokens), mask=mask))
    np.testing.assert_allclose(helpers.to_numpy(model(tokens)), expected, atol=1e-6)
    # Eagerly the embedding's output carries its mask too; its values alone do not.
    np.testing.assert_allclose(helpers.to_numpy(layer(embedding(tokens))), expected, atol=1e-6)
    unmasked = helpers.to_numpy(layer(helpers.to_numpy(embedding(tokens))))
    assert not np.allclose(unmasked[0, :3], expected[0, :3], atol=1e-4)
    np.testing.assert_array_equal(
        helpers.to_numpy(layer.compute_mask(embedding(tokens), mask)), mask)


def test_padding_does_not_change_real_positions():
    rng = np.random.default_rng(1)
    layer = MultiHeadSelfAttention(2, dropout=0.3)
    x = rng.standard_normal((2, 4, 6)).astype("float32")
    short = helpers.to_numpy(layer(x, mask=np.ones((2, 4), bool)))
    garbage = rng.standard_normal((2, 3, 6)).astype("float32") * 100
    padded = helpers.to_numpy(layer(np.concatenate([x, garbage], 1),
                                    mask=_padding_mask(2, 7, [4, 4])))
    np.testing.assert_allclose(padded[:, :4], short, atol=1e-6, rtol=0)


def test_fully_padded_row_is_finite():
    layer = MultiHeadSelfAttention(2)
    out = helpers.to_numpy(layer(np.ones((2, 3, 4), "float32"),
                                 mask=np.array([[False] * 3, [True] * 3])))
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("policy", helpers.MIXED_POLICIES)
def test_mixed_precision_softmax_in_float32_matches_float32(policy):
    # Large scores: a float16 softmax would overflow, and float16 cannot
    # hold the masking constant.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 8)).astype("float32") * 4
    mask = _padding_mask(2, 6, [6, 3])
    reference = MultiHeadSelfAttention(2)
    mixed = MultiHeadSelfAttention(2, dtype=policy)
    reference(x)
    mixed(x)
    mixed.set_weights(reference.get_weights())
    expected = helpers.to_numpy(reference(x, mask=mask))
    got = mixed(x, mask=mask)
    assert helpers.dtype_name(got) == keras.DTypePolicy(policy).compute_dtype
    error = np.abs(helpers.to_numpy(got) - expected).max() / np.abs(expected).max()
    assert error < helpers.MIXED_TOLERANCE[policy], error


def test_projections_are_einsum_dense_with_distinct_initial_kernels():
    layer = MultiHeadSelfAttention(2, key_dim=3)
    layer.build((None, None, 4))
    assert [p.equation for p in (layer.query, layer.key, layer.value, layer.attention_output)] \
        == ["btd,dnh->btnh"] * 3 + ["btnh,nhd->btd"]
    assert tuple(layer.query.bias.shape) == (2, 3)
    assert tuple(layer.attention_output.bias.shape) == (4,)
    # One unseeded initializer object would give all three the same kernel.
    kernels = [helpers.to_numpy(p.kernel) for p in (layer.query, layer.key, layer.value)]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])


def test_width_not_divisible_by_heads_names_both():
    helpers.assert_rejects(lambda: MultiHeadSelfAttention(3)(np.ones((1, 2, 8), "float32")),
                           ValueError, "num_heads=3", "width 8", "key_dim")


# --------------------------------------------------------------------------
# TransformerEncoderBlock


@pytest.mark.parametrize("kwargs, shape", [
    ({"num_heads": 2, "ff_dim": 16}, (2, 5, 8)),
    ({"num_heads": 1, "ff_dim": 4, "key_dim": 3, "dropout": 0.2,
      "attention_dropout": 0.1, "activation": "relu", "layer_norm_epsilon": 1e-3,
      "causal": True},
     (2, 3, 6)),
], ids=["defaults", "options"])
def test_encoder_layer_contract(kwargs, shape):
    helpers.run_layer_test(TransformerEncoderBlock, kwargs, shape, shape)


@pytest.mark.parametrize("causal", [False, True])
def test_encoder_real_positions_ignore_padding(causal):
    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)
    block = TransformerEncoderBlock(num_heads=2, ff_dim=12, dropout=0.1, causal=causal)
    x = rng.standard_normal((3, 5, 8)).astype("float32")
    lengths = [5, 3, 1]
    mask = _padding_mask(3, 5, lengths)
    before = helpers.to_numpy(block(x, mask=mask))
    # Padding appended, and garbage written over the already-masked steps.
    x2 = np.concatenate([x, rng.standard_normal((3, 4, 8)).astype("float32") * 50], 1)
    mask2 = _padding_mask(3, 9, lengths)
    x2[~mask2] = rng.standard_normal((int((~mask2).sum()), 8)) * 50
    after = helpers.to_numpy(block(x2, mask=mask2))
    for row, length in enumerate(lengths):
        # A longer padded axis may sum in another order: a few float32 ulps
        # (3.5e-7 relative measured on JAX), never more.
        np.testing.assert_allclose(after[row, :length], before[row, :length], atol=1e-6,
                                   rtol=1e-6)


def test_encoder_takes_the_mask_from_an_embedding():
    tokens = np.array([[3, 4, 5, 0], [6, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    block = TransformerEncoderBlock(num_heads=2, ff_dim=8)
    inputs = keras.Input((4,), dtype="int32")
    embedded = embedding(inputs)
    model = keras.Model(inputs, block(embedded))
    expected = helpers.to_numpy(block(embedding(tokens), mask=tokens != 0))
    np.testing.assert_allclose(helpers.to_numpy(model(tokens)), expected, atol=1e-6)
    mask = block.compute_mask(embedding(tokens), keras.ops.convert_to_tensor(tokens != 0))
    np.testing.assert_array_equal(helpers.to_numpy(mask), tokens != 0)


def test_encoder_is_pre_layer_norm():
    # With zero output kernels both sublayers add only their biases (zeros):
    # the block is the identity, which post-LN (a final LayerNorm) is not.
    block = TransformerEncoderBlock(num_heads=2, ff_dim=8)
    x = np.random.default_rng(4).standard_normal((2, 3, 4)).astype("float32") * 3
    block(x)
    for projection in (block.attention.attention_output, block.ffn_output):
        projection.kernel.assign(np.zeros(projection.kernel.shape, "float32"))
    np.testing.assert_allclose(helpers.to_numpy(block(x)), x, atol=1e-6)
