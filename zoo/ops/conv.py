"""2D convolution: Keras' op, or one matrix multiply where TensorFlow's CPU kernels are slow.

A convolution is a matrix multiply of image patches with the kernel
(im2col): a 1x1 convolution at stride 1 is exactly one, and a k x k one is
one after the k*k shifted views of the (padded) input are concatenated on
the channel axis. TensorFlow's CPU convolution kernels, oneDNN's and even
more its own (Eigen), compute the gradients of convolutions with many
channels and few pixels slowly: the deep stages of a ResNet on small images
(2x2 or 1x1 pixels on 64x64 or 32x32 inputs), where Eigen's
`Conv2DBackpropInput` alone took over half of a ResNet-50 train step.
TensorFlow's `MatMul` and its gradients (two more matrix multiplies) do not
have that problem.

`conv2d` computes through the matrix multiply where
`conv2d_as_matmul_applies` says the measured rule favours it
(`MATMUL_RULES`, from `python -m benchmarks.conv_paths`), and through
`keras.ops.conv` everywhere else: on every other backend, on GPUs and TPUs
(not measured), for channels_first, grouped or dilated convolutions, and for
inputs whose height or width is not known when the graph is built. Both
give the same outputs (to float rounding: the sums are ordered differently),
which tests/ops/test_conv_ops.py checks, gradients included.
"""

import keras

from zoo.ops.platform import tensorflow_platform

# TensorFlow platform (zoo.ops.tensorflow_platform()) -> when a
# convolution's train step (forward pass and both gradients) is faster as a
# matrix multiply, for "1": convolutions one of whose kernel taps reads the
# image (1x1 kernels, and larger ones on images so small that the other taps
# read only padding), and "k": the others (several taps, concatenated
# patches). Each: at most `max_pixels` output pixels (height * width) and at
# least `min_channel_product` (input channels * filters). Chosen from
# `python -m benchmarks.conv_paths` (benchmarks/results/conv_paths_cpu_*.md,
# which also scores the rule against every measured shape): oneDNN's
# convolutions lose only on 1x1 kernels at 1-4 pixels (1.04-6.5x faster as a
# matmul there), larger kernels as matmuls were slower (0.3-0.7x) but for
# one shape; Eigen's convolution gradients slow down with the channel count
# (up to 38x slower than the matmul), its small ones (MobileNetV2's) are as
# fast as a matmul.
MATMUL_RULES = {
    "cpu/onednn": {"1": {"max_pixels": 4, "min_channel_product": 1},
                   "k": {"max_pixels": 0, "min_channel_product": 1}},
    "cpu/eigen": {"1": {"max_pixels": 64, "min_channel_product": 2 ** 17},
                  "k": {"max_pixels": 4, "min_channel_product": 1}},
}


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
    """Along one axis: output size, padding before and after, the kernel
    offsets that read the image (the others read only padding), and whether
    any of those also reads padding."""
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
    """How many of a kernel's taps read the image, and the output pixels.

    Args:
        input_size: `(height, width)`.
        kernel_size: `(kernel_height, kernel_width)`.
        strides: int. The same along both axes.
        padding: `"valid"` or `"same"`.

    Returns:
        `(taps, output_pixels)`: a 3x3 kernel on a 1x1 image with "same"
        padding reads it with its centre tap only, `(1, 1)`.

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

    Args:
        input_shape: tuple `(batch, height, width, channels)`.
        kernel_shape: tuple `(kernel_height, kernel_width, in, out)`.
        strides: int or pair. Both must be equal.
        padding: `"valid"` or `"same"`.
        data_format: `"channels_last"` or `"channels_first"`.
        dilation_rate: int or pair.
        platform: `"auto"` (this process: `tensorflow_platform()`), or a
            key of `MATMUL_RULES` (for tests and benchmarks), or None.

    Returns:
        bool. True where the platform has a measured rule (TensorFlow on a
        CPU), for an ungrouped, undilated channels_last convolution with
        equal strides and a known height and width, within the rule for
        its number of taps reading the image (`image_taps`): at most
        `max_pixels` output pixels, at least `min_channel_product` input
        channels times filters.

    Example:
    >>> conv2d_as_matmul_applies((8, 2, 2, 512), (1, 1, 512, 2048), platform="cpu/onednn")
    True
    >>> conv2d_as_matmul_applies((8, 1, 1, 512), (3, 3, 512, 512), padding="same",
    ...                          platform="cpu/onednn")
    True
    >>> conv2d_as_matmul_applies((8, 16, 16, 64), (1, 1, 64, 256), platform="cpu/onednn")
    False
    >>> conv2d_as_matmul_applies((8, 2, 2, 64), (1, 1, 64, 384), platform="cpu/eigen")
    False
    >>> conv2d_as_matmul_applies((8, 2, 2, 512), (1, 1, 512, 2048), platform=None)
    False
    """
    if platform == "auto":
        platform = tensorflow_platform()
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

    The image patches each kernel tap sees (strided views of the padded
    image) are concatenated on the channel axis and multiplied by the
    kernel's matching rows. Taps that would read only padding (a 3x3
    kernel's outer taps on a 1x1 image) are left out with their rows: they
    add zeros. Where the taps kept read no padding, nothing is padded.

    Args:
        inputs: tensor `(batch, height, width, channels)`, height and width
            known.
        kernel: tensor `(kernel_height, kernel_width, channels, filters)`.
        strides: int, or a pair of equal ints.
        padding: `"valid"` or `"same"` (TensorFlow's: the larger half after).

    Returns:
        `(batch, out_height, out_width, filters)`, as `keras.ops.conv`.

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

    Args: as `keras.ops.conv` (`data_format` spelled out; `padding`
        `"valid"` or `"same"`).

    Returns:
        The convolution's output, as `keras.ops.conv`'s.

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
