"""Bad arguments and bad calls for ResNetV2 and PreActBottleneck (the pattern of
tests/bad_input/test_bad_mobilenet_v2.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. Construction rows fail before any layer is
built. The `ImageClassifier` arguments (head, input, layout) are the shared
ones, checked once in tests/bad_input/test_bad_mobilenet_v2.py; a few rows
here show ResNetV2 passes them on. keras_model rows of
`from_keras_applications`: tests/models/test_resnet_v2.py.
"""

import keras
import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import PreActBottleneck
from zoo.models.resnet_v2 import ResNetV2

NAN, INF = float("nan"), float("inf")
DEPTHS = "[50, 101, 152]"


def resnet(**kwargs):
    return ResNetV2(**{"num_classes": 3, "input_shape": (16, 16, 1), **kwargs})


def block(**kwargs):
    return PreActBottleneck(**{"filters": 4, **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- ResNetV2 --------------------------------------------------------------
    row(resnet, {"depth": 18}, ValueError, "depth", "depth=18", DEPTHS, id="depth-unknown"),
    row(resnet, {"depth": 0}, ValueError, "depth", "depth=0", DEPTHS, id="depth-zero"),
    row(resnet, {"depth": -50}, ValueError, "depth", "-50", DEPTHS, id="depth-negative"),
    row(resnet, {"depth": 50.0}, ValueError, "depth", "50.0", DEPTHS, id="depth-float"),
    row(resnet, {"depth": NAN}, ValueError, "depth", "nan", DEPTHS, id="depth-nan"),
    row(resnet, {"depth": True}, ValueError, "depth", "True", DEPTHS, id="depth-bool"),
    row(resnet, {"depth": "50"}, ValueError, "depth", "'50'", DEPTHS, id="depth-str"),
    row(resnet, {"depth": None}, ValueError, "depth", "None", DEPTHS, id="depth-none"),
    row(resnet, {"depth": np.int64(50)}, ValueError, "depth", "50", DEPTHS,
        id="depth-numpy-int"),
    row(resnet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0", id="bn_momentum-one"),
    row(resnet, {"bn_momentum": -0.1}, ValueError, "bn_momentum", "-0.1",
        id="bn_momentum-negative"),
    row(resnet, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan", id="bn_momentum-nan"),
    row(resnet, {"bn_momentum": True}, TypeError, "bn_momentum", "True", id="bn_momentum-bool"),
    row(resnet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="bn_epsilon-zero"),
    row(resnet, {"bn_epsilon": INF}, ValueError, "bn_epsilon", "inf", id="bn_epsilon-inf"),
    row(resnet, {"bn_epsilon": "x"}, TypeError, "bn_epsilon", "'x'", id="bn_epsilon-str"),
    row(resnet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    row(resnet, {"num_classes": True}, TypeError, "num_classes", "True", id="num_classes-bool"),
    row(resnet, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    row(resnet, {"dropout": NAN}, ValueError, "dropout", "nan", id="dropout-nan"),
    row(resnet, {"out_stages": (1, 5)}, ValueError, "out_stages", "5",
        id="out_stages-without-features_only"),
    row(resnet, {"features_only": True, "out_stages": (2, 5)}, ValueError, "out_stages", "5",
        id="out_stages-unknown-stage"),
    row(resnet, {"features_only": True, "pooling": "avg"}, ValueError, "pooling", "'avg'",
        id="pooling-with-features_only"),
    row(resnet, {"data_format": "NCHW"}, ValueError, "data_format", "'NCHW'",
        id="data_format-unknown"),
    # -- PreActBottleneck ------------------------------------------------------
    row(block, {"filters": 0}, ValueError, "filters", "0", id="block-filters-zero"),
    row(block, {"filters": -4}, ValueError, "filters", "-4", id="block-filters-negative"),
    row(block, {"filters": 4.0}, TypeError, "filters", "4.0", id="block-filters-float"),
    row(block, {"filters": NAN}, TypeError, "filters", "nan", id="block-filters-nan"),
    row(block, {"filters": True}, TypeError, "filters", "True", id="block-filters-bool"),
    row(block, {"filters": None}, TypeError, "filters", "None", id="block-filters-none"),
    row(block, {"strides": 0}, ValueError, "strides", "0", id="block-strides-zero"),
    row(block, {"strides": 1.5}, TypeError, "strides", "1.5", id="block-strides-float"),
    row(block, {"strides": True}, TypeError, "strides", "True", id="block-strides-bool"),
    row(block, {"strides": "2"}, TypeError, "strides", "'2'", id="block-strides-str"),
    row(block, {"data_format": "channels"}, ValueError, "data_format", "'channels'",
        id="block-data_format-unknown"),
    row(block, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan",
        id="block-bn_momentum-nan"),
    row(block, {"bn_epsilon": -1e-5}, ValueError, "bn_epsilon", "-1e-05",
        id="block-bn_epsilon-negative"),
    row(block, {"bn_synchronized": 1}, TypeError, "bn_synchronized", "1",
        id="block-bn_synchronized-int"),
    row(block, {"name": ""}, ValueError, "name", "''", id="block-name-empty"),
    row(block, {"dtype": "int32"}, ValueError, "dtype", "'int32'", id="block-dtype-int32"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_registered_constructor_fixes_depth():
    # The registered constructors set depth themselves: passing it again is a TypeError.
    assert_rejects(lambda: zoo.create_model("resnet50_v2", depth=101), TypeError, "depth")


def test_imagenet_needs_rgb():
    assert_rejects(lambda: zoo.create_model("resnet50_v2", weights="imagenet",
                                            input_shape=(32, 32, 1)),
                   ValueError, "weights='imagenet'", "input_shape=(32, 32, 1)")


# ---------------------------------------------------------------------------
# Calls: one small model, built once.

@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return resnet()


CALLS = [
    pytest.param(None, TypeError, ("inputs=None",), id="none"),
    pytest.param(np.ones((1, 16, 16, 1), np.int32), TypeError, ("inputs", "dtype=int32"),
                 id="int"),
    pytest.param(np.ones((16, 16, 1), np.float32), ValueError, ("inputs", "shape=(16, 16, 1)"),
                 id="rank3"),
    pytest.param(np.ones((1, 16, 16, 3), np.float32), ValueError,
                 ("inputs", "(1, 16, 16, 3)", "channels"), id="wrong-channels"),
]


@pytest.mark.parametrize("inputs, error, fragments", CALLS)
def test_bad_call(model, inputs, error, fragments):
    assert_rejects(lambda: model(inputs), error, *fragments)


def test_block_on_wrong_channels_after_build():
    layer = PreActBottleneck(4, name="pre")
    layer(np.zeros((1, 8, 8, 16), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError, "pre", "5")


def test_empty_batch_gives_empty_output(model):
    assert tuple(model(model.example_inputs(batch_size=0)).shape) == (0, 3)
