"""Reusable Keras layers. Blocks know no model, data set or file format."""

from zoo.blocks.attention import MultiHeadSelfAttention
from zoo.blocks.batch_norm import BatchNorm
from zoo.blocks.conv import ConvBN
from zoo.blocks.conv2d import Conv2D
from zoo.blocks.convnext_block import ConvNeXtBlock
from zoo.blocks.dense import DenseBlock, DenseLayer, Transition
from zoo.blocks.drop_path import DropPath
from zoo.blocks.einsum_dense import EinsumDense
from zoo.blocks.fused_mbconv import FusedMBConv
from zoo.blocks.inverted_residual import InvertedResidual
from zoo.blocks.layer_scale import LayerScale
from zoo.blocks.mbconv import MBConv
from zoo.blocks.patch_embedding import PatchEmbedding, TokenPooling
from zoo.blocks.position_embedding import PositionEmbedding
from zoo.blocks.preact_bottleneck import PreActBottleneck
from zoo.blocks.residual import BasicBlock, Bottleneck
from zoo.blocks.sequence_pooling import SequencePooling
from zoo.blocks.squeeze_excite import SqueezeExcite
from zoo.blocks.transformer_encoder import TransformerEncoderBlock

__all__ = ["BasicBlock", "BatchNorm", "Bottleneck", "Conv2D", "ConvBN", "ConvNeXtBlock",
           "DenseBlock", "DenseLayer", "DropPath", "EinsumDense", "FusedMBConv", "InvertedResidual",
           "LayerScale", "MBConv", "MultiHeadSelfAttention", "PatchEmbedding", "PositionEmbedding",
           "PreActBottleneck", "SequencePooling", "SqueezeExcite", "TokenPooling", "Transition",
           "TransformerEncoderBlock"]
