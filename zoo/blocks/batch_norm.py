"""`keras.layers.BatchNormalization` computed by one fused kernel where there is one."""

import keras

from zoo import _validation, ops


@keras.saving.register_keras_serializable(package="zoo")
class BatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization`, with TensorFlow's fused kernel for images.

    Same arguments, weights, updates, config and files as Keras' layer; on
    TensorFlow it runs `zoo.ops.batch_norm_training` / `batch_norm_inference`
    (one `FusedBatchNormV3`) for 4D inputs over axis 1 or 3 with no mask,
    renorm or synchronization, and Keras' own `call` otherwise.

    Args:
        fused: bool. Take the fused kernel where it applies; False runs
            Keras' own `call` everywhere (the reference).
        **kwargs: those of `keras.layers.BatchNormalization`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(4, 5, 5, 3)).astype("float32")
    >>> ours = BatchNorm(epsilon=1e-5)
    >>> reference = keras.layers.BatchNormalization(epsilon=1e-5)
    >>> bool(np.allclose(ours(x, training=True), reference(x, training=True), atol=1e-5))
    True
    >>> bool(np.allclose(ours.moving_variance, reference.moving_variance, atol=1e-6))
    True
    """

    def __init__(self, fused=True, **kwargs):
        super().__init__(**kwargs)
        self.fused = _validation.boolean("fused", fused)

    def call(self, inputs, training=None, mask=None):
        if not self.fused or mask is not None or self.renorm or self.synchronized \
                or not ops.fused_batch_norm_applies(inputs, self.axis):
            return super().call(inputs, training=training, mask=mask)
        gamma = self.gamma if self.scale else keras.ops.ones(self.moving_mean.shape)
        beta = self.beta if self.center else keras.ops.zeros(self.moving_mean.shape)
        if training and self.trainable:
            outputs, mean, variance = ops.batch_norm_training(
                inputs, gamma, beta, self.epsilon, self.axis)
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            outputs = ops.batch_norm_inference(inputs, self.moving_mean, self.moving_variance,
                                               gamma, beta, self.epsilon, self.axis)
        return keras.ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
