"""Bad arguments and bad calls for DenseNet and its blocks (DenseLayer, DenseBlock,
Transition), in the pattern of tests/bad_input/test_bad_mobilenet_v2.py.

Each row asserts the exception type and that the message names the argument
and shows the value received. The arguments every image family shares
(`num_classes`, `pooling`, `dropout`, ...) have their rows there and in
test_bad_models.py; here: `depth`, the BatchNorm arguments, the smallest
input size, and the blocks' own arguments.
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import DenseBlock, DenseLayer, Transition

NAN, INF = float("nan"), float("inf")
DEPTHS = "[121, 169, 201]"


def densenet(**kwargs):
    return zoo.models.densenet.DenseNet(**{"num_classes": 3, "input_shape": (32, 32, 1),
                                           **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- DenseNet ----------------------------------------------------------------
    row(densenet, {"depth": 100}, ValueError, "depth", "depth=100", DEPTHS, id="depth-unknown"),
    row(densenet, {"depth": 121.0}, ValueError, "depth", "121.0", DEPTHS, id="depth-float"),
    row(densenet, {"depth": "121"}, ValueError, "depth", "'121'", DEPTHS, id="depth-str"),
    row(densenet, {"depth": True}, ValueError, "depth", "True", DEPTHS, id="depth-bool"),
    row(densenet, {"depth": None}, ValueError, "depth", "None", DEPTHS, id="depth-none"),
    row(densenet, {"depth": NAN}, ValueError, "depth", "nan", DEPTHS, id="depth-nan"),
    row(densenet, {"input_shape": (28, 32, 1)}, ValueError, "input_shape", "(28, 32, 1)", "29",
        id="input_shape-too-small"),
    row(densenet, {"input_shape": (1, 32, 16), "data_format": "channels_first"}, ValueError,
        "input_shape", "(1, 32, 16)", id="input_shape-too-small-channels-first"),
    row(densenet, {"bn_momentum": 1.0}, ValueError, "bn_momentum", "1.0", id="bn_momentum-one"),
    row(densenet, {"bn_momentum": NAN}, ValueError, "bn_momentum", "nan", id="bn_momentum-nan"),
    row(densenet, {"bn_epsilon": 0.0}, ValueError, "bn_epsilon", "0.0", id="bn_epsilon-zero"),
    row(densenet, {"bn_epsilon": "x"}, TypeError, "bn_epsilon", "'x'", id="bn_epsilon-str"),
    row(densenet, {"bn_synchronized": "no"}, TypeError, "bn_synchronized", "'no'",
        id="bn_synchronized-str"),
    row(densenet, {"dropout": 1.0}, ValueError, "dropout", "1.0", id="dropout-one"),
    # -- DenseLayer --------------------------------------------------------------
    row(DenseLayer, {"growth_rate": 0}, ValueError, "growth_rate", "0", id="layer-growth-zero"),
    row(DenseLayer, {"growth_rate": -32}, ValueError, "growth_rate", "-32",
        id="layer-growth-negative"),
    row(DenseLayer, {"growth_rate": 32.0}, TypeError, "growth_rate", "32.0",
        id="layer-growth-float"),
    row(DenseLayer, {"growth_rate": True}, TypeError, "growth_rate", "True",
        id="layer-growth-bool"),
    row(DenseLayer, {"growth_rate": None}, TypeError, "growth_rate", "None",
        id="layer-growth-none"),
    row(DenseLayer, {"growth_rate": NAN}, TypeError, "growth_rate", "nan", id="layer-growth-nan"),
    row(DenseLayer, {"bottleneck_width": 0}, ValueError, "bottleneck_width", "0",
        id="layer-bottleneck-zero"),
    row(DenseLayer, {"bottleneck_width": "4"}, TypeError, "bottleneck_width", "'4'",
        id="layer-bottleneck-str"),
    row(DenseLayer, {"bn_epsilon": INF}, ValueError, "bn_epsilon", "inf",
        id="layer-bn_epsilon-inf"),
    row(DenseLayer, {"data_format": "NHWC"}, ValueError, "data_format", "'NHWC'",
        id="layer-data_format"),
    # -- DenseBlock --------------------------------------------------------------
    row(DenseBlock, {"num_layers": 0}, ValueError, "num_layers", "0", id="block-layers-zero"),
    row(DenseBlock, {"num_layers": 2.5}, TypeError, "num_layers", "2.5", id="block-layers-float"),
    row(DenseBlock, {"num_layers": False}, TypeError, "num_layers", "False",
        id="block-layers-bool"),
    row(DenseBlock, {"num_layers": NAN}, TypeError, "num_layers", "nan", id="block-layers-nan"),
    row(lambda **kw: DenseBlock(2, **kw), {"growth_rate": 0}, ValueError, "growth_rate", "0",
        id="block-growth-zero"),
    row(lambda **kw: DenseBlock(2, **kw), {"bn_momentum": -0.1}, ValueError, "bn_momentum",
        "-0.1", id="block-bn_momentum-negative"),
    # -- Transition --------------------------------------------------------------
    row(Transition, {"compression": 0.0}, ValueError, "compression", "0.0",
        id="transition-compression-zero"),
    row(Transition, {"compression": 1.5}, ValueError, "compression", "1.5",
        id="transition-compression-over-one"),
    row(Transition, {"compression": -0.5}, ValueError, "compression", "-0.5",
        id="transition-compression-negative"),
    row(Transition, {"compression": NAN}, ValueError, "compression", "nan",
        id="transition-compression-nan"),
    row(Transition, {"compression": INF}, ValueError, "compression", "inf",
        id="transition-compression-inf"),
    row(Transition, {"compression": "0.5"}, TypeError, "compression", "'0.5'",
        id="transition-compression-str"),
    row(Transition, {"compression": True}, TypeError, "compression", "True",
        id="transition-compression-bool"),
    row(Transition, {"compression": None}, TypeError, "compression", "None",
        id="transition-compression-none"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_a_compression_that_leaves_no_channel():
    # int(3 * 0.25) == 0: known only from the input width, at build.
    layer = Transition(0.25, name="t")
    assert_rejects(lambda: layer(np.zeros((1, 4, 4, 3), "float32")), ValueError,
                   "t", "compression=0.25", "3")


@pytest.mark.parametrize("cls, args", [(DenseLayer, ()), (DenseBlock, (2,)), (Transition, ())])
def test_blocks_need_known_channels_and_keep_them(cls, args):
    layer = cls(*args, name="blk")
    assert_rejects(lambda: layer.build((None, 8, 8, None)), ValueError,
                   "blk", "(None, 8, 8, None)")
    layer = cls(*args, name="blk")
    layer(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: layer(np.zeros((1, 8, 8, 5), "float32")), ValueError, "blk", "5")


@pytest.fixture(scope="module")
def model():
    # The stem and first dense block: the input checks are the whole model's.
    return densenet(features_only=True, out_stages=(1,))


@pytest.mark.parametrize("inputs, error, fragments", [
    pytest.param(np.ones((1, 32, 32, 3), np.float32), ValueError,
                 ("inputs", "(1, 32, 32, 3)", "channels"), id="wrong-channels"),
    pytest.param(np.ones((32, 32, 1), np.float32), ValueError, ("inputs", "shape=(32, 32, 1)"),
                 id="rank3"),
])
def test_bad_call(model, inputs, error, fragments):
    assert_rejects(lambda: model(inputs), error, *fragments)


def test_empty_batch_gives_empty_output(model):
    assert tuple(model(model.example_inputs(batch_size=0))["stage1"].shape) == (0, 8, 8, 256)
