"""Reusable Keras layers. Blocks know no model, data set or file format."""

from zoo.blocks.conv import ConvBN
from zoo.blocks.einsum_dense import EinsumDense
from zoo.blocks.inverted_residual import InvertedResidual
from zoo.blocks.residual import BasicBlock, Bottleneck
from zoo.blocks.sequence_pooling import SequencePooling

__all__ = ["BasicBlock", "Bottleneck", "ConvBN", "EinsumDense", "InvertedResidual",
           "SequencePooling"]
