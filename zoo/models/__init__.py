"""Model families, one module each, found and imported here.

Every module in this package whose name does not start with `_` (and is
not `base`, the shared base class) is a family module: importing
`zoo.models` imports each of them, which registers their constructors. A
family added as a new file is registered with no other edit; a family
module that fails to import fails `import zoo` loudly, never silently
leaving its models out.
"""

import importlib
import pkgutil

from zoo.models.base import ZooModel


def _family_module_names():
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_") and info.name != "base")


FAMILY_MODULES = {name: importlib.import_module(f"{__name__}.{name}")
                  for name in _family_module_names()}
globals().update(FAMILY_MODULES)

__all__ = ["FAMILY_MODULES", "ZooModel", *FAMILY_MODULES]
