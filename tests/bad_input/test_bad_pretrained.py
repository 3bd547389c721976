"""Bad `weights=` arguments of the registered constructors (the pattern of
tests/bad_input/test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. `weights` is checked before the model is
built, so these rows cost milliseconds; none reaches the network.
"""

import pathlib

import pytest

import zoo
from helpers import assert_rejects

BOTH = (TypeError, ValueError)
FORMATS = ("'imagenet'", ".safetensors", ".npz")
IMAGENET_MODELS = "['mobilenet_v2', 'resnet101', 'resnet152', 'resnet50']"
STATE_DICT_MODELS = "['resnet101', 'resnet152', 'resnet18', 'resnet34', 'resnet50']"


def resnet(**kwargs):
    return zoo.create_model("resnet20", **{"num_classes": 3, "input_shape": (16, 16, 1),
                                           **kwargs})


def row(builder, kwargs, error, *fragments, id):
    return pytest.param(builder, kwargs, error, fragments, id=id)


WEIGHTS = [
    # Wrong types: ArgumentTypeError, a TypeError and a ValueError.
    row(resnet, {"weights": 3}, BOTH, "weights", "weights=3", *FORMATS, id="int"),
    row(resnet, {"weights": True}, BOTH, "weights", "weights=True", id="bool"),
    row(resnet, {"weights": b"model.npz"}, BOTH, "weights", "b'model.npz'", id="bytes"),
    row(resnet, {"weights": ["imagenet"]}, BOTH, "weights", "['imagenet']", id="list"),
    row(resnet, {"weights": {"conv1.weight": 0}}, BOTH, "weights", "conv1.weight", id="dict"),
    # Strings that name no weights.
    row(resnet, {"weights": ""}, ValueError, "weights", "weights=''", id="empty"),
    row(resnet, {"weights": "   "}, ValueError, "weights", "'   '", id="blank"),
    row(resnet, {"weights": "ImageNet"}, ValueError, "weights", "'ImageNet'", *FORMATS,
        id="imagenet-case"),
    row(resnet, {"weights": "resnet18.pth"}, ValueError, "weights", "'resnet18.pth'", "'.pth'",
        *FORMATS, id="pth"),
    row(resnet, {"weights": "weights.h5"}, ValueError, "weights", "'weights.h5'", *FORMATS,
        id="h5"),
    row(resnet, {"weights": "no/such/model.safetensors"}, FileNotFoundError,
        "weights", "'no/such/model.safetensors'", "does not exist", id="missing-safetensors"),
    row(resnet, {"weights": pathlib.Path("no/such/model.npz")}, FileNotFoundError,
        "weights", "no/such/model.npz", "does not exist", id="missing-npz-path"),
    # Models without such weights: named, with the models that have them.
    row(resnet, {"weights": "imagenet"}, ValueError, "'resnet20'", "weights='imagenet'",
        IMAGENET_MODELS, STATE_DICT_MODELS, id="resnet20-imagenet"),
    row(lambda **kw: zoo.create_model("resnet18", **kw), {"weights": "imagenet"}, ValueError,
        "'resnet18'", "weights='imagenet'", IMAGENET_MODELS, id="resnet18-imagenet"),
    row(lambda **kw: zoo.create_model("einsum_mlp", **kw), {"weights": "imagenet"}, ValueError,
        "'einsum_mlp'", "weights='imagenet'", IMAGENET_MODELS, id="einsum_mlp-imagenet"),
    row(lambda **kw: zoo.create_model("transformer", **kw), {"weights": "imagenet"},
        ValueError, "'transformer'", "weights='imagenet'", id="transformer-imagenet"),
    # An argument that contradicts the weights.
    row(lambda **kw: zoo.resnet.resnet152(**kw), {"weights": "imagenet", "stride_in_1x1": False},
        ValueError, "stride_in_1x1=False", "resnet152", id="resnet152-imagenet-v1.5"),
]


@pytest.mark.parametrize("builder, kwargs, error, fragments", WEIGHTS)
def test_bad_weights(builder, kwargs, error, fragments):
    assert_rejects(lambda: builder(**kwargs), error, *fragments)


def test_weights_path_is_a_directory(tmp_path):
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    assert_rejects(lambda: resnet(weights=folder), FileNotFoundError,
                   "weights", str(folder), "is a directory")


@pytest.mark.parametrize("suffix, kind", [(".npz", ".npz"), (".safetensors", ".safetensors")])
def test_weights_file_that_is_not_of_its_format(tmp_path, suffix, kind):
    path = tmp_path / f"model{suffix}"
    path.write_text("not a weights file")
    assert_rejects(lambda: zoo.create_model("resnet18", weights=path), ValueError,
                   str(path), kind)
