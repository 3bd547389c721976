"""Model families, one file each. Importing this registers them all."""

from zoo.models import einsum_mlp, resnet, text_rnn
from zoo.models.base import ZooModel

__all__ = ["ZooModel", "einsum_mlp", "resnet", "text_rnn"]
