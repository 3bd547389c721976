"""Computing a `channels_first` block in `channels_last` where it must.

A block keeps two layouts: `data_format`, the one its inputs and outputs
have (what the caller asked for, and what `get_config` saves), and
`compute_format`, the one its convolutions run in
(`zoo.ops.conv_data_format`). They differ only where the backend cannot run
NCHW convolutions (TensorFlow's own CPU kernels); the block then transposes
its input to NHWC, builds its sublayers for NHWC, and transposes a feature
map back. Weights have the same shapes in both layouts, so files and
checkpoints move between machines unchanged. A block nested in another one
gets the outer `compute_format` as its `data_format`: a whole model
transposes once, at its input.
"""

import keras

from zoo import ops

_TO_CHANNELS_LAST = (0, 2, 3, 1)
_TO_CHANNELS_FIRST = (0, 3, 1, 2)


def compute_format(data_format):
    """The layout to compute a `data_format` block in (see `zoo.ops.conv_data_format`)."""
    return ops.conv_data_format(data_format)


def layout_note(data_format, compute_format):
    """A line saying that shapes inside a block are not in `data_format`, or None.

    Example:
    >>> layout_note("channels_first", "channels_first") is None
    True
    >>> layout_note("channels_first", "channels_last").split(" here")[0]
    "data_format='channels_first' computed as 'channels_last'"
    """
    if data_format == compute_format:
        return None
    return (f"data_format={data_format!r} computed as {compute_format!r} here (no NCHW "
            f"convolutions on this platform): the inner shapes above are {compute_format}; "
            f"inputs and outputs are {data_format}")


def to_compute(inputs, data_format, compute_format):
    """Inputs in `data_format` -> the same tensor in `compute_format`."""
    if data_format == compute_format:
        return inputs
    return keras.ops.transpose(inputs, _TO_CHANNELS_LAST)


def from_compute(outputs, data_format, compute_format):
    """A 4D output in `compute_format` -> `data_format` (other ranks pass)."""
    if data_format == compute_format or len(outputs.shape) != 4:
        return outputs
    return keras.ops.transpose(outputs, _TO_CHANNELS_FIRST)


def shape_to_compute(shape, data_format, compute_format):
    shape = tuple(shape)
    if data_format == compute_format:
        return shape
    return tuple(shape[i] for i in _TO_CHANNELS_LAST)


def shape_from_compute(shape, data_format, compute_format):
    shape = tuple(shape)
    if data_format == compute_format or len(shape) != 4:
        return shape
    return tuple(shape[i] for i in _TO_CHANNELS_FIRST)
