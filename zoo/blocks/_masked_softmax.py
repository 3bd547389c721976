"""The softmax of attention scores with padded positions left out."""

import keras

# "Minus infinity" in float32 without the NaN a real -inf gives a fully padded row (as Keras).
MASKED_SCORE = -1e9


def masked_softmax(scores, keep=None, axis=-1):
    """Softmax of `scores` in float32 along `axis`, zero where `keep` is False.

    Written out: `keras.ops.softmax` warns on every axis of size 1 (a
    one-token text). A fully masked row gets uniform weights.
    """
    scores = keras.ops.cast(scores, "float32")
    if keep is not None:
        scores = keras.ops.where(keep, scores, MASKED_SCORE)
    return keras.ops.exp(scores - keras.ops.logsumexp(scores, axis=axis, keepdims=True))
