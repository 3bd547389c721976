"""Model families, one file each. Importing this registers them all."""

from zoo.models import resnet, text_rnn
from zoo.models.base import ZooModel

__all__ = ["ZooModel", "resnet", "text_rnn"]
