"""zoo: a TensorFlow/Keras model zoo.

Example:
>>> import zoo
>>> zoo.list_models("resnet2*")
['resnet20']
>>> model = zoo.create_model("resnet20", num_classes=10, input_shape=(32, 32, 1))
"""

from zoo import losses
from zoo.models import einsum_mlp, resnet, text_rnn
from zoo.registry import create_model, list_models, register_model

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "register_model", "einsum_mlp", "losses", "resnet",
           "text_rnn", "__version__"]
