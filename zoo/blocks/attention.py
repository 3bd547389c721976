"""Multi-head self-attention with `EinsumDense` projections (https://arxiv.org/abs/1706.03762).

The weights have the shapes and order of `keras.layers.MultiHeadAttention`'s.
"""

import math

import keras

from zoo import _validation
from zoo.blocks._masked_softmax import masked_softmax
from zoo.blocks.einsum_dense import EinsumDense


@keras.saving.register_keras_serializable(package="zoo")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention over `num_heads` heads, padding masked.

    Padded keys get zero weight; the mask (`mask=` or Keras' implicit one)
    passes through. The softmax runs in float32 under mixed precision. With
    the same weights it computes what `keras.layers.MultiHeadAttention`
    does with `attention_mask=mask[:, None, :]`.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int or None. Size of each head; None: `width // num_heads`.
        dropout: float in [0, 1). Dropout on the attention weights.
        causal: bool. As Keras' `use_causal_mask=True`.
        use_bias: bool. Biases in the four projections.
        kernel_initializer: str or initializer. Of the projections' kernels.
        bias_initializer: str or initializer. Of the projections' biases.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> layer = MultiHeadSelfAttention(num_heads=2)
    >>> x = keras.ops.ones((3, 5, 8))
    >>> mask = keras.ops.convert_to_tensor([[True] * 5, [True] * 3 + [False] * 2,
    ...                                     [True] + [False] * 4])
    >>> tuple(layer(x, mask=mask).shape), tuple(layer.query.kernel.shape)
    ((3, 5, 8), (8, 2, 4))
    """

    def __init__(self, num_heads, key_dim=None, dropout=0.0, causal=False, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.key_dim = _validation.positive_int("key_dim", key_dim, optional=True)
        self.dropout = _validation.fraction("dropout", dropout)
        self.causal = _validation.boolean("causal", causal)
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.kernel_initializer = _validation.initializer("kernel_initializer",
                                                          kernel_initializer)
        self.bias_initializer = _validation.initializer("bias_initializer", bias_initializer)
        self.supports_masking = True
        self.input_spec = keras.InputSpec(ndim=3)
        self.attention_dropout = keras.layers.Dropout(
            self.dropout, name="attention_dropout", dtype=self.dtype_policy)
        # Sized by the input width: made in `build`.
        self.query = self.key = self.value = self.attention_output = None

    def head_size(self, width):
        """The size of each head for inputs `width` wide (`key_dim` or its default)."""
        if width is None:
            raise ValueError(f"{self.name} needs a known input width, received inputs "
                             "of width None")
        if self.key_dim is not None:
            return self.key_dim
        if width % self.num_heads:
            raise ValueError(
                f"{self.name}: with key_dim=None each head is width // num_heads wide, so "
                f"num_heads must divide the input width; received num_heads={self.num_heads} and "
                f"inputs of width {width} (pass key_dim= for heads of another size)")
        return width // self.num_heads

    def _projection(self, equation, output_shape, bias_axes, name):
        # A fresh initializer each: one unseeded object would repeat its kernel.
        return EinsumDense(
            equation, output_shape, bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            name=name, dtype=self.dtype_policy)

    def build(self, input_shape):
        width = input_shape[-1]
        head = self.head_size(width)
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: width})
        # Created in the order of keras.layers.MultiHeadAttention's weights.
        self.query, self.key, self.value = (
            self._projection("btd,dnh->btnh", (None, self.num_heads, head), "nh", name)
            for name in ("query", "key", "value"))
        self.attention_output = self._projection(
            "btnh,nhd->btd", (None, width), "d", "attention_output")
        for projection in (self.query, self.key, self.value):
            # Position-wise, so an implicit mask stays true (else Keras warns).
            projection.supports_masking = True
            projection.build(input_shape)
        self.attention_output.build(self.query.compute_output_shape(input_shape))
        self.attention_dropout.build(None)

    def call(self, inputs, mask=None, training=None):
        query, key, value = self.query(inputs), self.key(inputs), self.value(inputs)
        # Scaling before the product keeps float16 scores in range.
        head = query.shape[-1]
        query = query * keras.ops.cast(1.0 / math.sqrt(head), query.dtype)
        scores = keras.ops.einsum("btnh,bsnh->bnts", query, key)
        keep = None
        if mask is not None:
            keep = keras.ops.cast(mask, "bool")[:, None, None, :]
        if self.causal:
            positions = keras.ops.arange(keras.ops.shape(scores)[-1])
            earlier = (positions[None, :] <= positions[:, None])[None, None]
            keep = earlier if keep is None else keras.ops.logical_and(keep, earlier)
        # In float32 (see masked_softmax): float16 exponentials overflow.
        weights = masked_softmax(scores, keep)
        weights = keras.ops.cast(weights, value.dtype)
        weights = self.attention_dropout(weights, training=training)
        return self.attention_output(keras.ops.einsum("bnts,bsnh->btnh", weights, value))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
            "dropout": self.dropout, "causal": self.causal, "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer)
        }
