"""Argument checks shared by blocks and models: one wording for every error."""

import keras

DATA_FORMATS = ("channels_last", "channels_first")


def data_format(value):
    """Returns a valid data format; `None` means Keras' configured default."""
    if value is None:
        return keras.config.image_data_format()
    if value not in DATA_FORMATS:
        raise ValueError(
            f"data_format must be one of {list(DATA_FORMATS)}, "
            f"received data_format={value!r}"
        )
    return value


def activation(value, name="activation"):
    """Returns the registered name of an activation (None stays None)."""
    if value is None:
        return None
    try:
        return keras.activations.serialize(keras.activations.get(value))
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} must be None or a Keras activation name or function, "
            f"received {name}={value!r}"
        ) from None


def positive_int(name, value):
    """Checks that `value` is an int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    return value


def one_of(name, value, choices):
    """Checks that `value` is one of `choices`, type included (50.0 is not 50)."""
    if not any(value == c and type(value) is type(c) for c in choices):
        raise ValueError(
            f"{name} must be one of {list(choices)}, received {name}={value!r}"
        )
    return value


def bn_synchronized(value):
    """Checks `bn_synchronized`: SyncBatchNorm exists on TensorFlow only.

    Keras' own error for it comes from deep inside a block and names
    neither the zoo argument nor the backend in use.
    """
    value = bool(value)
    backend = keras.backend.backend()
    if value and backend != "tensorflow":
        raise ValueError(
            "bn_synchronized=True synchronizes BatchNorm statistics across the "
            "replicas of a tf.distribute strategy, which needs the TensorFlow "
            f"backend; the Keras backend is {backend!r}. Received "
            f"bn_synchronized={value!r}: leave it False on {backend} (under "
            "keras.distribution a data-parallel batch is one global array, so "
            "its statistics already span every device)."
        )
    return value


def channel_axis(data_format):
    """Channel axis of a batched 4D tensor (what BatchNormalization wants)."""
    return -1 if data_format == "channels_last" else 1


def channels_of(image_shape, data_format):
    """Channel count of an image shape *without* the batch dimension."""
    return image_shape[-1] if data_format == "channels_last" else image_shape[0]


def check_image_input(layer_name, input_shape, data_format, expected_channels=None):
    """Checks a (batch, H, W, C) / (batch, C, H, W) shape before it hits a conv.

    Keras' own error for a rank or channel mismatch names an inner Conv2D;
    this one names the argument the user controls.
    """
    shape = tuple(input_shape)
    layout = "(batch, height, width, channels)" if data_format == "channels_last" \
        else "(batch, channels, height, width)"
    if len(shape) != 4:
        raise ValueError(
            f"{layer_name} expects inputs of rank 4 {layout} for "
            f"data_format={data_format!r}, received inputs with shape={shape}"
        )
    channels = shape[channel_axis(data_format)]
    if expected_channels is not None and channels is not None \
            and channels != expected_channels:
        raise ValueError(
            f"{layer_name} was built for {expected_channels} input channels "
            f"(data_format={data_format!r}), received inputs with shape={shape} "
            f"({channels} channels)"
        )
