"""Bad arguments and bad calls for MobileNetV2, InvertedResidual and ConvBN's
MobileNetV2 options (the pattern of tests/bad_input/test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. Construction rows fail before any layer is
built. No input size is too small: every stride-2 layer gives
`ceil(size / 2)`, so even a 1x1 image runs (tests/models/test_mobilenet_v2.py).
With `include_top=False`, `num_classes` is still checked and then unused, as
for ResNet.
"""

import keras
import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import ConvBN, InvertedResidual

NAN, INF = float("nan"), float("inf")
HUGE = 10**12
ALPHAS = "[0.35, 0.5, 0.75, 1.0, 1.3, 1.4]"


def mobilenet(**kwargs):
    return zoo.create_model("mobilenet_v2", **{"alpha": 0.35, "num_classes": 3,
                                               "input_shape": (16, 16, 1), **kwargs})


def block(**kwargs):
    return InvertedResidual(**{"filters": 4, **kwargs})


def row(builder, kwargs, error, *fragments, id, marks=()):
    return pytest.param(builder, kwargs, error, fragments, id=id, marks=marks)


CONSTRUCTION = [
    # -- MobileNetV2 -----------------------------------------------------------
    row(mobilenet, {"alpha": 0.6}, ValueError, "alpha", "0.6", ALPHAS, id="alpha-not-listed"),
    row(mobilenet, {"alpha": 0}, ValueError, "alpha", "alpha=0", ALPHAS, id="alpha-zero"),
    row(mobilenet, {"alpha": -1}, ValueError, "alpha", "-1", ALPHAS, id="alpha-negative"),
    row(mobilenet, {"alpha": NAN}, ValueError, "alpha", "nan", ALPHAS, id="alpha-nan"),
    row(mobilenet, {"alpha": INF}, ValueError, "alpha", "inf", ALPHAS, id="alpha-inf"),
    # Wrong types are TypeErrors that are ValueErrors too (zoo._validation).
    row(mobilenet, {"alpha": "1.0"}, (TypeError, ValueError), "alpha", "'1.0'", ALPHAS,
        id="alpha-str"),
    row(mobilenet, {"alpha": None}, ValueError, "alpha", "None", ALPHAS, id="alpha-none"),
    row(mobilenet, {"alpha": True}, TypeError, "alpha", "True", ALPHAS, id="alpha-bool"),
    row(mobilenet, {"num_classes": 0}, ValueError, "num_classes", "0", id="num_classes-zero"),
    row(mobilenet, {"num_classes": -2}, ValueError, "num_classes", "-2", id="num_classes-negative"),
    row(mobilenet, {"num_classes": 2.5}, TypeError, "num_classes", "2.5", id="num_classes-float"),
    row(mobilenet, {"num_classes": "10"}, TypeError, "num_classes", "'10'", id="num_classes-str"),
    row(mobilenet, {"num_classes": None}, TypeError, "num_classes", "None", id="num_classes-none"),
    row(mobilenet, {"num_classes": HUGE}, ValueError, "num_classes", str(HUGE), "memory",
        id="num_classes-huge"),
    row(mobilenet, {"include_top": False, "num_classes": 0}, ValueError, "num_classes", "0",
        id="num_classes-zero-without-top"),
    row(mobilenet, {"include_top": "no"}, TypeError, "include_top", "'no'", id="include_top-str"),
    row(mobilenet, {"pooling": "mean"}, ValueError, "pooling", "'mean'", id="pooling-unknown"),
    row(mobilenet, {"pooling": "AVG"}, ValueError, "pooling", "'AVG'", id="pooling-case"),
    row(mobilenet, {"pooling": ""}, ValueError, "pooling", "''", id="pooling-empty"),
    row(mobilenet, {"input_shape": (16, 16)}, ValueError, "input_shape", "(16, 16)",
        id="input_shape-rank2"),
    row(mobilenet, {"input_shape": (1, 16, 16, 1)}, ValueError, "input_shape", "(1, 16, 16, 1)",
        id="input_shape-rank4"),
    row(mobilenet, {"input_shape": (0, 16, 1)}, ValueError, "input_shape", "(0, 16, 1)",
        id="input_shape-zero"),
    row(mobilenet, {"input_shape": (16, -16, 1)}, ValueError, "input_shape", "(16, -16, 1)",
        id="input_shape-negative"),
    row(mobilenet, {"input_shape": (16, 16, None)}, ValueError, "input_shape", "(16, 16, None)",
        id="input_shape-unknown-channels"),
    row(mobilenet, {"input_shape": (16.0, 16, 1)}, ValueError, "input_shape", "(16.0, 16, 1)",
        id="input_shape-float"),
    row(mobilenet, {"input_shape": "16"}, ValueError, "input_shape", "'16'", id="input_shape-str"),
    row(mobilenet, {"data_format": "NCHW"}, ValueError, "data_format", "'NCHW'",
        id="data_format-unknown"),
    row(mobilenet, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    row(mobilenet, {"dropout": -0.1}, ValueError, "dropout", "-0.1", id="dropout-negative"),
    row(mobilenet, {"dropout": NAN}, ValueError, "dropout", "nan", id="dropout-nan"),
    row(mobilenet, {"dropout": "0.2"}, TypeError, "dropout", "'0.2'", id="dropout-str"),
    row(mobilenet, {"dropout": None}, TypeError, "dropout", "None", id="dropout-none"),
    row(mobilenet, {"classifier_activation": "nope"}, ValueError, "classifier_activation",
        "'nope'", id="classifier_activation-unknown"),
    row(mobilenet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0", id="bn_momentum-one"),
    row(mobilenet, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan", id="bn_momentum-nan"),
    row(mobilenet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="bn_epsilon-zero"),
    row(mobilenet, {"bn_epsilon": "x"}, TypeError, "bn_epsilon", "'x'", id="bn_epsilon-str"),
    row(mobilenet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    row(mobilenet, {"name": ""}, ValueError, "name", "''", id="name-empty"),
    row(mobilenet, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="dtype-int32"),
    row(mobilenet, {"trainable": "no"}, TypeError, "trainable", "'no'", id="trainable-str"),
    # -- InvertedResidual ------------------------------------------------------
    row(block, {"filters": 0}, ValueError, "filters", "0", id="block-filters-zero"),
    row(block, {"filters": None}, TypeError, "filters", "None", id="block-filters-none"),
    row(block, {"strides": 0}, ValueError, "strides", "0", id="block-strides-zero"),
    row(block, {"strides": 1.5}, TypeError, "strides", "1.5", id="block-strides-float"),
    row(block, {"expansion": 0}, ValueError, "expansion", "0", id="block-expansion-zero"),
    row(block, {"expansion": 6.0}, TypeError, "expansion", "6.0", id="block-expansion-float"),
    row(block, {"expansion": True}, TypeError, "expansion", "True", id="block-expansion-bool"),
    row(block, {"data_format": "channels"}, ValueError, "data_format", "'channels'",
        id="block-data_format-unknown"),
    row(block, {"bn_momentum": -0.5}, ValueError, "bn_momentum", "-0.5",
        id="block-bn_momentum-negative"),
    row(block, {"bn_epsilon": INF}, ValueError, "bn_epsilon", "inf", id="block-bn_epsilon-inf"),
    row(block, {"bn_synchronized": 1}, TypeError, "bn_synchronized", "1",
        id="block-bn_synchronized-int"),
    row(block, {"activation": "nope"}, ValueError, "activation", "'nope'",
        id="block-activation-unknown"),
    row(block, {"padding": "valid"}, ValueError, "padding", "'valid'", id="block-padding-valid"),
    row(block, {"name": ""}, ValueError, "name", "''", id="block-name-empty"),
    row(block, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="block-dtype-int32"),
    # -- ConvBN's MobileNetV2 options -------------------------------------------
    row(lambda **kw: ConvBN(**{"kernel_size": 3, **kw}), {"filters": None}, TypeError,
        "filters", "None", id="convbn-filters-none-not-depthwise"),
    row(lambda **kw: ConvBN(None, 3, **kw), {"depthwise": "True"}, TypeError, "depthwise",
        "'True'", id="convbn-depthwise-str"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"padding": "SAME"}, ValueError, "padding", "'SAME'",
        id="convbn-padding-case"),
    row(lambda **kw: ConvBN(4, 3, **kw), {"padding": None}, ValueError, "padding", "None",
        id="convbn-padding-none"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


# ---------------------------------------------------------------------------
# Calls: one small model, built once.

@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return mobilenet()


CALLS = [
    pytest.param(None, TypeError, ("inputs=None",), id="none"),
    pytest.param("hello", TypeError, ("inputs='hello'",), id="str"),
    pytest.param(np.ones((1, 16, 16, 1), np.int32), TypeError, ("inputs", "dtype=int32"),
                 id="int"),
    pytest.param(np.ones((1, 16, 0, 1), np.float32), ValueError,
                 ("inputs", "shape=(1, 16, 0, 1)"), id="zero-width"),
    pytest.param(np.ones((16, 16, 1), np.float32), ValueError, ("inputs", "shape=(16, 16, 1)"),
                 id="rank3"),
    pytest.param(np.ones((1, 16, 16, 3), np.float32), ValueError,
                 ("inputs", "(1, 16, 16, 3)", "channels"), id="wrong-channels"),
]


@pytest.mark.parametrize("inputs, error, fragments", CALLS)
def test_bad_call(model, inputs, error, fragments):
    assert_rejects(lambda: model(inputs), error, *fragments)


def test_block_on_wrong_channels_after_build():
    layer = InvertedResidual(4, name="ir")
    layer(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError,
                   "ir", "5")


def test_depthwise_convbn_filters_must_be_the_input_channels():
    layer = ConvBN(6, 3, depthwise=True, name="dw")
    assert_rejects(lambda: layer(np.zeros((1, 4, 4, 5), "float32")), ValueError,
                   "dw", "filters=6", "(1, 4, 4, 5)")


def test_empty_batch_gives_empty_output(model):
    outputs = model(model.example_inputs(batch_size=0))
    assert tuple(outputs.shape) == (0, 3)
