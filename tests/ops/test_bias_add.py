"""`zoo.ops.bias_add` (TensorFlow's `BiasAdd`) against its Keras reference."""

import keras
import numpy as np
import pytest

import helpers
from zoo.ops import bias, bias_add


def as_float32(x):
    return helpers.to_numpy(keras.ops.cast(x, "float32"))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_bias_add_equals_the_reference(data_format, dtype):
    x = helpers.random_inputs((2, 3, 4, 5) if data_format == "channels_last" else (2, 5, 3, 4))
    x = keras.ops.cast(x, dtype)
    values = np.linspace(-1.0, 1.0, 5).astype("float32")  # a float32 variable's dtype
    got = bias_add(x, values, data_format)
    assert helpers.dtype_name(got) == dtype
    assert np.array_equal(as_float32(got), as_float32(bias.reference_bias_add(x, values,
                                                                              data_format)))
    # The channel axis is the one that gets the bias.
    along = values if data_format == "channels_last" else values[:, None, None]
    assert np.allclose(as_float32(got), as_float32(x) + along, atol=1e-2)


def test_bad_data_format_is_named():
    with pytest.raises(ValueError, match="data_format='NHWC'"):
        bias_add(keras.ops.zeros((1, 2, 2, 3)), np.zeros(3, "float32"), "NHWC")
