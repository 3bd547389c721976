"""Bad arguments and bad calls for ViT and its blocks (PatchEmbedding, TokenPooling), in the
pattern of tests/bad_input/test_bad_densenet.py.

Each row asserts the exception type and that the message names the argument
and shows the value received. The arguments every image family shares have
their rows in test_bad_models.py; here: the ViT's own and its blocks'.
"""

import pytest

from helpers import assert_rejects
from zoo.blocks import PatchEmbedding, TokenPooling
from zoo.models.vit import ViT

NAN = float("nan")
SMALL = {"width": 8, "depth": 1, "num_heads": 2, "mlp_dim": 8, "patch_size": 8}


def vit(**kwargs):
    return ViT(**{"num_classes": 3, "input_shape": (16, 16, 3), **SMALL, **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


CONSTRUCTION = [
    row(vit, {"input_shape": (16, 20, 3)}, ValueError, "patch_size=8", "(16, 20, 3)",
        id="patch_size-does-not-divide"),
    row(vit, {"input_shape": (3, 16, 12), "data_format": "channels_first"}, ValueError,
        "patch_size=8", "(3, 16, 12)", id="patch_size-does-not-divide-channels-first"),
    row(vit, {"input_shape": (None, None, 3)}, ValueError, "patch_size", "(None, None, 3)",
        id="input_shape-unknown"),
    row(vit, {"patch_size": 0}, ValueError, "patch_size", "patch_size=0", id="patch_size-zero"),
    row(vit, {"patch_size": 8.0}, TypeError, "patch_size", "8.0", id="patch_size-float"),
    row(vit, {"patch_size": True}, TypeError, "patch_size", "True", id="patch_size-bool"),
    row(vit, {"num_heads": 3}, ValueError, "num_heads=3", "width=8", id="heads-do-not-divide"),
    row(vit, {"num_heads": 0}, ValueError, "num_heads", "num_heads=0", id="heads-zero"),
    row(vit, {"num_heads": NAN}, TypeError, "num_heads", "nan", id="heads-nan"),
    row(vit, {"width": -8}, ValueError, "width", "width=-8", id="width-negative"),
    row(vit, {"width": "8"}, TypeError, "width", "'8'", id="width-str"),
    row(vit, {"width": True}, TypeError, "width", "True", id="width-bool"),
    row(vit, {"depth": 0}, ValueError, "depth", "depth=0", id="depth-zero"),
    row(vit, {"depth": 2.5}, TypeError, "depth", "2.5", id="depth-float"),
    row(vit, {"depth": None}, TypeError, "depth", "None", id="depth-none"),
    row(vit, {"mlp_dim": 0}, ValueError, "mlp_dim", "mlp_dim=0", id="mlp_dim-zero"),
    row(vit, {"encoder_dropout": 1.0}, ValueError, "encoder_dropout", "1.0",
        id="encoder_dropout-one"),
    row(vit, {"encoder_dropout": NAN}, ValueError, "encoder_dropout", "nan",
        id="encoder_dropout-nan"),
    row(vit, {"attention_dropout": -0.1}, ValueError, "attention_dropout", "-0.1",
        id="attention_dropout-negative"),
    row(vit, {"attention_dropout": "0.1"}, TypeError, "attention_dropout", "'0.1'",
        id="attention_dropout-str"),
    row(vit, {"layer_norm_epsilon": 0.0}, ValueError, "layer_norm_epsilon", "0.0",
        id="layer_norm_epsilon-zero"),
    row(vit, {"layer_norm_epsilon": NAN}, ValueError, "layer_norm_epsilon", "nan",
        id="layer_norm_epsilon-nan"),
    row(vit, {"pooling": "token"}, ValueError, "pooling", "'token'", id="pooling-token"),
    row(vit, {"dropout": 1.5}, ValueError, "dropout", "1.5", id="dropout-too-big"),
    row(PatchEmbedding, {"width": 0, "patch_size": 4}, ValueError, "width", "width=0",
        id="patch-embedding-width-zero"),
    row(PatchEmbedding, {"width": 4, "patch_size": 4.0}, TypeError, "patch_size", "4.0",
        id="patch-embedding-patch-float"),
    row(PatchEmbedding, {"width": 4, "patch_size": 4, "data_format": "nhwc"}, ValueError,
        "data_format", "'nhwc'", id="patch-embedding-data-format"),
    row(TokenPooling, {"mode": "cls"}, ValueError, "mode", "'cls'", id="token-pooling-mode"),
    row(TokenPooling, {"mode": None}, ValueError, "mode", "None", id="token-pooling-none"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", CONSTRUCTION)
def test_bad_construction(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_bad_image_size_at_call():
    model = vit()
    assert_rejects(lambda: model(__import__("numpy").zeros((1, 16, 24, 3), "float32")),
                   ValueError, "(1, 16, 24, 3)")
