"""Model families: each module not starting with `_` (nor `base`), imported here."""

import importlib
import pkgutil

from zoo.models._info import imagenet_class_names
from zoo.models.base import ZooModel


def _family_module_names():
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_") and info.name != "base")


FAMILY_MODULES = {name: importlib.import_module(f"{__name__}.{name}")
                  for name in _family_module_names()}
globals().update(FAMILY_MODULES)

__all__ = ["FAMILY_MODULES", "ZooModel", "imagenet_class_names", *FAMILY_MODULES]
