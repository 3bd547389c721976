"""Pretrained weights: what `weights=` does in every registered constructor.

`weights` is None, `"imagenet"` (keras.applications' files, in Keras'
cache) or the path of a `.safetensors` / `.npz` PyTorch state dict. The
family's converter in `zoo/convert/` registers itself here, so that
`zoo.models` never imports `zoo.convert`.
"""

import os
import pathlib

from zoo import _validation, registry
from zoo.models import _info

IMAGENET = "imagenet"
IMAGENET_CLASSES = 1000
FILE_SUFFIXES = (".safetensors", ".npz")
# The kinds a family's table lists in a model's row (`weights`).
KINDS = ("imagenet", "state_dict")

# family class -> its `zoo.convert.Converter` (`register_converter`).
_CONVERTERS = {}


def check_weights(value):
    """The kind of `weights` and what it names: `("imagenet", None)` or `("state_dict", path)`."""
    accepted = (f"weights must be None, {IMAGENET!r} or the path of a "
                f"{' or '.join(FILE_SUFFIXES)} file")
    if not isinstance(value, (str, os.PathLike)):
        raise _validation.ArgumentTypeError(
            f"{accepted}, received weights={_validation.preview(value)}")
    if isinstance(value, str) and value == IMAGENET:
        return IMAGENET, None
    text = _validation.path("weights", value)
    path = pathlib.Path(text)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ValueError(
            f"{accepted}, received weights={text!r}: unknown suffix {path.suffix!r} "
            f"(convert a PyTorch .pth/.bin file with safetensors.torch.save_file; "
            f"see README 'Pretrained weights')")
    if not path.is_file():
        what = ("is a directory" if path.is_dir() else
                "is not a regular file" if path.exists() else "does not exist")
        raise FileNotFoundError(f"weights file {text!r} {what}, received weights={text!r}")
    return "state_dict", path


def models_with(kind):
    """Sorted registered names whose family lists `kind` for them."""
    names = []
    for name in registry.list_models():
        family = registry.model_family(name)
        if family is not None and kind in _info.weight_kinds(family, name):
            names.append(name)
    return names


def build(family, name, constructor, weights, overrides):
    """Builds `constructor(**overrides)` with `weights` (not None) loaded."""
    kind, path = check_weights(weights)
    if kind not in _info.weight_kinds(family, name):
        what = {"imagenet": "weights='imagenet'",
                "state_dict": f"a PyTorch state dict ({' or '.join(FILE_SUFFIXES)} file)"}
        raise ValueError(
            f"Model {name!r} has no pretrained weights for "
            f"weights={_validation.preview(str(weights), 200)}. Models that load "
            + "; ".join(f"{what[k]}: {models_with(k)}" for k in KINDS))
    model = converter(family).build(name, constructor, IMAGENET if kind == IMAGENET else path,
                                    overrides)
    # Every published weights file's 1,000-class head is ImageNet-1k's, in one order.
    if (getattr(model, "include_top", False) and model.num_classes == IMAGENET_CLASSES
            and overrides.get("class_names") is None):
        model.class_names = _info.imagenet_class_names()
    return model


def register_converter(family, port):
    """Makes `port` (a `zoo.convert.Converter`) load the weights of `family`."""
    _CONVERTERS[family] = port


def converter(family):
    """The converter registered for `family` or its nearest base class."""
    for cls in family.__mro__:
        if cls in _CONVERTERS:
            return _CONVERTERS[cls]
    raise NotImplementedError(
        f"{family.__name__} has no converter: pretrained weights load through a module "
        f"of zoo/convert/ whose FAMILY is {family.__name__} (see zoo.convert)")


def keras_port(family, reference):
    """`family`'s `from_keras_applications(keras_model, **overrides)`, its converter's.

    Example: `from_keras_applications = keras_port(DenseNet, "DenseNet121/169/201")`.
    """
    def from_keras_applications(keras_model, **overrides):
        return converter(family).from_keras_applications(keras_model, **overrides)

    from_keras_applications.__module__ = family.__module__
    from_keras_applications.__doc__ = (
        f"The zoo {family.__name__} matching a keras.applications {reference}, its weights "
        f"copied (see `zoo.convert.{family.__module__.rsplit('.', 1)[-1]}`).")
    return from_keras_applications
