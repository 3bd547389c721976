"""Backend-specific facts and fast paths, one function each.

Each function's `keras` version is the reference and the path on every
other backend; blocks call these, never the backend.
"""

from zoo.ops.batch_norm import batch_norm_inference, batch_norm_training, fused_batch_norm_applies
from zoo.ops.bias import bias_add
from zoo.ops.conv import conv2d, conv2d_as_matmul, conv2d_as_matmul_applies
from zoo.ops.layout import conv_data_format
from zoo.ops.platform import accelerator_type, describe, onednn_enabled, tensorflow_platform

__all__ = ["accelerator_type", "bias_add", "batch_norm_inference", "batch_norm_training",
           "conv2d", "conv2d_as_matmul", "conv2d_as_matmul_applies", "conv_data_format",
           "describe", "fused_batch_norm_applies", "onednn_enabled", "tensorflow_platform"]
