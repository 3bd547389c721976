"""Bad `weights=` arguments of the registered constructors (the pattern of
tests/bad_input/test_bad_models.py).

Each row asserts the exception type and that the message names the argument
and shows the value received. `weights` is checked before the model is
built, so these rows cost milliseconds; none reaches the network.
"""

import functools
import pathlib

import pytest

import zoo
from helpers import assert_rejects

BOTH = (TypeError, ValueError)
FORMATS = ("'imagenet'", ".safetensors", ".npz")


def _models_with(kind):
    """The registered names whose record lists weights of `kind`, as a message lists them."""
    return str([name for name in zoo.list_models() if zoo.registry.model_family(name)
                and kind in zoo.model_info(name).weights])


IMAGENET_MODELS = _models_with("imagenet")
STATE_DICT_MODELS = _models_with("state_dict")


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


def test_weights_path_is_a_fifo(tmp_path):
    import os

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    assert_rejects(lambda: resnet(weights=fifo), FileNotFoundError,
                   "weights", str(fifo), "is not a regular file")


@pytest.mark.parametrize("suffix, kind", [(".npz", ".npz"), (".safetensors", ".safetensors")])
def test_weights_file_that_is_not_of_its_format(tmp_path, suffix, kind):
    path = tmp_path / f"model{suffix}"
    path.write_text("not a weights file")
    assert_rejects(lambda: zoo.create_model("resnet18", weights=path), ValueError,
                   str(path), kind)


# -- files at Keras' cache path that are not MobileNetV2's ImageNet weights -----
# No hash of these files is published, so the zoo checks their structure
# before loading them: each of these is refused with a ValueError naming
# the file, before any weight is assigned, and none reaches the network.

MOBILENET_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"


def _mobilenet_file(path, **kwargs):
    """keras.applications' MobileNetV2 (random weights) saved as Keras' cache keeps it."""
    import keras

    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), **{"alpha": 0.35, "include_top": False,
                                                  **kwargs})
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path


def _random_bytes(path):
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def _hdf5_without_weights(path):
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file["data"] = [1.0, 2.0]


def _with_nan(path):
    import h5py

    _mobilenet_file(path)
    with h5py.File(path, "r+") as file:
        file["model_weights/Conv1/Conv1/kernel"][0, 0, 0, 0] = float("nan")


BAD_MOBILENET_FILES = [
    pytest.param(_random_bytes, ["not an HDF5 file"], id="random-bytes"),
    pytest.param(_hdf5_without_weights, ["'layer_names'"], id="hdf5-without-keras-weights"),
    # Its first layers have the same shapes at alpha 0.5: the first that differs is named.
    pytest.param(lambda p: _mobilenet_file(p, alpha=0.5),
                 ["'block_1_project'", "(1, 1, 48, 16)", "(1, 1, 48, 8)"], id="another-alpha"),
    pytest.param(lambda p: _mobilenet_file(p, include_top=True),
                 ["105 layers", "104 layers"], id="the-file-with-the-top"),
    pytest.param(_with_nan, ["Conv1/kernel", "non-finite"], id="nan-weights"),
]


@pytest.mark.parametrize("write, fragments", BAD_MOBILENET_FILES)
def test_bad_mobilenet_v2_file_in_the_cache(tmp_path, monkeypatch, write, fragments):
    import socket

    def offline(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    path = tmp_path / "keras_home" / "models" / MOBILENET_FILE
    write(path)
    assert_rejects(lambda: zoo.create_model("mobilenet_v2", weights="imagenet", alpha=0.35,
                                            include_top=False, input_shape=(96, 96, 3)),
                   ValueError, str(path), "ImageNet weights", "Delete or replace", *fragments)
    assert path.exists()  # a file placed by hand is never deleted


# -- state dicts whose values would make a wrong model --------------------------
# For every family with state-dict weights, a valid file of its smallest model
# (its own weights, written under the converter's names), then one tensor
# spoiled per row, in each file format. Each is refused naming the file and
# the tensor; none would fail later, as the model would load and be wrong.


def _state_dict_models():
    """{family name: its registered models with state-dict weights} (nothing built)."""
    families = {}
    for name in zoo.list_models(pretrained=True):
        if "state_dict" in zoo.model_info(name).weights:
            families.setdefault(zoo.model_info(name).family, []).append(name)
    return families


STATE_DICT_MODELS_BY_FAMILY = _state_dict_models()


@functools.cache
def _valid_state_dict(family):
    """(the family's smallest state-dict model, a valid state dict of it)."""
    name = min(STATE_DICT_MODELS_BY_FAMILY[family], key=lambda n: zoo.create_model(
        n, num_classes=1000, input_shape=(32, 32, 3)).count_params())
    return name, _state_dict_of(name)


@functools.cache
def _state_dict_of(name):
    """Model `name`'s own weights, written under its converter's names."""
    import re

    import keras
    import numpy as np

    from zoo.convert import _assign, converter_for

    model = zoo.create_model(name, num_classes=1000, input_shape=(32, 32, 3))
    module = converter_for(type(model)).module
    if hasattr(module, "to_state_dict"):  # a file's tensors are not one per weight (ViT's qkv)
        return module.to_state_dict(model)
    table = module.TORCH
    rows = [(re.compile(f"(?:{p})/(.+)"), n, w) for p, n, w in table]
    tensors = {}
    for variable in model.weights:
        tensor, names = _assign._lookup(rows, _assign._relative(model, variable))
        axes = _assign.TORCH_LAYOUTS[tensor.layout]
        value = keras.ops.convert_to_numpy(variable)
        tensors[tensor.name.format(*names)] = (
            value if axes is None else value.transpose(np.argsort(axes)))
    return tensors


def _first(tensors, suffix):
    name = next((name for name in tensors if name.endswith(suffix)), None)
    if name is None:
        pytest.skip(f"the family's state dicts have no {suffix} (no BatchNorm)")
    return name


def _spoil(kind):
    """(how to spoil a state dict, the tensor it names, what the message says)."""
    import numpy as np

    def nan(t):
        name = next(iter(t))
        t[name] = t[name].copy()
        t[name].flat[3] = np.nan
        return name

    def inf_mean(t):
        name = _first(t, "running_mean")
        t[name] = np.full_like(t[name], np.inf)
        return name

    def negative_variance(t):
        name = _first(t, "running_var")
        t[name] = -t[name] - 1.0
        return name

    def cast(dtype):
        def spoil(t):
            name = next(iter(t))
            t[name] = t[name].astype(dtype)
            return name
        return spoil

    def strings(t):
        name = next(iter(t))
        t[name] = np.full(t[name].shape, "0.5")
        return name

    def no_classifier(t):
        head = "head" if "head.weight" in t else "fc"  # timm's ViT, torchvision's ResNet
        for name in (f"{head}.weight", f"{head}.bias"):
            del t[name]
        return f"{head}.weight"

    return {
        "nan": (nan, "non-finite"), "inf-running-mean": (inf_mean, "non-finite"),
        "negative-variance": (negative_variance, "negative variances"),
        "int32": (cast("int32"), "int32 values, not floats"),
        "uint8": (cast("uint8"), "uint8 values, not floats"),
        "bool": (cast("bool"), "bool values, not floats"),
        "complex": (cast("complex64"), "complex64 values, not floats"),
        "strings": (strings, "not floats"),
        "no-classifier": (no_classifier, "num_classes="),
    }[kind]


SPOILED = ["nan", "inf-running-mean", "negative-variance", "int32", "uint8", "bool",
           "complex", "strings", "no-classifier"]


@pytest.mark.parametrize("kind, suffix", [
    (kind, suffix) for kind in SPOILED for suffix in (".safetensors", ".npz")
    # safetensors holds neither strings nor complex numbers.
    if suffix == ".npz" or kind not in ("strings", "complex")])
@pytest.mark.parametrize("family", sorted(STATE_DICT_MODELS_BY_FAMILY))
def test_state_dict_that_would_make_a_wrong_model(tmp_path, family, kind, suffix):
    import numpy as np

    name, valid = _valid_state_dict(family)
    tensors = dict(valid)
    spoil, says = _spoil(kind)
    tensor = spoil(tensors)
    path = tmp_path / f"spoiled{suffix}"
    if suffix == ".npz":
        np.savez(path, **tensors)
    else:
        from safetensors.numpy import save_file

        save_file(tensors, str(path))
    assert_rejects(lambda: zoo.create_model(name, weights=path, input_shape=(32, 32, 3)),
                   ValueError, str(path), repr(tensor), says)


@pytest.mark.parametrize("family", sorted(STATE_DICT_MODELS_BY_FAMILY))
def test_the_valid_state_dict_of_these_rows_loads(tmp_path, family):
    import numpy as np

    name, tensors = _valid_state_dict(family)
    np.savez(tmp_path / "valid.npz", **tensors)
    model = zoo.create_model(name, weights=tmp_path / "valid.npz", input_shape=(32, 32, 3))
    reference = zoo.create_model(name, num_classes=1000, input_shape=(32, 32, 3))
    assert model.num_classes == 1000 and len(model.weights) == len(reference.weights)


def test_v1_5_weights_into_a_v1_resnet_by_any_path(tmp_path):
    # The constructor refuses stride_in_1x1=True with a state dict; a model
    # built apart and handed to the converter must be refused too.
    import numpy as np

    from zoo.convert import converter_for, read_state_dict

    np.savez(tmp_path / "resnet50.npz", **_state_dict_of("resnet50"))
    v1 = zoo.resnet.ResNet(depth=50, stride_in_1x1=True, input_shape=(32, 32, 3))
    before = [w.numpy().copy() for w in v1.weights[:3]]
    assert_rejects(lambda: converter_for(type(v1)).module.load_pretrained(
        v1, read_state_dict(tmp_path / "resnet50.npz")), ValueError,
        "stride_in_1x1=True", "resnet50.npz", "v1.5")
    assert all((w.numpy() == b).all() for w, b in zip(v1.weights[:3], before))


def _imagenet_models():
    names = {}
    for name in zoo.list_models(pretrained=True):
        if "imagenet" in zoo.model_info(name).weights:
            names.setdefault(zoo.model_info(name).family, name)
    return sorted(names.values())


@pytest.mark.parametrize("name", _imagenet_models())
def test_a_cached_imagenet_file_that_is_not_the_published_one(tmp_path, monkeypatch, name):
    # Random bytes where Keras' cache keeps the file: refused naming it (by
    # its md5 where one is published, else by its structure), and kept.
    import socket

    import numpy as np

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: 1 / 0)  # no network
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = tmp_path / "models" / zoo.model_info(name).weights["imagenet"]["file_name"]
    path.parent.mkdir()
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_rejects(lambda: zoo.create_model(name, weights="imagenet"), ValueError,
                   str(path), "Delete or replace")
    assert path.exists()
