"""Tests for `zoo.blocks.einsum_dense`: EinsumDense, the dense head and its conversions."""

import math

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import EinsumDense
from zoo.blocks.einsum_dense import HEAD_EQUATIONS, dense_kernel_to_head, head_kernel_to_dense

DATA_FORMATS = ("channels_last", "channels_first")


def _head_kwargs(units, data_format, **kwargs):
    """`dense_head`'s constructor arguments, for tests that take a class + kwargs."""
    config = EinsumDense.dense_head(units, data_format=data_format, **kwargs).get_config()
    return {key: config[key] for key in ("equation", "output_shape", "bias_axes",
                                         *kwargs)}


# --------------------------------------------------------------------------
# Layer contract

CONTRACT_CASES = [
    # (id, init kwargs, input shape, expected output shape)
    ("matmul", {"equation": "ab,bc->ac", "output_shape": (5,), "bias_axes": "c"},
     (2, 4), (2, 5)),
    ("ellipsis_rank2", {"equation": "...i,ij->...j", "output_shape": 6}, (2, 4), (2, 6)),
    ("ellipsis_rank3_relu", {"equation": "...i,ij->...j", "output_shape": (6,),
                             "bias_axes": "j", "activation": "relu"},
     (2, 3, 4), (2, 3, 6)),
    ("right_ellipsis", {"equation": "ab...,bc->ac...", "output_shape": (5,),
                        "bias_axes": "c"}, (2, 4, 3), (2, 5, 3)),
    ("two_output_axes", {"equation": "abc,cde->abde", "output_shape": (None, 4, 5),
                         "bias_axes": "de"}, (2, 3, 6), (2, 3, 4, 5)),
    ("bias_on_input_axis", {"equation": "abc,cd->abd", "output_shape": (None, 5),
                            "bias_axes": "bd", "activation": "tanh"},
     (2, 3, 4), (2, 3, 5)),
    ("contract_two_axes", {"equation": "abc,bcd->ad", "output_shape": (5,),
                           "bias_axes": "d"}, (2, 3, 4), (2, 5)),
    ("transposed_output", {"equation": "abc,bd->adc", "output_shape": (5, None),
                           "bias_axes": "d"}, (2, 3, 4), (2, 5, 4)),
    ("per_position_weights", {"equation": "abc,bc->abc", "output_shape": (None, None),
                              "bias_axes": "c"}, (2, 3, 4), (2, 3, 4)),
    ("head_channels_last", _head_kwargs(7, "channels_last"), (2, 4, 5, 3), (2, 7)),
    ("head_channels_first_softmax",
     _head_kwargs(7, "channels_first", activation="softmax"), (2, 3, 4, 5), (2, 7)),
    ("head_no_bias", _head_kwargs(7, "channels_last", bias_axes=None), (2, 4, 4, 2), (2, 7)),
]


@pytest.mark.parametrize("kwargs, input_shape, output_shape",
                         [case[1:] for case in CONTRACT_CASES],
                         ids=[case[0] for case in CONTRACT_CASES])
def test_layer_contract(kwargs, input_shape, output_shape):
    helpers.run_layer_test(EinsumDense, kwargs, input_shape=input_shape,
                           expected_output_shape=output_shape)


def test_einsum_by_hand():
    layer = EinsumDense("abc,cde->abde", (None, 4, 5), bias_axes="de", activation="relu",
                        bias_initializer="random_normal")
    x = helpers.random_inputs((2, 3, 6), seed=1)
    got = helpers.to_numpy(layer(x))
    kernel, bias = (helpers.to_numpy(w) for w in (layer.kernel, layer.bias))
    np.testing.assert_allclose(got, np.maximum(np.einsum("abc,cde->abde", x, kernel) + bias, 0),
                               atol=1e-5, rtol=0)


def test_spaces_in_the_equation_are_ignored():
    layer = EinsumDense(" ... i , i j -> ... j ", 5, bias_axes="j")
    assert tuple(layer(helpers.random_inputs((2, 3, 4))).shape) == (2, 3, 5)
    assert layer.get_config()["equation"] == " ... i , i j -> ... j "


def test_weights_and_shapes():
    layer = EinsumDense("abc,cd->abd", (None, 5), bias_axes="bd")
    layer.build((None, 3, 4))
    assert [w.path.split("/", 1)[1] for w in layer.weights] == ["kernel", "bias"]
    assert tuple(layer.kernel.shape) == (4, 5)
    assert tuple(layer.bias.shape) == (3, 5)  # from the first bias axis on
    assert EinsumDense("ab,bc->ac", 5).partial_output_shape == (5,)
    assert EinsumDense("ab,bc->ac", [5]).get_config()["output_shape"] == (5,)
    no_bias = EinsumDense("ab,bc->ac", 5)
    no_bias.build((None, 4))
    assert no_bias.bias is None and len(no_bias.weights) == 1


def test_unknown_batch_and_ellipsis_dims_stay_unknown():
    layer = EinsumDense("...i,ij->...j", 6, bias_axes="j")
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 6)
    assert tuple(layer(keras.Input(shape=(None, 4))).shape) == (None, None, 6)


def test_ellipsis_layer_takes_inputs_of_any_rank_once_built():
    layer = EinsumDense("...i,ij->...j", 6, bias_axes="j")
    assert tuple(layer(helpers.random_inputs((2, 4))).shape) == (2, 6)
    assert tuple(layer(helpers.random_inputs((2, 3, 5, 4))).shape) == (2, 3, 5, 6)


def test_several_leading_ellipsis_axes_keep_their_order():
    # Keras' own compute_output_shape reverses them: (2, 5, 3, 6).
    layer = EinsumDense("...i,ij->...j", 6, bias_axes="j")
    assert layer.compute_output_shape((2, 3, 5, 4)) == (2, 3, 5, 6)
    assert tuple(layer(keras.Input(shape=(3, 5, 4))).shape) == (None, 3, 5, 6)


def test_ellipsis_anywhere_in_the_operands():
    # Keras' own layer takes "..." only at the start or the end.
    layer = EinsumDense("a...i,ij->a...j", 5, bias_axes="j", bias_initializer="random_normal")
    x = helpers.random_inputs((2, 3, 4), seed=7)
    got, kernel, bias = (helpers.to_numpy(t) for t in (layer(x), layer.kernel, layer.bias))
    np.testing.assert_allclose(got, np.einsum("abi,ij->abj", x, kernel) + bias,
                               atol=1e-5, rtol=0)
    assert tuple(EinsumDense("...i,ij->...j", 6)(np.ones((4,), "float32")).shape) == (6,)


def test_the_einsum_never_sees_an_ellipsis(monkeypatch):
    # TensorFlow's oneDNN float16 einsum is wrong for an equation with "...":
    # the layer spells it out as letters for the rank it is called on.
    equations = []
    einsum = keras.ops.einsum

    def recording_einsum(equation, *operands):
        equations.append(equation)
        return einsum(equation, *operands)

    monkeypatch.setattr(keras.ops, "einsum", recording_einsum)
    layer = EinsumDense("...i,ik->...k", 3, bias_axes="k")
    layer(np.ones((2, 4), "float32"))
    layer(np.ones((2, 5, 4), "float32"))
    assert equations and all("..." not in e for e in equations), equations


def test_activation_attribute_is_the_registered_name():
    assert EinsumDense("ab,bc->ac", 3, activation=keras.activations.relu).activation == "relu"
    assert EinsumDense("ab,bc->ac", 3).activation is None


@pytest.mark.parametrize("initializer", ["glorot_uniform", "he_uniform", "lecun_uniform"])
def test_variance_scaling_counts_fans_from_the_equation(initializer):
    # Head kernel (h, w, c, k) = (6, 6, 8, 4): fan_in = 288, fan_out = 4.
    # Keras' default guess (a conv kernel) would count fan_out = 6*6*4 = 144,
    # which shrinks glorot's limit from sqrt(6/292) to sqrt(6/432).
    keras.utils.set_random_seed(0)
    layer = EinsumDense.dense_head(4, "channels_last", kernel_initializer=initializer)
    layer.build((None, 6, 6, 8))
    kernel = helpers.to_numpy(layer.kernel)
    fan_in, fan_out = 6 * 6 * 8, 4
    scale, fan = {"glorot_uniform": (1.0, (fan_in + fan_out) / 2),
                  "he_uniform": (2.0, fan_in), "lecun_uniform": (1.0, fan_in)}[initializer]
    limit = math.sqrt(3.0 * scale / fan)
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit  # 1152 draws reach the edge
    # The configured initializer is left as given (seed and axes unset).
    assert layer.get_config()["kernel_initializer"]["config"].get("input_axes") is None


# --------------------------------------------------------------------------
# Same function as Keras' layers


@pytest.mark.parametrize("input_shape", [(3, 4), (2, 3, 4)])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_ellipsis_equation_equals_keras_dense(input_shape, activation):
    ours = EinsumDense("...i,ij->...j", 5, bias_axes="j", activation=activation,
                       bias_initializer="random_normal")
    dense = keras.layers.Dense(5, activation=activation)
    x = helpers.random_inputs(input_shape, seed=2)
    ours(x)
    dense(x)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in dense.weights]
    dense.set_weights(ours.get_weights())
    np.testing.assert_allclose(helpers.to_numpy(ours(x)), helpers.to_numpy(dense(x)),
                               atol=1e-5, rtol=0)


KERAS_EINSUM_CASES = [
    ("ab,bc->ac", (5,), "c", (3, 4)),
    ("...i,ij->...j", 5, "j", (2, 3, 4)),
    ("...i,ij->...j", 5, None, (3, 4)),
    ("abc,cde->abde", (None, 4, 5), "de", (2, 3, 6)),
    # Keras needs the input axis' size spelled out for a bias on it.
    ("abc,cde->abde", (3, 4, 5), "be", (2, 3, 6)),
    ("abc,cd->abd", (3, 5), "bd", (2, 3, 4)),
    ("abc,bcd->ad", (5,), "d", (2, 3, 4)),
    ("ab...,bc->ac...", (5,), "c", (2, 4, 3)),
    ("nhwc,hwck->nk", (7,), "k", (2, 4, 5, 3)),
    ("nchw,chwk->nk", (7,), "k", (2, 3, 4, 5)),
]


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape", KERAS_EINSUM_CASES)
def test_equals_keras_einsum_dense(equation, output_shape, bias_axes, input_shape):
    args = {"equation": equation, "output_shape": output_shape, "bias_axes": bias_axes,
            "activation": "gelu", "bias_initializer": "random_normal"}
    ours = EinsumDense(**args)
    theirs = keras.layers.EinsumDense(**args)
    x = helpers.random_inputs(input_shape, seed=3)
    ours(x)
    theirs(x)
    # Same weight layout (bias included), so weights move over unchanged.
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    theirs.set_weights(ours.get_weights())
    expected = helpers.to_numpy(theirs(x))
    np.testing.assert_allclose(helpers.to_numpy(ours(x)), expected, atol=1e-5, rtol=0)
    # (Keras' own compute_output_shape leaves axes given as None unknown.)
    assert ours.compute_output_shape(input_shape) == expected.shape


# --------------------------------------------------------------------------
# Dense head <-> Flatten + Dense


def _image(data_format, shape_last=(3, 4, 5), seed=0):
    """(2, H, W, C) or (2, C, H, W) random images and the head's feature shape."""
    x = helpers.random_inputs((2,) + shape_last, seed=seed)
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    return x, x.shape[1:]


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_dense_head_equation_and_kernel_layout(data_format):
    head = EinsumDense.dense_head(6, data_format=data_format)
    assert head.equation == {"channels_last": "nhwc,hwck->nk",
                             "channels_first": "nchw,chwk->nk"}[data_format]
    assert head.bias_axes == "k" and head.partial_output_shape == (6,)
    x, features = _image(data_format)
    assert tuple(head(x).shape) == (2, 6)
    assert tuple(head.kernel.shape) == features + (6,)
    assert tuple(head.bias.shape) == (6,)


def test_dense_head_default_data_format_follows_keras_config():
    keras.config.set_image_data_format("channels_first")  # conftest restores it
    assert EinsumDense.dense_head(3).equation == "nchw,chwk->nk"
    keras.config.set_image_data_format("channels_last")
    assert EinsumDense.dense_head(3).equation == "nhwc,hwck->nk"


def _flatten_dense(data_format, units, features, flatten_data_format=None):
    model = keras.Sequential([
        keras.Input(shape=features),
        keras.layers.Flatten(data_format=flatten_data_format or data_format),
        keras.layers.Dense(units, bias_initializer="random_normal"),
    ])
    return model, model.layers[-1]


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_head_to_flatten_dense(data_format):
    x, features = _image(data_format, seed=1)
    head = EinsumDense.dense_head(6, data_format=data_format,
                                  bias_initializer="random_normal")
    expected = helpers.to_numpy(head(x))
    model, dense = _flatten_dense(data_format, 6, features)
    dense.set_weights([head_kernel_to_dense(head.kernel, data_format),
                       helpers.to_numpy(head.bias)])
    np.testing.assert_allclose(helpers.to_numpy(model(x)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_flatten_dense_to_head(data_format):
    x, features = _image(data_format, seed=2)
    model, dense = _flatten_dense(data_format, 6, features)
    expected = helpers.to_numpy(model(x))
    kernel, bias = dense.get_weights()
    head = EinsumDense.dense_head(6, data_format=data_format)
    head.build(x.shape)
    head.set_weights([dense_kernel_to_head(kernel, features, data_format), bias])
    np.testing.assert_allclose(helpers.to_numpy(head(x)), expected, atol=1e-5, rtol=0)
    # And back again, exactly.
    np.testing.assert_array_equal(head_kernel_to_dense(head.kernel, data_format), kernel)


def test_plain_flatten_before_channels_first_features_is_memory_order():
    # Flatten() left at channels_last flattens NCHW features as (c, h, w):
    # convert with the Flatten's data_format, not the head's.
    x, features = _image("channels_first", seed=3)
    model, dense = _flatten_dense("channels_first", 6, features,
                                  flatten_data_format="channels_last")
    kernel, bias = dense.get_weights()
    head = EinsumDense.dense_head(6, data_format="channels_first")
    head.build(x.shape)
    head.set_weights([dense_kernel_to_head(kernel, features, "channels_last"), bias])
    expected = helpers.to_numpy(model(x))
    np.testing.assert_allclose(helpers.to_numpy(head(x)), expected, atol=1e-5, rtol=0)
    # The conversion does depend on it: the head's own format gives other outputs.
    head.set_weights([dense_kernel_to_head(kernel, features, "channels_first"), bias])
    assert np.abs(helpers.to_numpy(head(x)) - expected).max() > 1e-2


def test_channels_first_head_equals_channels_last_head_on_transposed_input():
    x_last, features_last = _image("channels_last", seed=4)
    x_first = np.transpose(x_last, (0, 3, 1, 2))
    last = EinsumDense.dense_head(6, "channels_last", bias_initializer="random_normal")
    expected = helpers.to_numpy(last(x_last))
    first = EinsumDense.dense_head(6, "channels_first")
    first.build(x_first.shape)
    # channels_last and channels_first Flatten layers order features alike
    # (h, w, c), so one Dense kernel serves both heads.
    shared = head_kernel_to_dense(last.kernel, "channels_last")
    kernel_first = dense_kernel_to_head(shared, x_first.shape[1:], "channels_first")
    np.testing.assert_array_equal(kernel_first,
                                  np.transpose(helpers.to_numpy(last.kernel), (2, 0, 1, 3)))
    first.set_weights([kernel_first, helpers.to_numpy(last.bias)])
    np.testing.assert_allclose(helpers.to_numpy(first(x_first)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("flatten_format", DATA_FORMATS)
def test_kernel_conversions_are_inverse(flatten_format):
    kernel = helpers.random_inputs((3, 4, 5, 2), seed=5)
    dense = head_kernel_to_dense(kernel, flatten_format)
    assert dense.shape == (60, 2)
    np.testing.assert_array_equal(dense_kernel_to_head(dense, (3, 4, 5), flatten_format),
                                  kernel)


def test_conversions_accept_variables_and_default_to_keras_data_format():
    head = EinsumDense.dense_head(2, "channels_last")
    head.build((None, 2, 3, 4))
    keras.config.set_image_data_format("channels_first")  # conftest restores it
    np.testing.assert_array_equal(
        head_kernel_to_dense(head.kernel),
        np.transpose(helpers.to_numpy(head.kernel), (1, 2, 0, 3)).reshape(24, 2))


# --------------------------------------------------------------------------
# Bad arguments and inputs


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"equation": "ab,bc"}, "equation", "'ab,bc'"),
    ({"equation": "ab->b"}, "equation", "'ab->b'"),
    ({"equation": "ab,bc,cd->ad"}, "equation", "'ab,bc,cd->ad'"),
    ({"equation": "a1,bc->ac"}, "equation", "'a1,bc->ac'"),
    ({"equation": "a...b...,bc->ac"}, "equation", "'a...b...,bc->ac'"),
    ({"equation": 5}, "equation", "5"),
    ({"equation": "...i,...ij->...j"}, "equation", "'...i,...ij->...j'"),
    ({"equation": "...i,ij->j"}, "equation", "'...i,ij->j'"),
    ({"equation": "abb,bc->ac"}, "equation", "'abb,bc->ac'"),
    ({"equation": "ab,->a"}, "equation", "'ab,->a'"),
    ({"equation": "ab,b->"}, "equation", "'ab,b->'"),
    ({"equation": "ab,bc->ad"}, "equation", "['d']"),        # output label in neither
    ({"equation": "ab,bcx->ac"}, "equation", "['x']"),       # kernel label in neither
    ({"equation": "ab,bc->cb"}, "equation", "'ab,bc->cb'"),  # batch not from the input
    ({"output_shape": (3, 4)}, "output_shape", "(3, 4)"),
    ({"output_shape": ()}, "output_shape", "()"),
    ({"output_shape": (None,)}, "output_shape", "(None,)"),
    ({"output_shape": 0}, "output_shape", "0"),
    ({"output_shape": (-2,)}, "output_shape", "(-2,)"),
    ({"output_shape": 2.5}, "output_shape", "2.5"),
    ({"output_shape": "5"}, "output_shape", "'5'"),
    ({"output_shape": (True,)}, "output_shape", "(True,)"),
    ({"bias_axes": "x"}, "bias_axes", "'x'"),
    ({"bias_axes": "cc"}, "bias_axes", "'cc'"),
    ({"bias_axes": ""}, "bias_axes", "''"),
    ({"bias_axes": 1}, "bias_axes", "1"),
    ({"activation": "nope"}, "activation", "nope"),
])
def test_bad_arguments(kwargs, argument, value):
    args = {"equation": "ab,bc->ac", "output_shape": (5,), **kwargs}
    with pytest.raises(ValueError) as info:
        EinsumDense(**args)
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"data_format": "channel_last"}, "data_format", "channel_last"),
    ({"data_format": "NHWC"}, "data_format", "NHWC"),
    ({"units": 0}, "units", "0"),
    ({"units": 3.0}, "units", "3.0"),
])
def test_dense_head_bad_arguments(kwargs, argument, value):
    with pytest.raises((TypeError, ValueError)) as info:
        EinsumDense.dense_head(**{"units": 4, **kwargs})
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("equation, output_shape, shape", [
    ("ab,bc->ac", 5, (2, 3, 4)),
    ("ab,bc->ac", 5, (4,)),
    ("...ij,jk->...ik", (None, 5), (4,)),
    ("nhwc,hwck->nk", 5, (2, 4, 4)),
])
def test_input_rank_that_does_not_fit_the_equation(equation, output_shape, shape):
    for call in (lambda layer: layer(np.zeros(shape, "float32")),
                 lambda layer: layer.compute_output_shape(shape)):
        with pytest.raises(ValueError) as info:
            call(EinsumDense(equation, output_shape))
        message = str(info.value)
        assert "equation" in message and repr(equation) in message \
            and str(shape) in message, message


def test_output_shape_that_contradicts_the_input():
    layer = EinsumDense("abc,cd->abd", (7, 5))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 3, 4), "float32"))
    message = str(info.value)
    assert "output_shape" in message and "(7, 5)" in message and "(2, 3, 4)" in message


def test_unknown_kernel_axis_size():
    layer = EinsumDense("nhwc,hwck->nk", 5, name="my_head")
    with pytest.raises(ValueError) as info:
        layer(keras.Input(shape=(None, None, 3)))
    message = str(info.value)
    assert "my_head" in message and "(None, None, None, 3)" in message, message


def test_built_layer_rejects_other_kernel_sizes():
    head = EinsumDense.dense_head(5, "channels_last", name="my_head")
    head(np.zeros((2, 4, 4, 3), "float32"))
    with pytest.raises(ValueError) as info:
        head(np.zeros((2, 5, 5, 3), "float32"))
    message = str(info.value)
    assert "my_head" in message and "(2, 5, 5, 3)" in message and "(4, 4, 3, 5)" in message


def test_built_layer_rejects_other_bias_axis_sizes_and_ellipsis_ranks():
    layer = EinsumDense("abc,cd->abd", (None, 5), bias_axes="bd", name="per_step")
    layer(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 6, 4), "float32"))  # the bias has 3 rows for "b"
    assert "per_step" in str(info.value) and "(2, 6, 4)" in str(info.value)
    # A bias over "..." axes: (5, 1) fits rank 3 only.
    right = EinsumDense("ab...,bc->ac...", 5, bias_axes="c", name="right")
    right(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError) as info:
        right(np.zeros((2, 4, 3, 3), "float32"))
    assert "'...'" in str(info.value) and "(2, 4, 3, 3)" in str(info.value)
    # Without a bias over them, "..." takes any rank.
    left = EinsumDense("...i,ij->...j", 5, bias_axes="j")
    left(np.zeros((2, 4), "float32"))
    assert tuple(left(np.zeros((2, 3, 4), "float32")).shape) == (2, 3, 5)


@pytest.mark.parametrize("call, argument, value", [
    (lambda: head_kernel_to_dense(np.zeros((12, 5))), "kernel", "(12, 5)"),
    (lambda: head_kernel_to_dense(np.zeros((2, 2, 3, 5)), "nhwc"), "data_format", "nhwc"),
    (lambda: dense_kernel_to_head(np.zeros((12, 5)), (2, 2, 2)), "kernel", "(12, 5)"),
    (lambda: dense_kernel_to_head(np.zeros((2, 2, 3, 5)), (2, 2, 3)), "kernel", "(2, 2, 3, 5)"),
    (lambda: dense_kernel_to_head(np.zeros((12, 5)), (12,)), "feature_shape", "(12,)"),
    (lambda: dense_kernel_to_head(np.zeros((12, 5)), (2, 0, 3)), "feature_shape", "(2, 0, 3)"),
    (lambda: dense_kernel_to_head(np.zeros((12, 5)), (2, 2, 3), "NCHW"), "data_format", "NCHW"),
])
def test_conversion_bad_arguments(call, argument, value):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_dense_head_is_keras_einsum_dense(data_format):
    # The review: EinsumDense("nhwc,hwck->nk", (10,), bias_axes="k")
    # is dense_head(10): same weight shapes and paths, the same outputs with
    # the same weights, and the same initializer spread (same seed, same kernel).
    equation = HEAD_EQUATIONS[data_format]
    x, _ = _image(data_format, seed=6)
    head = EinsumDense.dense_head(10, data_format=data_format, name="head",
                                  kernel_initializer=keras.initializers.GlorotUniform(seed=4),
                                  bias_initializer="random_normal")
    theirs = keras.layers.EinsumDense(
        equation, (10,), bias_axes="k", name="head",
        kernel_initializer=keras.initializers.GlorotUniform(seed=4))
    assert isinstance(head, keras.layers.EinsumDense)
    head(x)
    theirs(x)
    assert [(w.path, tuple(w.shape)) for w in head.weights] == \
        [(w.path, tuple(w.shape)) for w in theirs.weights]
    np.testing.assert_array_equal(helpers.to_numpy(head.kernel), helpers.to_numpy(theirs.kernel))
    theirs.set_weights(head.get_weights())
    np.testing.assert_array_equal(helpers.to_numpy(head(x)), helpers.to_numpy(theirs(x)))
