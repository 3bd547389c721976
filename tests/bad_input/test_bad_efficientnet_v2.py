"""Bad arguments for EfficientNetV2 and FusedMBConv (the pattern of
tests/bad_input/test_bad_efficientnet.py; the arguments EfficientNetV2 shares with every
image family are rowed there and in test_bad_models.py).

Each row asserts the exception type and that the message names the argument and shows
the value received. Construction rows fail before any layer is built.
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import FusedMBConv

NAN, INF = float("nan"), float("inf")
VARIANTS = "['b0', 'b1', 'b2', 'b3', 's', 'm', 'l']"


def efficientnet_v2(**kwargs):
    return zoo.create_model("efficientnet_v2_b0", **{"num_classes": 3,
                                                     "input_shape": (32, 32, 3), **kwargs})


def variant(**kwargs):
    return zoo.efficientnet_v2.EfficientNetV2(**{"input_shape": (32, 32, 3), **kwargs})


def block(**kwargs):
    return FusedMBConv(**{"filters": 4, **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- EfficientNetV2 ------------------------------------------------------------
    row(variant, {"variant": "b4"}, ValueError, "variant", "'b4'", VARIANTS, id="variant-b4"),
    row(variant, {"variant": "S"}, ValueError, "variant", "'S'", id="variant-case"),
    row(variant, {"variant": "v2-s"}, ValueError, "variant", "'v2-s'", id="variant-keras-name"),
    row(variant, {"variant": 0}, ValueError, "variant", "variant=0", id="variant-int"),
    row(variant, {"variant": None}, ValueError, "variant", "None", id="variant-none"),
    row(efficientnet_v2, {"drop_connect_rate": 1.0}, ValueError, "drop_connect_rate", "1.0",
        id="drop_connect_rate-one"),
    row(efficientnet_v2, {"drop_connect_rate": -0.1}, ValueError, "drop_connect_rate", "-0.1",
        id="drop_connect_rate-negative"),
    row(efficientnet_v2, {"drop_connect_rate": NAN}, ValueError, "drop_connect_rate", "nan",
        id="drop_connect_rate-nan"),
    row(efficientnet_v2, {"drop_connect_rate": INF}, ValueError, "drop_connect_rate", "inf",
        id="drop_connect_rate-inf"),
    row(efficientnet_v2, {"drop_connect_rate": "0.2"}, TypeError, "drop_connect_rate", "'0.2'",
        id="drop_connect_rate-str"),
    row(efficientnet_v2, {"drop_connect_rate": None}, TypeError, "drop_connect_rate", "None",
        id="drop_connect_rate-none"),
    row(efficientnet_v2, {"drop_connect_rate": True}, TypeError, "drop_connect_rate", "True",
        id="drop_connect_rate-bool"),
    # keras' schedule divides by B3's 21 blocks before depth scaling: its last (block 31)
    # would drop at 0.7 * 31 / 21 > 1.
    row(variant, {"variant": "b3", "drop_connect_rate": 0.7}, ValueError, "drop_connect_rate",
        "0.7", "below 21/31", "b3", id="drop_connect_rate-deepest-block-over-one"),
    row(efficientnet_v2, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    row(efficientnet_v2, {"dropout": NAN}, ValueError, "dropout", "nan", id="dropout-nan"),
    row(efficientnet_v2, {"dropout": "0.2"}, TypeError, "dropout", "'0.2'", id="dropout-str"),
    row(efficientnet_v2, {"dropout": False}, TypeError, "dropout", "False", id="dropout-bool"),
    row(efficientnet_v2, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0",
        id="bn_momentum-one"),
    row(efficientnet_v2, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan",
        id="bn_momentum-nan"),
    row(efficientnet_v2, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0",
        id="bn_epsilon-zero"),
    row(efficientnet_v2, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    # -- FusedMBConv -----------------------------------------------------------------
    row(block, {"kernel_size": 0}, ValueError, "kernel_size", "0", id="block-kernel_size-zero"),
    row(block, {"kernel_size": 3.0}, TypeError, "kernel_size", "3.0",
        id="block-kernel_size-float"),
    row(block, {"kernel_size": True}, TypeError, "kernel_size", "True",
        id="block-kernel_size-bool"),
    row(block, {"se_ratio": -0.25}, ValueError, "se_ratio", "-0.25", id="block-se_ratio-negative"),
    row(block, {"se_ratio": 1.5}, ValueError, "se_ratio", "1.5", id="block-se_ratio-over-one"),
    row(block, {"se_ratio": NAN}, ValueError, "se_ratio", "nan", id="block-se_ratio-nan"),
    row(block, {"se_ratio": "0.25"}, TypeError, "se_ratio", "'0.25'", id="block-se_ratio-str"),
    row(block, {"drop_rate": 1.0}, ValueError, "drop_rate", "1.0", id="block-drop_rate-one"),
    row(block, {"drop_rate": -0.5}, ValueError, "drop_rate", "-0.5",
        id="block-drop_rate-negative"),
    row(block, {"drop_rate": NAN}, ValueError, "drop_rate", "nan", id="block-drop_rate-nan"),
    row(block, {"drop_rate": None}, TypeError, "drop_rate", "None", id="block-drop_rate-none"),
    row(block, {"filters": 0}, ValueError, "filters", "0", id="block-filters-zero"),
    row(block, {"filters": 4.0}, TypeError, "filters", "4.0", id="block-filters-float"),
    row(block, {"strides": 0}, ValueError, "strides", "0", id="block-strides-zero"),
    row(block, {"strides": 1.5}, TypeError, "strides", "1.5", id="block-strides-float"),
    row(block, {"expansion": 0}, ValueError, "expansion", "0", id="block-expansion-zero"),
    row(block, {"expansion": True}, TypeError, "expansion", "True", id="block-expansion-bool"),
    row(block, {"activation": "nope"}, ValueError, "activation", "'nope'",
        id="block-activation-unknown"),
    row(block, {"padding": "valid"}, ValueError, "padding", "'valid'", id="block-padding-valid"),
    row(block, {"bn_epsilon": -1.0}, ValueError, "bn_epsilon", "-1.0",
        id="block-bn_epsilon-negative"),
    row(block, {"data_format": "NHWC"}, ValueError, "data_format", "'NHWC'",
        id="block-data_format-unknown"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_imagenet_needs_rgb():
    assert_rejects(lambda: efficientnet_v2(weights="imagenet", input_shape=(32, 32, 1)),
                   ValueError, "input_shape=(32, 32, 1)", "3 channels")


def test_block_on_wrong_channels_after_build():
    layer = FusedMBConv(4, name="fused")
    layer(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError, "fused", "5")


def test_from_keras_applications_names_what_does_not_fit():
    from keras.src.applications.efficientnet_v2 import EfficientNetV2
    from zoo.convert import efficientnet_v2 as converter

    # A keras EfficientNetV2 with a width keras.applications has no variant for.
    k = EfficientNetV2(1.3, 1.0, 32, input_shape=(32, 32, 3), weights=None, include_top=False,
                       name="efficientnetv2-b0")
    assert_rejects(lambda: converter.from_keras_applications(k), ValueError, "keras_model",
                   "stem 40", "match no variant", "'b0'")
