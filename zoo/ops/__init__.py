"""Backend-specific facts and fast paths, one function each.

Blocks and models are written in `keras` and `keras.ops` only; where a
backend needs something Keras does not do for it, the block calls a
function here, whose `keras` version is the reference and the path on every
other backend.

- `conv_data_format(data_format)`: the layout convolutions can run in here
  (TensorFlow's own CPU kernels run only NHWC convolutions).
- `tensorflow_platform()`: where and with which kernels TensorFlow runs
  (`"gpu"`, `"tpu"`, `"cpu/onednn"`, `"cpu/eigen"`), the key of the model
  families' measured `jit_compile` defaults; None on other backends.
- `onednn_enabled()`: whether TensorFlow runs its oneDNN CPU kernels.
- `describe()`: one line naming backend, device and kernels, for logs.
- `bias_add(inputs, bias, data_format)`: a per-channel bias, as TensorFlow's
  `BiasAdd` (which Grappler fuses into the convolution before it; an add
  it does not), a broadcast add elsewhere.
- `batch_norm_training(...)`, `batch_norm_inference(...)`: batch
  normalization of images in one fused kernel on TensorFlow
  (`FusedBatchNormV3`, which Keras 3 does not use), Keras' ops elsewhere;
  `fused_batch_norm_applies(inputs, axis)` says which path runs.
- `conv2d(...)`: `keras.ops.conv` in 2D, computed as one matrix multiply of
  image patches (`conv2d_as_matmul`) where TensorFlow's CPU convolution
  kernels were measured slower (`conv2d_as_matmul_applies`).
"""

from zoo.ops.batch_norm import batch_norm_inference, batch_norm_training, fused_batch_norm_applies
from zoo.ops.bias import bias_add
from zoo.ops.conv import conv2d, conv2d_as_matmul, conv2d_as_matmul_applies
from zoo.ops.layout import conv_data_format
from zoo.ops.platform import accelerator_type, describe, onednn_enabled, tensorflow_platform

__all__ = ["accelerator_type", "bias_add", "batch_norm_inference", "batch_norm_training",
           "conv2d", "conv2d_as_matmul", "conv2d_as_matmul_applies", "conv_data_format",
           "describe", "fused_batch_norm_applies", "onednn_enabled", "tensorflow_platform"]
