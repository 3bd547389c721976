"""Bad arguments for MobileNetV3 and InvertedResidual's MobileNetV3 options (the pattern
of tests/bad_input/test_bad_mobilenet_v2.py; the arguments MobileNetV3 shares with every
image family are rowed there and in test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. Construction rows fail before any layer is built.
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import InvertedResidual
from zoo.models.mobilenet_v3 import MobileNetV3

NAN, INF = float("nan"), float("inf")


def mobilenet(**kwargs):
    return zoo.create_model("mobilenet_v3_small_100", **{"num_classes": 3,
                                                         "input_shape": (32, 32, 3), **kwargs})


def family(**kwargs):
    return MobileNetV3(**{"input_shape": (32, 32, 3), **kwargs})


def block(**kwargs):
    return InvertedResidual(**{"filters": 4, **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- MobileNetV3 -----------------------------------------------------------------
    row(family, {"size": "medium"}, ValueError, "size", "'medium'", "['small', 'large']",
        id="size-unknown"),
    row(family, {"size": "Small"}, ValueError, "size", "'Small'", id="size-case"),
    row(family, {"size": None}, ValueError, "size", "None", id="size-none"),
    row(family, {"size": 1}, ValueError, "size", "size=1", id="size-int"),
    row(family, {"alpha": 0}, ValueError, "alpha", "alpha=0", "(0, 2]", id="alpha-zero"),
    row(family, {"alpha": -0.75}, ValueError, "alpha", "-0.75", id="alpha-negative"),
    row(family, {"alpha": 2.5}, ValueError, "alpha", "2.5", id="alpha-too-wide"),
    row(family, {"alpha": NAN}, ValueError, "alpha", "nan", id="alpha-nan"),
    row(family, {"alpha": INF}, ValueError, "alpha", "inf", id="alpha-inf"),
    row(family, {"alpha": "0.75"}, TypeError, "alpha", "'0.75'", id="alpha-str"),
    row(family, {"alpha": None}, TypeError, "alpha", "None", id="alpha-none"),
    row(family, {"alpha": True}, TypeError, "alpha", "True", id="alpha-bool"),
    row(family, {"minimalistic": "yes"}, TypeError, "minimalistic", "'yes'",
        id="minimalistic-str"),
    row(family, {"minimalistic": 1}, TypeError, "minimalistic", "1", id="minimalistic-int"),
    row(family, {"minimalistic": None}, TypeError, "minimalistic", "None",
        id="minimalistic-none"),
    row(mobilenet, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    row(mobilenet, {"dropout": NAN}, ValueError, "dropout", "nan", id="dropout-nan"),
    row(mobilenet, {"dropout": None}, TypeError, "dropout", "None", id="dropout-none"),
    row(mobilenet, {"dropout": True}, TypeError, "dropout", "True", id="dropout-bool"),
    row(mobilenet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0",
        id="bn_momentum-one"),
    row(mobilenet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="bn_epsilon-zero"),
    row(mobilenet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    row(mobilenet, {"out_stages": (5,)}, ValueError, "out_stages", "5",
        id="out_stages-without-features_only"),
    row(mobilenet, {"features_only": True, "out_stages": (5,)}, ValueError, "out_stages", "5",
        id="out_stages-out-of-range"),
    # -- InvertedResidual: MobileNetV3's options ----------------------------------------
    row(block, {"kernel_size": 0}, ValueError, "kernel_size", "0", id="block-kernel_size-zero"),
    row(block, {"kernel_size": 5.0}, TypeError, "kernel_size", "5.0",
        id="block-kernel_size-float"),
    row(block, {"kernel_size": True}, TypeError, "kernel_size", "True",
        id="block-kernel_size-bool"),
    row(block, {"se_ratio": -0.25}, ValueError, "se_ratio", "-0.25", id="block-se_ratio-negative"),
    row(block, {"se_ratio": 1.5}, ValueError, "se_ratio", "1.5", id="block-se_ratio-over-one"),
    row(block, {"se_ratio": NAN}, ValueError, "se_ratio", "nan", id="block-se_ratio-nan"),
    row(block, {"se_ratio": None}, TypeError, "se_ratio", "None", id="block-se_ratio-none"),
    row(block, {"se_ratio": True}, TypeError, "se_ratio", "True", id="block-se_ratio-bool"),
    row(block, {"expanded_filters": 0}, ValueError, "expanded_filters", "0",
        id="block-expanded_filters-zero"),
    row(block, {"expanded_filters": 72.5}, TypeError, "expanded_filters", "72.5",
        id="block-expanded_filters-float"),
    row(block, {"expanded_filters": True}, TypeError, "expanded_filters", "True",
        id="block-expanded_filters-bool"),
    row(block, {"expanded_filters": "72"}, TypeError, "expanded_filters", "'72'",
        id="block-expanded_filters-str"),
    # A float ratio is MobileNetV3's, given as the hidden width it rounds to.
    row(block, {"expansion": 4.5}, TypeError, "expansion", "4.5", id="block-expansion-float"),
    row(block, {"expansion": None}, ValueError, "expansion", "None",
        id="block-expansion-none-without-expanded_filters"),
    row(block, {"activation": "hardswish"}, ValueError, "activation", "'hardswish'",
        id="block-activation-unknown"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_imagenet_needs_rgb():
    assert_rejects(lambda: mobilenet(weights="imagenet", input_shape=(32, 32, 1)),
                   ValueError, "input_shape=(32, 32, 1)", "3 channels")


def test_imagenet_of_an_unpublished_variant():
    assert_rejects(lambda: zoo.create_model("mobilenet_v3_large_minimal_075", weights="imagenet"),
                   ValueError, "'mobilenet_v3_large_minimal_075'", "weights='imagenet'")


def test_block_on_wrong_channels_after_build():
    layer = InvertedResidual(4, expansion=None, expanded_filters=12, se_ratio=0.25, name="ir")
    layer(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError, "ir", "5")


def test_from_keras_applications_names_what_does_not_fit():
    import keras
    from zoo.convert import mobilenet_v3 as converter

    # A keras MobileNetV3 wider than the zoo's alphas go (0.05 ... 2.0).
    k = keras.applications.MobileNetV3Small(weights=None, alpha=2.5, input_shape=(32, 32, 3),
                                            include_top=False)
    assert_rejects(lambda: converter.from_keras_applications(k), ValueError, "keras_model",
                   "11 blocks", "match no MobileNetV3Small")
