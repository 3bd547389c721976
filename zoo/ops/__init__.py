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
"""

from zoo.ops.layout import conv_data_format
from zoo.ops.platform import accelerator_type, describe, onednn_enabled, tensorflow_platform

__all__ = ["accelerator_type", "conv_data_format", "describe", "onednn_enabled",
           "tensorflow_platform"]
