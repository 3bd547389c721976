"""Bad arguments and calls of the transformer family and its blocks.

Rows as in test_bad_models.py: each asserts the exception type and that the
message names the argument and shows the value received. Construction rows
fail before any layer is built. Every row runs on any Keras backend unless
marked `tensorflow_only`.
"""

import keras
import numpy as np
import pytest

from helpers import assert_rejects
from zoo.blocks import MultiHeadSelfAttention, PositionEmbedding, TransformerEncoderBlock
from zoo.models.transformer import Transformer

NAN, INF = float("nan"), float("inf")
HUGE = 10**12
STRING_MODE = pytest.mark.tensorflow_only(
    "string-mode transformer tokenizes with TensorFlow string ops")


def model(**kwargs):
    # Token mode runs on every backend; the argument checks come before the
    # string-mode backend check, so the rows say the same on each.
    return Transformer(**{"num_classes": 2, "max_tokens": 20, "sequence_length": 6,
                          "embedding_dim": 8, "num_heads": 2, "ff_dim": 8, "num_layers": 1,
                          "input_mode": "tokens", **kwargs})


def attention(**kwargs):
    return MultiHeadSelfAttention(**{"num_heads": 2, **kwargs})


def encoder(**kwargs):
    return TransformerEncoderBlock(**{"num_heads": 2, "ff_dim": 8, **kwargs})


def row(builder, kwargs, error, *fragments, id, marks=()):
    return pytest.param(builder, kwargs, error, fragments, id=id, marks=marks)


CONSTRUCTION = [
    # -- Transformer -----------------------------------------------------------
    row(model, {"num_heads": 3}, ValueError, "num_heads=3", "embedding_dim=8", "key_dim",
        id="model-heads-do-not-divide-width"),
    row(model, {"num_heads": 0}, ValueError, "num_heads", "0", id="model-num_heads-zero"),
    row(model, {"num_heads": 2.0}, TypeError, "num_heads", "2.0", id="model-num_heads-float"),
    row(model, {"key_dim": 0}, ValueError, "key_dim", "0", id="model-key_dim-zero"),
    row(model, {"key_dim": "4"}, TypeError, "key_dim", "'4'", id="model-key_dim-str"),
    row(model, {"num_layers": 0}, ValueError, "num_layers", "0", id="model-num_layers-zero"),
    row(model, {"num_layers": None}, TypeError, "num_layers", "None", id="model-num_layers-none"),
    row(model, {"ff_dim": 0}, ValueError, "ff_dim", "0", id="model-ff_dim-zero"),
    row(model, {"ff_dim": 1.5}, TypeError, "ff_dim", "1.5", id="model-ff_dim-float"),
    row(model, {"embedding_dim": -1}, ValueError, "embedding_dim", "-1",
        id="model-embedding_dim-negative"),
    row(model, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="model-dropout-one"),
    row(model, {"dropout": -0.1}, ValueError, "dropout", "-0.1", id="model-dropout-negative"),
    row(model, {"dropout": NAN}, ValueError, "dropout", "nan", id="model-dropout-nan"),
    row(model, {"dropout": "0.1"}, TypeError, "dropout", "'0.1'", id="model-dropout-str"),
    row(model, {"attention_dropout": 1.5}, ValueError, "attention_dropout", "1.5",
        id="model-attention_dropout-over-one"),
    row(model, {"layer_norm_epsilon": 0.0}, ValueError, "layer_norm_epsilon", "0.0",
        id="model-layer_norm_epsilon-zero"),
    row(model, {"layer_norm_epsilon": INF}, ValueError, "layer_norm_epsilon", "inf",
        id="model-layer_norm_epsilon-inf"),
    row(model, {"activation": "swishy"}, ValueError, "activation", "'swishy'",
        id="model-activation-unknown"),
    row(model, {"causal": "yes"}, TypeError, "causal", "'yes'", id="model-causal-str"),
    row(model, {"pooling": "last"}, ValueError, "pooling", "'last'", id="model-pooling-unknown"),
    row(model, {"sequence_length": None}, ValueError, "sequence_length=None", "position",
        id="model-sequence_length-none"),
    row(model, {"sequence_length": 0}, ValueError, "sequence_length", "0",
        id="model-sequence_length-zero"),
    row(model, {"sequence_length": HUGE}, ValueError, "sequence_length", str(HUGE), "memory",
        id="model-sequence_length-huge"),
    row(model, {"max_tokens": HUGE}, ValueError, "max_tokens", str(HUGE), "memory",
        id="model-max_tokens-huge"),
    row(model, {"max_tokens": 2}, ValueError, "max_tokens", "2", id="model-max_tokens-two"),
    row(model, {"num_classes": 0}, ValueError, "num_classes", "0", id="model-num_classes-zero"),
    row(model, {"classifier_activation": "nope"}, ValueError, "classifier_activation",
        "'nope'", id="model-classifier_activation-unknown"),
    row(model, {"input_mode": "bytes"}, ValueError, "input_mode", "'bytes'",
        id="model-input_mode-unknown"),
    row(model, {"name": ""}, ValueError, "name", "''", id="model-name-empty"),
    row(model, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="model-dtype-int32"),
    # -- MultiHeadSelfAttention ------------------------------------------------
    row(attention, {"num_heads": 0}, ValueError, "num_heads", "0", id="attention-num_heads-zero"),
    row(attention, {"num_heads": True}, TypeError, "num_heads", "True",
        id="attention-num_heads-bool"),
    row(attention, {"key_dim": -2}, ValueError, "key_dim", "-2", id="attention-key_dim-negative"),
    row(attention, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="attention-dropout-one"),
    row(attention, {"causal": 1}, TypeError, "causal", "1", id="attention-causal-int"),
    row(attention, {"use_bias": "yes"}, TypeError, "use_bias", "'yes'",
        id="attention-use_bias-str"),
    row(attention, {"kernel_initializer": "nope"}, ValueError, "kernel_initializer", "'nope'",
        id="attention-kernel_initializer-unknown"),
    row(attention, {"bias_initializer": 3}, ValueError, "bias_initializer", "3",
        id="attention-bias_initializer-int"),
    # -- TransformerEncoderBlock -----------------------------------------------
    row(encoder, {"ff_dim": 0}, ValueError, "ff_dim", "0", id="encoder-ff_dim-zero"),
    row(encoder, {"num_heads": -1}, ValueError, "num_heads", "-1", id="encoder-num_heads-negative"),
    row(encoder, {"key_dim": 0}, ValueError, "key_dim", "0", id="encoder-key_dim-zero"),
    row(encoder, {"dropout": INF}, ValueError, "dropout", "inf", id="encoder-dropout-inf"),
    row(encoder, {"attention_dropout": -0.5}, ValueError, "attention_dropout", "-0.5",
        id="encoder-attention_dropout-negative"),
    row(encoder, {"layer_norm_epsilon": -1e-5}, ValueError, "layer_norm_epsilon", "-1e-05",
        id="encoder-layer_norm_epsilon-negative"),
    row(encoder, {"activation": "gelu2"}, ValueError, "activation", "'gelu2'",
        id="encoder-activation-unknown"),
    # -- PositionEmbedding ---------------------------------------------------
    row(PositionEmbedding, {"sequence_length": 0}, ValueError, "sequence_length", "0",
        id="position-sequence_length-zero"),
    row(PositionEmbedding, {"sequence_length": None}, TypeError, "sequence_length", "None",
        id="position-sequence_length-none"),
    row(lambda **kw: PositionEmbedding(4, **kw), {"initializer": "nope"}, ValueError,
        "initializer", "'nope'", id="position-initializer-unknown"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def _call_block(layer, shape):
    return lambda: layer(np.ones(shape, "float32"))


@pytest.mark.parametrize("call, fragments", [
    pytest.param(lambda: _call_block(attention(num_heads=3), (1, 2, 8))(),
                 ("num_heads=3", "width 8", "key_dim"), id="attention-heads-do-not-divide-width"),
    pytest.param(lambda: _call_block(encoder(num_heads=3), (1, 2, 8))(),
                 ("num_heads=3", "width 8"), id="encoder-heads-do-not-divide-width"),
    pytest.param(lambda: _call_block(attention(), (2, 8))(), ("ndim=3", "ndim=2"),
                 id="attention-rank2"),
])
def test_bad_block_call(call, fragments):
    assert_rejects(call, ValueError, *fragments)


@pytest.fixture(scope="module")
def tokens_model():
    keras.utils.set_random_seed(0)
    return model()


@pytest.mark.parametrize("inputs, error, fragments", [
    pytest.param(None, TypeError, ("inputs=None",), id="none"),
    pytest.param(np.array([[1, 2, 3, 4, 5, 6, 7]]), ValueError,
                 ("shape=(1, 7)", "sequence_length=6"), id="longer-than-positions"),
    pytest.param(np.array([[1, 25, 0]]), ValueError, ("25", "max_tokens=20"), id="id-too-big"),
    pytest.param(np.ones((1, 4), np.float32), ValueError, ("dtype=float32",), id="float"),
    pytest.param(["a good film"], ValueError, ("inputs", "string"), id="texts"),
])
def test_bad_call(tokens_model, inputs, error, fragments):
    assert_rejects(lambda: tokens_model(inputs), error, *fragments)


@STRING_MODE
def test_calling_a_string_model_before_adapt_names_adapt():
    strings = model(input_mode="string")
    assert_rejects(lambda: strings(["a good film"]), ValueError, "transformer",
                   "no vocabulary yet", "adapt")
