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

from zoo import losses  # noqa: E402
from zoo.models import einsum_mlp, resnet, text_rnn  # noqa: E402
from zoo.registry import create_model, list_models, register_model  # noqa: E402

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "register_model", "einsum_mlp", "losses", "resnet",
           "text_rnn", "__version__"]
