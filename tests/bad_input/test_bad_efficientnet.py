"""Bad arguments for EfficientNet, MBConv and SqueezeExcite (the pattern of
tests/bad_input/test_bad_mobilenet_v2.py; the arguments EfficientNet shares
with every image family are rowed there and in test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. Construction rows fail before any layer is built.
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import MBConv, SqueezeExcite

NAN, INF = float("nan"), float("inf")
VARIANTS = "['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7']"


def efficientnet(**kwargs):
    return zoo.create_model("efficientnet_b0", **{"num_classes": 3, "input_shape": (32, 32, 3),
                                                  **kwargs})


def variant(**kwargs):
    return zoo.efficientnet.EfficientNet(**{"input_shape": (32, 32, 3), **kwargs})


def block(**kwargs):
    return MBConv(**{"filters": 4, **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- EfficientNet --------------------------------------------------------------
    row(variant, {"variant": "b8"}, ValueError, "variant", "'b8'", VARIANTS, id="variant-b8"),
    row(variant, {"variant": "B0"}, ValueError, "variant", "'B0'", id="variant-case"),
    row(variant, {"variant": 0}, ValueError, "variant", "variant=0", id="variant-int"),
    row(variant, {"variant": None}, ValueError, "variant", "None", id="variant-none"),
    row(efficientnet, {"drop_connect_rate": 1.0}, ValueError, "drop_connect_rate", "1.0",
        id="drop_connect_rate-one"),
    row(efficientnet, {"drop_connect_rate": -0.1}, ValueError, "drop_connect_rate", "-0.1",
        id="drop_connect_rate-negative"),
    row(efficientnet, {"drop_connect_rate": NAN}, ValueError, "drop_connect_rate", "nan",
        id="drop_connect_rate-nan"),
    row(efficientnet, {"drop_connect_rate": INF}, ValueError, "drop_connect_rate", "inf",
        id="drop_connect_rate-inf"),
    row(efficientnet, {"drop_connect_rate": "0.2"}, TypeError, "drop_connect_rate", "'0.2'",
        id="drop_connect_rate-str"),
    row(efficientnet, {"drop_connect_rate": None}, TypeError, "drop_connect_rate", "None",
        id="drop_connect_rate-none"),
    row(efficientnet, {"drop_connect_rate": True}, TypeError, "drop_connect_rate", "True",
        id="drop_connect_rate-bool"),
    row(efficientnet, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    row(efficientnet, {"dropout": -0.5}, ValueError, "dropout", "-0.5", id="dropout-negative"),
    row(efficientnet, {"dropout": NAN}, ValueError, "dropout", "nan", id="dropout-nan"),
    row(efficientnet, {"dropout": "0.2"}, TypeError, "dropout", "'0.2'", id="dropout-str"),
    row(efficientnet, {"dropout": False}, TypeError, "dropout", "False", id="dropout-bool"),
    row(efficientnet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0",
        id="bn_momentum-one"),
    row(efficientnet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="bn_epsilon-zero"),
    row(efficientnet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    # -- MBConv --------------------------------------------------------------------
    row(block, {"kernel_size": 0}, ValueError, "kernel_size", "0", id="block-kernel_size-zero"),
    row(block, {"kernel_size": 3.0}, TypeError, "kernel_size", "3.0",
        id="block-kernel_size-float"),
    row(block, {"kernel_size": True}, TypeError, "kernel_size", "True",
        id="block-kernel_size-bool"),
    row(block, {"se_ratio": -0.25}, ValueError, "se_ratio", "-0.25", id="block-se_ratio-negative"),
    row(block, {"se_ratio": 1.5}, ValueError, "se_ratio", "1.5", id="block-se_ratio-over-one"),
    row(block, {"se_ratio": NAN}, ValueError, "se_ratio", "nan", id="block-se_ratio-nan"),
    row(block, {"se_ratio": "0.25"}, TypeError, "se_ratio", "'0.25'", id="block-se_ratio-str"),
    row(block, {"se_ratio": True}, TypeError, "se_ratio", "True", id="block-se_ratio-bool"),
    row(block, {"drop_rate": 1.0}, ValueError, "drop_rate", "1.0", id="block-drop_rate-one"),
    row(block, {"drop_rate": NAN}, ValueError, "drop_rate", "nan", id="block-drop_rate-nan"),
    row(block, {"drop_rate": None}, TypeError, "drop_rate", "None", id="block-drop_rate-none"),
    row(block, {"filters": 0}, ValueError, "filters", "0", id="block-filters-zero"),
    row(block, {"strides": 1.5}, TypeError, "strides", "1.5", id="block-strides-float"),
    row(block, {"expansion": True}, TypeError, "expansion", "True", id="block-expansion-bool"),
    row(block, {"activation": "nope"}, ValueError, "activation", "'nope'",
        id="block-activation-unknown"),
    row(block, {"padding": "valid"}, ValueError, "padding", "'valid'", id="block-padding-valid"),
    # -- SqueezeExcite --------------------------------------------------------------
    row(SqueezeExcite, {"squeeze_filters": 0}, ValueError, "squeeze_filters", "0",
        id="se-squeeze_filters-zero"),
    row(SqueezeExcite, {"squeeze_filters": None}, TypeError, "squeeze_filters", "None",
        id="se-squeeze_filters-none"),
    row(SqueezeExcite, {"squeeze_filters": 2, "gate_activation": "nope"}, ValueError,
        "gate_activation", "'nope'", id="se-gate_activation-unknown"),
    row(SqueezeExcite, {"squeeze_filters": 2, "name": ""}, ValueError, "name", "''",
        id="se-name-empty"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_imagenet_needs_rgb():
    assert_rejects(lambda: efficientnet(weights="imagenet", input_shape=(32, 32, 1)),
                   ValueError, "input_shape=(32, 32, 1)", "3 channels")


def test_block_on_wrong_channels_after_build():
    layer = MBConv(4, name="mb")
    layer(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError, "mb", "5")


def test_from_keras_applications_names_what_does_not_fit():
    from keras.src.applications.efficientnet import EfficientNet
    from zoo.convert import efficientnet as converter

    # A keras EfficientNet with a width keras.applications has no variant for.
    k = EfficientNet(
        1.3, 1.0, 32, input_shape=(32, 32, 3), weights=None, include_top=False,
        name="efficientnet_custom")
    assert_rejects(lambda: converter.from_keras_applications(k), ValueError, "keras_model",
                   "stem 40", "match no variant", "'b0'")
