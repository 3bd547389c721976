"""Weight ports: keras.applications and timm/torchvision weights into zoo models.

A family's converter is one module here, named as its family module in
`zoo/models/` (`zoo/convert/resnet.py`); every module whose name does not
start with `_` is imported and registered by this package, which `import
zoo` imports, so a converter added as a new file needs no other edit. It
defines:

- `FAMILY`: the `ZooModel` subclass it loads weights into.
- One mapping table per source format, by zoo layer path, never by Python
  attribute: `KERAS_APPLICATIONS` (keras.applications' layer names) and/or
  `TORCH` (torchvision's/timm's state-dict names). A row is `(pattern,
  names, weights)`: the zoo layer (`r"stage(\\d+)_block(\\d+)/conv(\\d+)"`),
  the source's names for it (a tuple, or a function of the pattern's
  groups), and the block's weights table (`TORCH_CONV_BN`, `KERAS_DENSE`,
  ...). See `assign`.
- `load_pretrained(model, weights)`: loads `weights` (`"imagenet"` or a
  `StateDict`) into the built `model`, for the models the family lists in
  `pretrained_weights`: usually finding the file (`keras_application`
  downloads a keras.applications one) and one `assign(model, source,
  TABLE)`, which names the file and the first tensor that does not fit.
- Optionally `pretrained_overrides(name, weights, overrides)`: the
  constructor keywords the weights need (from the user's `overrides`; a
  ValueError naming an argument that contradicts them) [unchanged], and
  `from_keras_applications(keras_model, **overrides)`: the zoo model
  matching a keras.applications model, with its weights.

`zoo.create_model(name, weights=...)` (`ZooModel.register`, through
`zoo.models._pretrained`) checks the argument, reads a state-dict file
(`read_state_dict`), completes the keywords with `pretrained_overrides`,
builds the model and calls `load_pretrained`. `zoo.models` never imports
this package (it imports `zoo.models`): each converter is registered into
`zoo.models._pretrained` here.

Example:
>>> import zoo
>>> sorted(CONVERTER_MODULES)
['mobilenet_v2', 'resnet']
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
    """A family's converter module, as `weights=` and the family's
    `from_keras_applications` find it (`converter_for`)."""

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
        """`weights=` kind -> where its file comes from (`origin`, `file_name`,
        `file_hash`), for registered model `name` (the module's
        `weight_sources`; {} without one)."""
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
