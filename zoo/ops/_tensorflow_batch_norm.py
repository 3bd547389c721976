"""TensorFlow's fused batch normalization kernel (`FusedBatchNormV3`), for `zoo.ops.batch_norm`."""

import tensorflow as tf

# FusedBatchNormV3 takes (but in training ignores) mean and variance inputs.
_NO_STATISTICS = ()


def training(inputs, gamma, beta, epsilon, data_format):
    """Normalized inputs (their dtype) and the batch mean and biased variance (float32)."""
    empty = tf.constant(_NO_STATISTICS, tf.float32)
    # The raw op: tf.compat.v1.nn.fused_batch_norm raises epsilon to >= 1.001e-5.
    outputs, mean, unbiased_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=tf.cast(gamma, tf.float32), offset=tf.cast(beta, tf.float32),
        mean=empty, variance=empty, epsilon=float(epsilon), exponential_avg_factor=1.0,
        data_format=data_format, is_training=True)
    # The kernel returns the unbiased variance; Keras averages the biased one.
    shape = tf.shape(inputs)
    channels = shape[1] if data_format == "NCHW" else shape[3]
    count = tf.cast(tf.reduce_prod(shape) // tf.maximum(channels, 1), tf.float32)
    variance = unbiased_variance * (tf.maximum(count - 1.0, 1.0) / tf.maximum(count, 1.0))
    return outputs, mean, variance


def inference(inputs, mean, variance, gamma, beta, epsilon, data_format):
    """Inputs normalized with the given statistics, in their own dtype."""
    outputs, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=tf.cast(gamma, tf.float32), offset=tf.cast(beta, tf.float32),
        mean=tf.cast(mean, tf.float32), variance=tf.cast(variance, tf.float32),
        epsilon=float(epsilon), data_format=data_format, is_training=False)
    return outputs
