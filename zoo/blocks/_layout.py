"""Computing a `channels_first` block in `channels_last` where it must.

A block keeps `data_format` (its inputs, outputs and config) and
`compute_format` (what its convolutions run in, `zoo.ops.conv_data_format`);
they differ only where the backend has no NCHW convolutions. Weights have
the same shapes in both; a nested block gets the outer `compute_format`,
so a model transposes once.
"""

import keras

from zoo import _validation, ops

_TO_CHANNELS_LAST = (0, 2, 3, 1)
_TO_CHANNELS_FIRST = (0, 3, 1, 2)


def compute_format(data_format):
    """The layout to compute a `data_format` block in (see `zoo.ops.conv_data_format`)."""
    return ops.conv_data_format(data_format)


def layout_note(data_format, compute_format):
    """A line saying that shapes inside a block are not in `data_format`, or None.
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


def fix_channels(layer, input_shape):
    """Sets `layer.input_spec` to 4D with the input's channel count (which must be known)."""
    axis = _validation.channel_axis(layer.data_format)
    channels = input_shape[axis]
    if channels is None:
        raise ValueError(f"{layer.name} needs a known channel count, received "
                         f"input_shape={tuple(input_shape)}")
    layer.input_spec = keras.InputSpec(ndim=4, axes={axis: channels})
    return channels
