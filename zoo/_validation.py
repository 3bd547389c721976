"""Argument checks for the whole package: one wording for every error.

Every message names the argument and shows the value received. A senseless
value is a `ValueError`; a wrong type is an `ArgumentTypeError`, both a
`TypeError` and a `ValueError`.

Example:
>>> positive_int("batch_size", 0)
Traceback (most recent call last):
...
ValueError: batch_size must be a positive integer, received batch_size=0
"""

import math
import numbers
import os

import keras
import numpy as np

DATA_FORMATS = ("channels_last", "channels_first")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type: a `TypeError` and a `ValueError` at once."""


def preview(value, limit=60):
    """`repr(value)`, cut to at most `limit` characters, for an error message.
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def data_format(value):
    """Returns a valid data format; `None` means Keras' configured default."""
    if value is None:
        return keras.config.image_data_format()
    if value not in DATA_FORMATS:
        raise ValueError(
            f"data_format must be one of {list(DATA_FORMATS)}, received data_format={value!r}"
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


def is_int(value):
    # bool is an Integral, but num_classes=True is a bug, not a request for 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _int_at_least(name, value, low, wanted, optional):
    if value is None and optional:
        return None
    if not is_int(value) or value < low:
        wanted = f"None or {wanted}" if optional else wanted
        error = ValueError if is_int(value) else ArgumentTypeError
        raise error(f"{name} must be {wanted}, received {name}={value!r}")
    return int(value)


def positive_int(name, value, optional=False):
    """Checks that `value` is an int >= 1 (bools rejected); returns a Python int."""
    return _int_at_least(name, value, 1, "a positive integer", optional)


def non_negative_int(name, value, optional=False):
    """Checks that `value` is an int >= 0 (bools rejected); returns a Python int."""
    return _int_at_least(name, value, 0, "a non-negative integer", optional)


def boolean(name, value, optional=False):
    """Checks that `value` is a real bool (or a NumPy bool); returns a `bool`."""
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        wanted = "None, True or False" if optional else "True or False"
        raise ArgumentTypeError(f"{name} must be {wanted}, received {name}={value!r}")
    return bool(value)


def finite_float(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """Checks that `value` is a finite real number within the bounds; returns a float."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    if low is not None and high is not None:
        wanted = f"a finite float in {left}{low}, {high}{right}"
    elif low is not None:
        wanted = f"a finite float {'>' if low_open else '>='} {low}"
    elif high is not None:
        wanted = f"a finite float {'<' if high_open else '<='} {high}"
    else:
        wanted = "a finite float"
    message = f"{name} must be {wanted}, received {name}={value!r}"
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(message)
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(message)
    return value


def fraction(name, value):
    """A rate in [0, 1) (dropout): 1 would drop everything."""
    return finite_float(name, value, 0, 1, high_open=True)


def bn_momentum(value):
    """BatchNormalization momentum, in [0, 1): at 1 the moving statistics never move."""
    return finite_float("bn_momentum", value, 0, 1, high_open=True)


def bn_epsilon(value):
    """BatchNormalization epsilon, > 0: at 0 a constant channel divides by zero."""
    return finite_float("bn_epsilon", value, 0, low_open=True)


def one_of(name, value, choices):
    """Checks that `value` is one of `choices`, type included (50.0 is not 50)."""
    # The type test comes first: it keeps an array from being compared.
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(
            f"{name} must be one of {list(choices)}, received {name}={value!r}"
        )
    return value


def path(name, value, optional=False):
    """Checks a non-blank str or `os.PathLike` path without NUL; returns it as a str."""
    if value is None and optional:
        return None
    wanted = "None or a non-empty path" if optional else "a non-empty path"
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str):  # bytes, or a PathLike that gives bytes
        raise ArgumentTypeError(
            f"{name} must be {wanted} (a str or os.PathLike), received {name}={value!r}")
    if not text.strip():
        raise ValueError(f"{name} must be {wanted}, received {name}={value!r}")
    if "\0" in text:
        raise ValueError(f"{name} must not contain a NUL character, received {name}={text!r}")
    return text


def directory(name, value, optional=False):
    """Checks a path that is a directory or does not exist yet (not a file)."""
    value = path(name, value, optional)
    if value is not None and os.path.exists(value) and not os.path.isdir(value):
        raise ValueError(
            f"{name} must be a directory, received {name}={value!r}, which is a file")
    return value


def class_names(value, num_classes=None):
    """Checks `class_names`: None, or at most `num_classes` distinct non-empty strings.
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError("class_names must be a list of distinct non-empty strings, "
                         f"received class_names={preview(value)}")
    names = [str(name) if isinstance(name, np.str_) else name for name in value]
    if (not names or not all(isinstance(name, str) and name.strip() for name in names)
            or len(set(names)) != len(names)):
        raise ValueError("class_names must be distinct non-empty strings, "
                         f"received class_names={preview(names)}")
    if is_int(num_classes) and len(names) > num_classes:
        raise ValueError(f"class_names names {len(names)} classes, more than "
                         f"num_classes={num_classes}: received class_names={preview(names)}")
    return names


def json_dict(name, value):
    """None, or a dict with str keys that JSON can hold (a copy, round-tripped)."""
    import json

    if value is None:
        return None
    try:
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise TypeError("not a dict with str keys")
        copy = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a JSON-serializable dict with str keys ({error}), "
                         f"received {name}={preview(value)}") from None
    return copy


def loader_arguments(split, splits, batch_size, shuffle, seed, drop_remainder, start_epoch):
    """Checks the arguments every `zoo.data` loader takes (`zoo.data.COMMON_ARGS`)."""
    one_of("split", split, splits)
    positive_int("batch_size", batch_size)
    boolean("shuffle", shuffle, optional=True)
    non_negative_int("seed", seed)
    boolean("drop_remainder", drop_remainder)
    non_negative_int("start_epoch", start_epoch, optional=True)


def layer_kwargs(kwargs):
    """Checks the base Layer arguments Keras takes too loosely (`name`, `dtype`, `trainable`)."""
    if "name" in kwargs and kwargs["name"] is not None:
        name = kwargs["name"]
        if not isinstance(name, str):
            raise ArgumentTypeError(
                f"name must be a non-empty string, received name={name!r}")
        if not name:
            raise ValueError(f"name must be a non-empty string, received name={name!r}")
    if "trainable" in kwargs:
        boolean("trainable", kwargs["trainable"])
    if kwargs.get("dtype") is not None:
        dtype_policy(kwargs["dtype"])
    return kwargs


def dtype_policy(value):
    """Checks a `dtype` argument: a float dtype or a (mixed) float policy."""
    message = ("dtype must be None, a float dtype (e.g. 'float32', 'bfloat16') or a "
               "Keras dtype policy computing in floats (e.g. 'mixed_float16'), "
               f"received dtype={value!r}")
    try:
        policy = keras.dtype_policies.get(value)
    except (ValueError, TypeError):
        raise ValueError(message) from None
    for dtype in (policy.compute_dtype, policy.variable_dtype):
        # Quantized policies ("int8_from_float32") still compute in floats.
        if dtype is None or not keras.backend.is_float_dtype(dtype):
            raise ValueError(message)
    return value


def _physical_memory_bytes():
    """RAM of this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _fits_in_memory(size, what, name, value):
    """Refuses `what` when its `size` in bytes exceeds this machine's RAM (it never could run)."""
    memory = _physical_memory_bytes()
    if memory is not None and size > memory:
        raise ValueError(
            f"{what} ({size / 2**30:,.1f} GiB), more than this machine's "
            f"{memory / 2**30:,.1f} GiB of memory; received {name}={value!r}")


_BYTES_PER_PARAMETER = {"float16": 2, "bfloat16": 2, "float64": 8}


def weight_fits(name, value, parameters, policy, weight):
    """Checks that the `weight` of `parameters` scalars sized by argument `name` fits in RAM."""
    size = parameters * _BYTES_PER_PARAMETER.get(policy.variable_dtype, 4)
    _fits_in_memory(size, f"{name}={value!r} makes the {weight} {parameters:,} parameters",
                    name, value)


def images_fit(image_size, batch_size, channels, max_examples=None):
    """Checks that one batch of float32 images fits in RAM."""
    height, width = (image_size, image_size) if is_int(image_size) else image_size
    examples = batch_size if max_examples is None else min(batch_size, max_examples)
    _fits_in_memory(examples * height * width * channels * 4,
                    f"image_size={image_size!r} with batch_size={batch_size!r} makes "
                    "one batch of images", "image_size", image_size)


def bn_synchronized(value):
    """Checks `bn_synchronized`: SyncBatchNorm exists on TensorFlow only."""
    value = boolean("bn_synchronized", value)
    backend = keras.backend.backend()
    if value and backend != "tensorflow":
        raise ValueError(
            "bn_synchronized=True synchronizes BatchNorm statistics across the replicas of a "
            "tf.distribute strategy, which needs the TensorFlow backend; the Keras backend is "
            f"{backend!r}. Received bn_synchronized={value!r}: leave it False on {backend} (under "
            "keras.distribution a data-parallel batch is one global array, so its statistics "
            "already span every device)."
        )
    return value


def channel_axis(data_format):
    """Channel axis of a batched 4D tensor (what BatchNormalization wants)."""
    return -1 if data_format == "channels_last" else 1


def channels_of(image_shape, data_format):
    """Channel count of an image shape *without* the batch dimension."""
    return image_shape[-1] if data_format == "channels_last" else image_shape[0]


def image_input_shape(input_shape, data_format, default_size):
    """`input_shape` of an image model as 3 positive ints (height/width may be None).
    """
    if input_shape is None:
        return (default_size, default_size, 3) if data_format == "channels_last" \
            else (3, default_size, default_size)
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    channels = None if shape is None or len(shape) != 3 else channels_of(shape, data_format)
    if shape is None or len(shape) != 3 or not all(
            d is None or (is_int(d) and d > 0) for d in shape) or not is_int(channels):
        order = "(height, width, channels)" if data_format == "channels_last" \
            else "(channels, height, width)"
        raise ValueError(
            f"input_shape must be 3 positive ints {order} for data_format={data_format!r} "
            f"(height/width may be None), received input_shape={input_shape!r}")
    return tuple(None if d is None else int(d) for d in shape)


def activation_of(layer):
    """The registered name of `layer.activation`; None for none or linear."""
    if layer is None:
        return None
    name = keras.activations.serialize(layer.activation)
    return None if name == "linear" else name


def check_image_input(layer_name, input_shape, data_format, expected_channels=None):
    """Checks a batched image shape's rank and channels (Keras' error names an inner Conv2D)."""
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


def dtype_name(dtype):
    """Keras' name of a dtype; NumPy's for those Keras has none for (object)."""
    try:
        return keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        return str(dtype)


def _describe(inputs):
    """How an input shows in a message: shape and dtype, or a short repr."""
    shape, dtype = getattr(inputs, "shape", None), getattr(inputs, "dtype", None)
    if shape is not None and dtype is not None:
        try:
            return f"inputs with shape={tuple(shape)} and dtype={dtype_name(dtype)}"
        except (TypeError, ValueError):  # an unknown rank or an exotic dtype
            return f"inputs with shape={shape} and dtype={dtype}"
    text = repr(inputs)
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"inputs={text} of type {type(inputs).__name__}"


def model_inputs(model_name, inputs, signature):
    """Checks model inputs against `signature`: kind, dtype, rank, empty non-batch dims."""
    rank = len(signature.shape)
    wanted = (f"{model_name} expects inputs of shape {tuple(signature.shape)} "
              f"and dtype {signature.dtype}")
    if inputs is None or isinstance(inputs, (str, bytes, list, tuple, dict)) \
            or not hasattr(inputs, "shape") or not hasattr(inputs, "dtype"):
        hint = ""
        if isinstance(inputs, (str, bytes)) and signature.dtype == "string":
            hint = f"; pass a batch of texts, e.g. [{inputs!r}]"
        elif isinstance(inputs, (list, tuple)):
            hint = "; pass one NumPy array or tensor"
        raise TypeError(f"{wanted} (a NumPy array or tensor), received "
                        f"{_describe(inputs)}{hint}")
    try:
        shape = tuple(inputs.shape)
    except (TypeError, ValueError):  # a traced tensor of unknown rank
        return
    dtype = dtype_name(inputs.dtype)
    if "complex" in dtype or (signature.dtype.startswith("float")
                              and "float" not in dtype):
        raise TypeError(f"{wanted}, received {_describe(inputs)}"
                        + ("" if "complex" in dtype else "; cast it to float32"))
    if len(shape) != rank:
        raise ValueError(f"{wanted} (rank {rank}), received {_describe(inputs)}")
    empty = [axis for axis, size in enumerate(shape[1:], 1)
             if isinstance(size, (int, np.integer)) and size == 0]
    if empty:
        raise ValueError(
            f"{wanted}, received {_describe(inputs)}: dimension {empty[0]} is "
            "empty (only the batch dimension may be 0)")


def _keras_object(getter, kind, name, value):
    """`getter(value)` (Keras' `get` of a kind), or a ValueError naming `name`."""
    try:
        return getter(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} must be {kind} or its name, received {name}={value!r}") from None


def initializer(name, value):
    """Returns the Keras initializer `value` names, or a ValueError naming `name`."""
    return _keras_object(keras.initializers.get, "a Keras initializer", name, value)


def regularizer(name, value):
    """Returns the Keras regularizer `value` names (None stays None)."""
    return _keras_object(keras.regularizers.get, "None or a Keras regularizer", name, value)


def constraint(name, value):
    """Returns the Keras constraint `value` names (None stays None)."""
    return _keras_object(keras.constraints.get, "None or a Keras constraint", name, value)


def stage_indices(name, value, stages):
    """Checks a selection of stages: a non-empty, increasing list or tuple of ints.

    Increasing, not sorted: outputs come in network order.
    """
    stages = [int(stage) for stage in stages]
    wanted = (f"a non-empty list or tuple of ints from {stages}, in increasing "
              f"order, each once")
    if not isinstance(value, (tuple, list)) or not all(is_int(v) for v in value):
        raise ArgumentTypeError(f"{name} must be {wanted}, received {name}={value!r}")
    if not value:
        raise ValueError(f"{name} must be {wanted}, received {name}={value!r}")
    unknown = [int(v) for v in value if int(v) not in stages]
    if unknown:
        raise ValueError(f"{name} must hold stages from {stages}; stage(s) {unknown} do not "
                         f"exist, received {name}={value!r}")
    indices = tuple(int(v) for v in value)
    repeated = sorted({v for v in indices if indices.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} must list each stage once; stage(s) {repeated} repeat, "
                         f"received {name}={value!r}")
    if list(indices) != sorted(indices):
        raise ValueError(f"{name} must list stages in increasing order (the order of the "
                         f"outputs), received {name}={value!r}")
    return indices
