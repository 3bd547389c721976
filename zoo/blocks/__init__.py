"""Reusable Keras layers. Blocks know no model, data set or file format."""

from zoo.blocks.conv import ConvBN
from zoo.blocks.residual import BasicBlock, Bottleneck

__all__ = ["BasicBlock", "Bottleneck", "ConvBN"]
