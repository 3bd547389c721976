"""The softmax of attention scores with padded positions left out."""

import keras

# Added to the scores of padded positions before the softmax, which runs in
# float32: there -1e9 is "minus infinity" (exp underflows to exactly 0)
# without the NaN a real -inf gives a fully padded row. Keras' `Softmax`
# layer uses the same constant.
MASKED_SCORE = -1e9


def masked_softmax(scores, keep=None, axis=-1):
    """Softmax of `scores` in float32 along `axis`, zero where `keep` is False.

    Written out as `exp(x - logsumexp(x))`: `keras.ops.softmax` warns on every
    axis of size 1, which here is a one-token text, no mistake.

    Args:
        scores: tensor of attention scores (any float dtype).
        keep: boolean tensor broadcastable to `scores`, or None (keep all).
        axis: int. The axis the weights sum to 1 over.

    Returns:
        float32 weights. Where every position of a row is masked, the
        weights are uniform (the caller masks such rows itself).

    Example:
    >>> import keras
    >>> weights = masked_softmax(keras.ops.zeros((1, 3)),
    ...                          keras.ops.convert_to_tensor([[True, True, False]]))
    >>> [round(float(w), 3) for w in keras.ops.convert_to_numpy(weights)[0]]
    [0.5, 0.5, 0.0]
    """
    scores = keras.ops.cast(scores, "float32")
    if keep is not None:
        scores = keras.ops.where(keep, scores, MASKED_SCORE)
    return keras.ops.exp(scores - keras.ops.logsumexp(scores, axis=axis, keepdims=True))
