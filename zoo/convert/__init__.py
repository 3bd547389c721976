"""Weight ports: keras.applications and timm/torchvision weights into zoo models.

A family's converter is one module here named as its family module; each is
imported and registered into `zoo.models._pretrained`. It defines `FAMILY`,
mapping tables by zoo layer path (`KERAS_APPLICATIONS`, `TORCH`; see
`assign`), `load_pretrained(model, weights)`, and optionally
`pretrained_overrides(name, weights, overrides)`, `weight_sources(name)`
and `from_keras_applications(keras_model, **overrides)`.

Example:
>>> import zoo
>>> {"mobilenet_v2", "resnet"} <= set(CONVERTER_MODULES)
True
>>> converter_for(zoo.resnet.ResNet).module is CONVERTER_MODULES["resnet"]
True
"""

import importlib
import pkgutil

from zoo.convert._assign import (KERAS_CONV_BN, KERAS_DENSE, TORCH_CONV_BN,
                                 TORCH_DEPTHWISE_BN, TORCH_DENSE, KerasWeights, StateDict,
                                 Tensor, assign, check_rgb, layer_names)
from zoo.convert._files import (UnverifiedWeightsWarning, WeightsDownloadError, cached_file,
                                keras_application, keras_cache_dir, read_state_dict)
from zoo.models import _pretrained


class Converter:
    """A family's converter module, as `weights=` finds it (`converter_for`)."""

    def __init__(self, module):
        self.module = module
        self.family = module.FAMILY

    def __repr__(self):
        return f"Converter({self.module.__name__!r} for {self.family.__name__})"

    def build(self, name, constructor, weights, overrides):
        """`constructor(**overrides)` with `weights` (`"imagenet"` or a file path) loaded."""
        source = weights if weights == _pretrained.IMAGENET else read_state_dict(weights)
        overrides = dict(overrides)
        complete = getattr(self.module, "pretrained_overrides", None)
        if complete is not None:
            overrides = complete(name, source, overrides)
        model = constructor(**overrides)
        self.module.load_pretrained(model, source)
        return model

    def weight_sources(self, name):
        """`weights=` kind -> `origin`, `file_name`, `file_hash` for model `name`."""
        sources = getattr(self.module, "weight_sources", None)
        return sources(name) if sources is not None else {}

    def from_keras_applications(self, keras_model, **overrides):
        port = getattr(self.module, "from_keras_applications", None)
        if port is None:
            raise NotImplementedError(f"{self.module.__name__} has no from_keras_applications")
        return port(keras_model, **overrides)


def converter_for(family):
    """The `Converter` registered for `family` (a `ZooModel` subclass) or a base class of it."""
    return _pretrained.converter(family)


def _converter_module_names():
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_"))


CONVERTER_MODULES = {name: importlib.import_module(f"{__name__}.{name}")
                     for name in _converter_module_names()}
for _module in CONVERTER_MODULES.values():
    _pretrained.register_converter(_module.FAMILY, Converter(_module))
del _module

__all__ = ["CONVERTER_MODULES", "Converter", "KERAS_CONV_BN", "KERAS_DENSE", "KerasWeights",
           "StateDict", "TORCH_CONV_BN", "TORCH_DENSE", "TORCH_DEPTHWISE_BN", "Tensor",
           "UnverifiedWeightsWarning", "WeightsDownloadError", "assign", "cached_file",
           "check_rgb", "converter_for", "keras_application", "keras_cache_dir", "layer_names",
           "read_state_dict", *CONVERTER_MODULES]
