"""Bad arguments and bad calls for ConvNeXt and its blocks (ConvNeXtBlock, LayerScale,
DropPath), in the pattern of tests/bad_input/test_bad_densenet.py.

Each row asserts the exception type and that the message names the argument
and shows the value received. The arguments every image family shares have
their rows in test_bad_models.py; here: `variant`, `drop_path_rate`,
`layer_scale_init_value`, the smallest input size, and the blocks' own arguments.
"""

import numpy as np
import pytest

import zoo
from helpers import assert_rejects
from zoo.blocks import ConvNeXtBlock, DropPath, LayerScale

NAN, INF = float("nan"), float("inf")
VARIANTS = "['tiny', 'small', 'base', 'large', 'xlarge']"


def convnext(**kwargs):
    # The stem and first stage: argument checks come before any layer is made.
    return zoo.models.convnext.ConvNeXt(**{"num_classes": 3, "input_shape": (32, 32, 3),
                                           "features_only": True, "out_stages": (1,),
                                           **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    # -- ConvNeXt ----------------------------------------------------------------
    row(convnext, {"variant": "huge"}, ValueError, "variant", "'huge'", VARIANTS,
        id="variant-unknown"),
    row(convnext, {"variant": "Tiny"}, ValueError, "variant", "'Tiny'", VARIANTS,
        id="variant-case"),
    row(convnext, {"variant": 1}, ValueError, "variant", "variant=1", VARIANTS, id="variant-int"),
    row(convnext, {"variant": None}, ValueError, "variant", "None", VARIANTS, id="variant-none"),
    row(convnext, {"drop_path_rate": -0.1}, ValueError, "drop_path_rate", "-0.1",
        id="drop_path_rate-negative"),
    row(convnext, {"drop_path_rate": 1.0}, ValueError, "drop_path_rate", "1.0",
        id="drop_path_rate-one"),
    row(convnext, {"drop_path_rate": 1.5}, ValueError, "drop_path_rate", "1.5",
        id="drop_path_rate-over-one"),
    row(convnext, {"drop_path_rate": NAN}, ValueError, "drop_path_rate", "nan",
        id="drop_path_rate-nan"),
    row(convnext, {"drop_path_rate": INF}, ValueError, "drop_path_rate", "inf",
        id="drop_path_rate-inf"),
    row(convnext, {"drop_path_rate": "0.1"}, TypeError, "drop_path_rate", "'0.1'",
        id="drop_path_rate-str"),
    row(convnext, {"drop_path_rate": True}, TypeError, "drop_path_rate", "True",
        id="drop_path_rate-bool"),
    row(convnext, {"drop_path_rate": None}, TypeError, "drop_path_rate", "None",
        id="drop_path_rate-none"),
    row(convnext, {"layer_scale_init_value": -1e-6}, ValueError, "layer_scale_init_value",
        "-1e-06", id="layer_scale-negative"),
    row(convnext, {"layer_scale_init_value": 0.0}, ValueError, "layer_scale_init_value", "0.0",
        id="layer_scale-zero"),
    row(convnext, {"layer_scale_init_value": 1.0}, ValueError, "layer_scale_init_value", "1.0",
        id="layer_scale-one"),
    row(convnext, {"layer_scale_init_value": NAN}, ValueError, "layer_scale_init_value", "nan",
        id="layer_scale-nan"),
    row(convnext, {"layer_scale_init_value": "1e-6"}, TypeError, "layer_scale_init_value",
        "'1e-6'", id="layer_scale-str"),
    row(convnext, {"layer_scale_init_value": True}, TypeError, "layer_scale_init_value", "True",
        id="layer_scale-bool"),
    row(convnext, {"layer_scale_init_value": None}, TypeError, "layer_scale_init_value", "None",
        id="layer_scale-none"),
    row(convnext, {"input_shape": (31, 32, 3)}, ValueError, "input_shape", "(31, 32, 3)", "32",
        id="input_shape-too-small"),
    row(convnext, {"input_shape": (3, 32, 16), "data_format": "channels_first"}, ValueError,
        "input_shape", "(3, 32, 16)", id="input_shape-too-small-channels-first"),
    row(convnext, {"dropout": 1.0, "features_only": False, "out_stages": None}, ValueError,
        "dropout", "1.0", id="dropout-one"),
    # -- ConvNeXtBlock -----------------------------------------------------------
    row(ConvNeXtBlock, {"drop_path_rate": 1.0}, ValueError, "drop_path_rate", "1.0",
        id="block-drop_path_rate-one"),
    row(ConvNeXtBlock, {"drop_path_rate": -0.5}, ValueError, "drop_path_rate", "-0.5",
        id="block-drop_path_rate-negative"),
    row(ConvNeXtBlock, {"drop_path_rate": NAN}, ValueError, "drop_path_rate", "nan",
        id="block-drop_path_rate-nan"),
    row(ConvNeXtBlock, {"drop_path_rate": "x"}, TypeError, "drop_path_rate", "'x'",
        id="block-drop_path_rate-str"),
    row(ConvNeXtBlock, {"layer_scale_init_value": INF}, ValueError, "layer_scale_init_value",
        "inf", id="block-layer_scale-inf"),
    row(ConvNeXtBlock, {"layer_scale_init_value": "0.1"}, TypeError, "layer_scale_init_value",
        "'0.1'", id="block-layer_scale-str"),
    row(ConvNeXtBlock, {"data_format": "NHWC"}, ValueError, "data_format", "'NHWC'",
        id="block-data_format"),
    # -- LayerScale --------------------------------------------------------------
    row(LayerScale, {"init_value": NAN}, ValueError, "init_value", "nan", id="scale-init-nan"),
    row(LayerScale, {"init_value": "1"}, TypeError, "init_value", "'1'", id="scale-init-str"),
    row(LayerScale, {"init_value": False}, TypeError, "init_value", "False",
        id="scale-init-bool"),
    row(LayerScale, {"axis": 1.0}, TypeError, "axis", "1.0", id="scale-axis-float"),
    row(LayerScale, {"axis": True}, TypeError, "axis", "True", id="scale-axis-bool"),
    row(LayerScale, {"axis": None}, TypeError, "axis", "None", id="scale-axis-none"),
    # -- DropPath ----------------------------------------------------------------
    row(DropPath, {"rate": 1.0}, ValueError, "rate", "1.0", id="drop-rate-one"),
    row(DropPath, {"rate": -0.1}, ValueError, "rate", "-0.1", id="drop-rate-negative"),
    row(DropPath, {"rate": NAN}, ValueError, "rate", "nan", id="drop-rate-nan"),
    row(DropPath, {"rate": "0.5"}, TypeError, "rate", "'0.5'", id="drop-rate-str"),
    row(DropPath, {"rate": True}, TypeError, "rate", "True", id="drop-rate-bool"),
    row(lambda **kw: DropPath(0.1, **kw), {"seed": -1}, ValueError, "seed", "-1",
        id="drop-seed-negative"),
    row(lambda **kw: DropPath(0.1, **kw), {"seed": 1.5}, TypeError, "seed", "1.5",
        id="drop-seed-float"),
    row(lambda **kw: DropPath(0.1, **kw), {"seed": True}, TypeError, "seed", "True",
        id="drop-seed-bool"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_constructor_argument(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_block_needs_known_channels_and_keeps_them():
    block = ConvNeXtBlock(name="blk")
    assert_rejects(lambda: block.build((None, 8, 8, None)), ValueError, "blk",
                   "(None, 8, 8, None)")
    block = ConvNeXtBlock(name="blk")
    block(np.zeros((1, 8, 8, 4), "float32"))
    assert_rejects(lambda: block(np.zeros((1, 8, 8, 5), "float32")), ValueError, "blk", "5")


@pytest.fixture(scope="module")
def model():
    return convnext()


@pytest.mark.parametrize("inputs, error, fragments", [
    pytest.param(np.ones((1, 32, 32, 1), np.float32), ValueError,
                 ("inputs", "(1, 32, 32, 1)", "channels"), id="wrong-channels"),
    pytest.param(np.ones((32, 32, 3), np.float32), ValueError, ("inputs", "shape=(32, 32, 3)"),
                 id="rank3"),
])
def test_bad_call(model, inputs, error, fragments):
    assert_rejects(lambda: model(inputs), error, *fragments)


def test_empty_batch_gives_empty_output(model):
    assert tuple(model(model.example_inputs(batch_size=0))["stage1"].shape) == (0, 8, 8, 96)
