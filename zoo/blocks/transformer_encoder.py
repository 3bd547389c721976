"""The pre-LayerNorm Transformer encoder block (https://arxiv.org/abs/2002.04745).

A stack of them wants one final LayerNorm after the last block.
"""

import keras

from zoo import _validation
from zoo.blocks.attention import MultiHeadSelfAttention
from zoo.blocks.einsum_dense import EinsumDense


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoderBlock(keras.layers.Layer):
    """`x + Dropout(Attention(LN(x)))`, then `x + Dropout(FFN(LN(x)))`.

    The feed-forward network is `"btd,df->btf"` with `activation`, then
    `"btf,fd->btd"`; padding is masked and the mask passes through.

    Args:
        num_heads: int. Attention heads.
        ff_dim: int. Width of the feed-forward network's hidden layer.
        key_dim: int or None. Size of each head; None: `width // num_heads`.
        dropout: float in [0, 1). On each sublayer's output, before the add.
        attention_dropout: float in [0, 1). On the attention weights.
        causal: bool. See `MultiHeadSelfAttention`.
        layer_norm_epsilon: float > 0. Epsilon of both LayerNorms.
        activation: str, callable or None. Of the feed-forward hidden layer.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    >>> x = keras.ops.ones((2, 5, 8))
    >>> mask = keras.ops.convert_to_tensor([[True] * 5, [True] * 2 + [False] * 3])
    >>> tuple(block(x, mask=mask).shape), tuple(block.ffn_output.kernel.shape)
    ((2, 5, 8), (16, 8))
    """

    def __init__(self, num_heads, ff_dim, key_dim=None, dropout=0.0, attention_dropout=0.0,
                 causal=False, layer_norm_epsilon=1e-5, activation="gelu", **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.ff_dim = _validation.positive_int("ff_dim", ff_dim)
        self.key_dim = _validation.positive_int("key_dim", key_dim, optional=True)
        self.dropout = _validation.fraction("dropout", dropout)
        self.attention_dropout = _validation.fraction("attention_dropout", attention_dropout)
        self.causal = _validation.boolean("causal", causal)
        self.layer_norm_epsilon = _validation.finite_float(
            "layer_norm_epsilon", layer_norm_epsilon, 0, low_open=True)
        self.activation = _validation.activation(activation)
        self.supports_masking = True
        self.input_spec = keras.InputSpec(ndim=3)
        policy = self.dtype_policy
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="attention_norm", dtype=policy)
        self.attention = MultiHeadSelfAttention(
            self.num_heads, self.key_dim, dropout=self.attention_dropout, causal=self.causal,
            name="attention", dtype=policy)
        self.attention_output_dropout = keras.layers.Dropout(
            self.dropout, name="attention_output_dropout", dtype=policy)
        self.ffn_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="ffn_norm", dtype=policy)
        self.ffn_intermediate = EinsumDense(
            "btd,df->btf", (None, self.ff_dim), activation=self.activation, bias_axes="f",
            name="ffn_intermediate", dtype=policy)
        # Sized by the input width: made in `build`.
        self.ffn_output = None
        self.ffn_output_dropout = keras.layers.Dropout(
            self.dropout, name="ffn_output_dropout", dtype=policy)

    def build(self, input_shape):
        width = input_shape[-1]
        # The attention's width checks first.
        self.attention.head_size(width)
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: width})
        self.ffn_output = EinsumDense(
            "btf,fd->btd", (None, width), bias_axes="d", name="ffn_output",
            dtype=self.dtype_policy)
        for layer in (self.attention_norm, self.attention, self.ffn_norm,
                      self.ffn_intermediate):
            layer.build(input_shape)
        self.ffn_output.build(self.ffn_intermediate.compute_output_shape(input_shape))
        self.attention_output_dropout.build(input_shape)
        self.ffn_output_dropout.build(input_shape)

    def call(self, inputs, mask=None, training=None):
        attended = self.attention(self.attention_norm(inputs), mask=mask, training=training)
        x = inputs + self.attention_output_dropout(attended, training=training)
        transformed = self.ffn_output(self.ffn_intermediate(self.ffn_norm(x)))
        return x + self.ffn_output_dropout(transformed, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim,
            "key_dim": self.key_dim, "dropout": self.dropout,
            "attention_dropout": self.attention_dropout, "causal": self.causal,
            "layer_norm_epsilon": self.layer_norm_epsilon, "activation": self.activation
        }
