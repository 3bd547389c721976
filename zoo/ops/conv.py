"""2D convolution: Keras' op, or one matrix multiply where TensorFlow's CPU kernels are slow.

TensorFlow's CPU kernels compute the gradients of convolutions with many
channels and few pixels slowly (the deep stages of a ResNet on small
images); as an im2col matrix multiply they are fast. `conv2d` takes it where
`MATMUL_RULES` (measured by `python -m benchmarks.conv_paths`) favours it,
and `keras.ops.conv` everywhere else.
"""

import keras

from zoo.ops.platform import tensorflow_platform

# Platform -> when a convolution's train step is faster as a matrix multiply:
# "1" for one kernel tap reading the image, "k" for several; at most
# `max_pixels` output pixels and at least `min_channel_product` (in * out).
# From benchmarks/results/conv_paths_cpu_*.md. Eigen's floors: its 1x1
# gradients slow 2.5-5x from 896 * 128 channels on DenseNet's 4x4 and 2x2 maps;
# several taps win from ResNet's 6x6x128 -> 256 up, lose on DenseNet's 3x3 -> 32.
MATMUL_RULES = {
    "cpu/onednn": {"1": {"max_pixels": 4, "min_channel_product": 1},
                   "k": {"max_pixels": 0, "min_channel_product": 1}},
    "cpu/eigen": {"1": {"max_pixels": 64, "min_channel_product": 7 * 2 ** 14},
                  "k": {"max_pixels": 4, "min_channel_product": 2 ** 15}},
}


# Where a platform is named: `tensorflow_platform()`'s answers (None: another backend).
PLATFORMS = ("cpu/onednn", "cpu/eigen", "gpu", "tpu", None)


def output_size(size, kernel_size, strides, padding):
    """Output length of a convolution along one axis (Keras' rule).

    Example:
    >>> output_size(7, 3, 2, "same"), output_size(7, 3, 2, "valid")
    (4, 3)
    """
    if padding == "same":
        return -(-size // strides)
    return (size - kernel_size) // strides + 1


def _axis_plan(size, kernel_size, stride, padding):
    """Along one axis: output size, padding before and after, the taps that read
    the image, and whether any of those also reads padding."""
    out = output_size(size, kernel_size, stride, padding)
    before = after = 0
    if padding == "same":
        # TensorFlow's "same": the larger half after, as keras.ops.conv pads.
        total = max((out - 1) * stride + kernel_size - size, 0)
        before, after = total // 2, total - total // 2
    samples = {tap: [before <= tap + step * stride < before + size for step in range(out)]
               for tap in range(kernel_size)}
    taps = [tap for tap, inside in samples.items() if any(inside)]
    return out, before, after, taps, not all(all(samples[tap]) for tap in taps)


def image_taps(input_size, kernel_size, strides=1, padding="valid"):
    """`(taps, output_pixels)`: how many of a kernel's taps read the image, and the output pixels.

    Example:
    >>> image_taps((1, 1), (3, 3), 1, "same"), image_taps((8, 8), (3, 3), 2, "same")
    ((1, 1), (9, 16))
    """
    rows = _axis_plan(input_size[0], kernel_size[0], strides, padding)
    columns = _axis_plan(input_size[1], kernel_size[1], strides, padding)
    return len(rows[3]) * len(columns[3]), rows[0] * columns[0]


def conv2d_as_matmul_applies(input_shape, kernel_shape, strides=1, padding="valid",
                             data_format="channels_last", dilation_rate=1, platform="auto"):
    """Whether `conv2d` computes these arguments as one matrix multiply.

    Only for a platform in `MATMUL_RULES` (`platform="auto"`: this process),
    an undilated channels_last convolution with equal strides and a known
    height and width, within the rule for its `image_taps`.

    Example:
    >>> conv2d_as_matmul_applies((8, 2, 2, 512), (1, 1, 512, 2048), platform="cpu/onednn")
    True
    >>> conv2d_as_matmul_applies((8, 16, 16, 64), (1, 1, 64, 256), platform="cpu/onednn")
    False
    """
    if platform == "auto":
        platform = tensorflow_platform()
    elif platform not in PLATFORMS:
        raise ValueError(f"platform must be 'auto' or one of {list(PLATFORMS)}, received "
                         f"platform={platform!r}")
    rule = MATMUL_RULES.get(platform)
    strides, dilation_rate = _pair(strides), _pair(dilation_rate)
    if (rule is None or data_format != "channels_last" or dilation_rate != (1, 1)
            or strides[0] != strides[1] or padding not in ("valid", "same")
            or len(input_shape) != 4 or None in tuple(input_shape[1:3])
            or input_shape[3] != kernel_shape[2]):
        return False
    taps, pixels = image_taps(input_shape[1:3], kernel_shape[:2], strides[0], padding)
    limits = rule["1" if taps == 1 else "k"]
    return (0 < pixels <= limits["max_pixels"]
            and kernel_shape[2] * kernel_shape[3] >= limits["min_channel_product"])


def conv2d_as_matmul(inputs, kernel, strides=1, padding="valid"):
    """A channels_last 2D convolution as one matrix multiply (im2col), in `keras.ops`.

    Taps that would read only padding are left out with their kernel rows.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype("float32")
    >>> k = np.random.default_rng(1).normal(size=(3, 3, 3, 4)).astype("float32")
    >>> ours = conv2d_as_matmul(x, k, strides=2, padding="same")
    >>> bool(np.allclose(ours, keras.ops.conv(x, k, strides=2, padding="same"), atol=1e-5))
    True
    """
    stride = _check_matmul_arguments(inputs, kernel, strides, padding)
    _, height, width, _ = inputs.shape
    kernel_height, kernel_width, _, filters = kernel.shape
    out_height, top, bottom, rows, rows_pad = _axis_plan(height, kernel_height, stride, padding)
    out_width, left, right, columns, columns_pad = _axis_plan(width, kernel_width, stride,
                                                              padding)
    x, offset_rows, offset_columns = inputs, 0, 0
    if rows_pad or columns_pad:
        x = keras.ops.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    else:
        # The kept taps read the image only: slice it unpadded.
        offset_rows, offset_columns = top, left
    patches, weights = [], []
    for i in rows:
        for j in columns:
            row, column = i - offset_rows, j - offset_columns
            patches.append(x[:, row:row + (out_height - 1) * stride + 1:stride,
                             column:column + (out_width - 1) * stride + 1:stride, :])
            weights.append(kernel[i, j])
    patches = patches[0] if len(patches) == 1 else keras.ops.concatenate(patches, axis=-1)
    weights = weights[0] if len(weights) == 1 else keras.ops.concatenate(weights, axis=0)
    outputs = keras.ops.matmul(keras.ops.reshape(patches, (-1, patches.shape[-1])), weights)
    return keras.ops.reshape(outputs, (-1, out_height, out_width, filters))


def conv2d(inputs, kernel, strides=1, padding="valid", data_format="channels_last",
           dilation_rate=1):
    """`keras.ops.conv` for 2D inputs, as one matrix multiply where that is measured faster.

    Example:
    >>> tuple(conv2d(keras.ops.ones((2, 4, 4, 8)), keras.ops.ones((1, 1, 8, 16))).shape)
    (2, 4, 4, 16)
    """
    if conv2d_as_matmul_applies(tuple(inputs.shape), tuple(kernel.shape), strides, padding,
                                data_format, dilation_rate):
        return conv2d_as_matmul(inputs, kernel, strides, padding)
    return keras.ops.conv(inputs, kernel, strides=strides, padding=padding,
                          data_format=data_format, dilation_rate=dilation_rate)


def _check_matmul_arguments(inputs, kernel, strides, padding):
    """What `conv2d_as_matmul` computes, or a ValueError naming the argument; the stride."""
    shape, kernel_shape = tuple(inputs.shape), tuple(kernel.shape)
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', received padding={padding!r}")
    pair = _pair(strides)
    if len(pair) != 2 or pair[0] != pair[1] or not isinstance(pair[0], int) or pair[0] < 1:
        raise ValueError("strides must be a positive int or a pair of equal ones, received "
                         f"strides={strides!r}")
    if len(shape) != 4 or None in shape[1:]:
        raise ValueError("inputs must be 4D (batch, height, width, channels) with known "
                         f"height, width and channels, received inputs of shape {shape}")
    if len(kernel_shape) != 4 or kernel_shape[2] != shape[3]:
        raise ValueError("kernel must be (kernel_height, kernel_width, channels, filters) "
                         f"with the inputs' {shape[3]} channels, received kernel of shape "
                         f"{kernel_shape}")
    for axis, (size, kernel_size) in enumerate(zip(shape[1:3], kernel_shape[:2])):
        if output_size(size, kernel_size, pair[0], padding) < 1:
            raise ValueError(
                f"padding='valid' needs inputs at least as large as the kernel: inputs of "
                f"shape {shape}, kernel of shape {kernel_shape} (axis {axis + 1})")
    return pair[0]


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)
