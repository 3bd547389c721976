"""zoo: a TensorFlow/Keras model zoo.

Example:
>>> import zoo
>>> zoo.list_models("resnet2*")
['resnet20']
>>> model = zoo.create_model("resnet20", num_classes=10, input_shape=(32, 32, 1))
"""

# First, before anything imports TensorFlow: a zoo command line picks its
# CPU kernels here (zoo/_launch.py); a library import changes nothing.
from zoo import _launch

_launch.configure()

from zoo import losses, registry  # noqa: E402
from zoo.models import FAMILY_MODULES  # noqa: E402  (imports and registers every family)
from zoo import convert  # noqa: E402  (registers each family's converter: `weights=`)
from zoo.registry import create_model, list_models, model_info, register_model  # noqa: E402
from zoo.predict import decode_predictions  # noqa: E402

# `from zoo import resnet`: each family module, by its file name.
globals().update(FAMILY_MODULES)

__version__ = "0.1.0"

__all__ = ["create_model", "decode_predictions", "list_models", "model_info", "register_model",
           "convert", "losses", "registry", *FAMILY_MODULES, "__version__"]
