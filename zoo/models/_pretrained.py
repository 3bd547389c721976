"""Pretrained weights: what `weights=` does in every registered constructor.

`ZooModel.register` wraps each registered constructor so that
`zoo.create_model(name, weights=...)` (or `zoo.resnet.resnet50(weights=...)`)
builds the model the other arguments describe and loads weights into it.
A family states which weights its models have (`pretrained_weights`,
data); its converter, `zoo/convert/<family module>.py`, maps them onto its
layers (see `zoo.convert`). This module checks the argument and finds the
converter: `zoo.convert` registers each one here (`register_converter`)
when `import zoo` imports it, so `zoo.models` never imports `zoo.convert`,
which imports `zoo.models`.

`weights` is one of:

- None (the default): random initialization; nothing here runs.
- `"imagenet"`: the ImageNet weights that `keras.applications` publishes,
  downloaded once into Keras' own cache (same file names, origins, cache
  and hashes as keras.applications; `zoo.convert.cached_file`).
- A path to a `.safetensors` or `.npz` file holding a PyTorch-style state
  dict (`{"conv1.weight": array, ...}`), e.g. timm's `model.safetensors`
  (`zoo.convert.read_state_dict`).

Errors raised here:

- a bad `weights` value: `ValueError` (`ArgumentTypeError` for a wrong type)
  naming `weights`; a path that does not exist: `FileNotFoundError`.
- a model without such weights: `ValueError` naming the model and listing
  the models that have them.

A download that fails is a `zoo.convert.WeightsDownloadError` (an
`OSError`) naming the URL and where to put the file; a file that does not
fit the model, a `ValueError` naming the file and the first tensor that
does not fit (`zoo.convert.assign`).
"""

import os
import pathlib

from zoo import _validation, registry

IMAGENET = "imagenet"
FILE_SUFFIXES = (".safetensors", ".npz")
# The kinds a family lists per model in `pretrained_weights`.
KINDS = ("imagenet", "state_dict")

# family class -> its `zoo.convert.Converter` (`register_converter`).
_CONVERTERS = {}


def check_weights(value):
    """The kind of `weights` and what it names: `("imagenet", None)` or `("state_dict", path)`.

    Raises:
        ArgumentTypeError: `value` is neither a str nor an `os.PathLike`.
        ValueError: an empty path, or a suffix other than `FILE_SUFFIXES`.
        FileNotFoundError: the path does not exist, or is no file.
    """
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
        what = "is a directory" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"weights file {text!r} {what}, received weights={text!r}")
    return "state_dict", path


def models_with(kind):
    """Sorted registered names whose family lists `kind` for them."""
    names = []
    for name in registry.list_models():
        family = registry.model_family(name)
        if family is not None and kind in getattr(family, "pretrained_weights", {}).get(name, ()):
            names.append(name)
    return names


def build(family, name, constructor, weights, overrides):
    """Builds `constructor(**overrides)` with `weights` loaded (`ZooModel.register`).

    Args:
        family: the `ZooModel` subclass registered for `name`.
        name: str. The registered name.
        constructor: callable. Builds the model from keywords.
        weights: what the user passed as `weights` (not None).
        overrides: dict. The other keywords the user passed.
    """
    kind, path = check_weights(weights)
    if kind not in family.pretrained_weights.get(name, ()):
        what = {"imagenet": "weights='imagenet'",
                "state_dict": f"a PyTorch state dict ({' or '.join(FILE_SUFFIXES)} file)"}
        raise ValueError(
            f"Model {name!r} has no pretrained weights for "
            f"weights={_validation.preview(str(weights), 200)}. Models that load "
            + "; ".join(f"{what[k]}: {models_with(k)}" for k in KINDS))
    return converter(family).build(name, constructor, IMAGENET if kind == IMAGENET else path,
                                   overrides)


def register_converter(family, port):
    """Makes `port` (a `zoo.convert.Converter`) load the weights of `family`."""
    _CONVERTERS[family] = port


def converter(family):
    """The converter registered for `family` or the nearest base class of it.

    Raises:
        NotImplementedError: none is registered (no module of zoo/convert/
            has `FAMILY` set to it).
    """
    for cls in family.__mro__:
        if cls in _CONVERTERS:
            return _CONVERTERS[cls]
    raise NotImplementedError(
        f"{family.__name__} has no converter: pretrained weights load through a module "
        f"of zoo/convert/ whose FAMILY is {family.__name__} (see zoo.convert)")
