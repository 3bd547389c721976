"""Vision Transformer (Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929), as keras-hub's.

The network of `keras_hub.models.ViTBackbone` with `ViTImageClassifier`'s
class-token head, and of timm's `vit_*_patch16_224` (pre-LN blocks, exact
GELU, LayerNorm epsilon 1e-6), built from the zoo's `TransformerEncoderBlock`.
"""

import keras

from zoo import _validation
from zoo.blocks import PatchEmbedding, TokenPooling, TransformerEncoderBlock, _layout
from zoo.models._image import ImageClassifier, chain_until
from zoo.models._info import PREPROCESSING

# timm's names -> width, blocks, heads and MLP width (the paper's Table 1; tiny/small: DeiT's);
# 16x16 patches, `ViT`'s default. A variant's arguments replace these (timm's rule).
VIT_SPECS = {
    "vit_tiny_patch16_224": {"width": 192, "depth": 12, "num_heads": 3, "mlp_dim": 768},
    "vit_small_patch16_224": {"width": 384, "depth": 12, "num_heads": 6, "mlp_dim": 1536},
    "vit_base_patch16_224": {"width": 768, "depth": 12, "num_heads": 12, "mlp_dim": 3072},
}
# keras-hub's ViTBackbone with a 1000-class ViTImageClassifier head.
_PARAMS = {"vit_tiny_patch16_224": 5_717_416, "vit_small_patch16_224": 22_050_664,
           "vit_base_patch16_224": 86_567_656}
NUM_TAPS = 4  # feature maps: after every depth/4 blocks
# timm's augreg weights: [-1, 1] inputs, 0.9 center crop, bicubic.
_AUGREG = {**PREPROCESSING["tf"], "resize": 248, "crop_fraction": 0.9, "interpolation": "bicubic"}


@keras.saving.register_keras_serializable(package="zoo")
class ViT(ImageClassifier):
    """ViT classifier or feature extractor.

    `patch_embed` (a `PatchEmbedding`: patches, class token, positions), `depth` pre-LN
    `TransformerEncoderBlock`s (`block1`..), `final_norm` (LayerNorm), then the class token
    (`pooling=None`; `"avg"` / `"max"` pool the patch tokens, timm's `global_pool`), a classifier.

    Args:
        width: int. Channels of every token.
        depth: int. Encoder blocks.
        num_heads: int. Attention heads; must divide `width`.
        mlp_dim: int. Hidden width of each block's MLP.
        patch_size: int. Side of the square patches; must divide the image sides.
        encoder_dropout: float in [0, 1). On each block's attention and MLP outputs.
        attention_dropout: float in [0, 1). On the attention weights.
        layer_norm_epsilon: float > 0. Of every LayerNorm (timm's and keras-hub's 1e-6).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps: the patch tokens after blocks `depth * k // 4` (k = 1..4), before
    `final_norm`, as their `(height / patch_size, width / patch_size)` grid: all at
    reduction `patch_size`, as timm's ViT `feature_info` (one per block there).

    Example:
    >>> backbone = ViT(width=16, depth=4, num_heads=2, mlp_dim=32, patch_size=8,
    ...                input_shape=(32, 48, 3), features_only=True, out_stages=(2, 4))
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage2', 16, 8, 'block2'), ('stage4', 16, 8, 'block4')]
    >>> {k: tuple(v.shape) for k, v in backbone(keras.ops.ones((1, 32, 48, 3))).items()}
    {'stage2': (1, 4, 6, 16), 'stage4': (1, 4, 6, 16)}
    """

    info = {
        # vit_tiny on digits at --image_size=64 (4x4 patches), with --lr_schedule=cosine
        # --label_smoothing=0.1: 93% (99.9% on train; 1e-3 and decay 0.05: 89%).
        "recipe": {"optimizer": "adamw", "learning_rate": 5e-4, "weight_decay": 0.1,
                   "epochs": 30},
        "small": {"num_classes": 5, "input_shape": (32, 32, 3), "patch_size": 8},
        "benchmarked": ("vit_tiny_patch16_224",),
        # Two runs (xla_source and its _run2): XLA trains vit_tiny 1.45x and 1.18x faster on
        # oneDNN, 3.6x and 2.4x on Eigen.
        "xla": {"cpu/onednn": True, "cpu/eigen": True, "gpu": True, "tpu": True},
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # Measured on 2 shared cores: every format of vit_tiny ~60 s; its JAX battery ~31 s.
        "slow_tests": {"export": tuple(VIT_SPECS), "battery_jax": tuple(VIT_SPECS)},
        "variants": {name: {
            "input_size": (224, 224, 3), "params": _PARAMS[name],
            "reference": f"keras_hub.models.ViTBackbone({name}) + ViTImageClassifier head",
            "weights": {"state_dict": {"trained_on": "ImageNet-21k, fine-tuned on ImageNet-1k "
                                                     "(timm's .augreg_in21k_ft_in1k)",
                                       "preprocessing": _AUGREG}},
        } for name in VIT_SPECS},
    }

    def __init__(self, width=768, depth=12, num_heads=12, mlp_dim=3072, patch_size=16,
                 encoder_dropout=0.0, attention_dropout=0.0, layer_norm_epsilon=1e-6, **kwargs):
        self.width = _validation.positive_int("width", width)
        self.depth = _validation.positive_int("depth", depth)
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.mlp_dim = _validation.positive_int("mlp_dim", mlp_dim)
        self.patch_size = _validation.positive_int("patch_size", patch_size)
        if width % num_heads:
            raise ValueError(f"num_heads must divide width (each head is width // num_heads "
                             f"wide), received num_heads={num_heads} and width={width}")
        self.encoder_dropout = _validation.fraction("encoder_dropout", encoder_dropout)
        self.attention_dropout = _validation.fraction("attention_dropout", attention_dropout)
        self.layer_norm_epsilon = _validation.finite_float(
            "layer_norm_epsilon", layer_norm_epsilon, 0, low_open=True)
        kwargs.setdefault("name", "vit")
        super().__init__(**kwargs)
        sides = self.image_sides
        if None in sides or any(side % self.patch_size for side in sides):
            raise ValueError(f"patch_size={self.patch_size} must divide the image height and "
                             f"width (a learned position per patch), received "
                             f"input_shape={self.input_shape_}")
        policy = self.dtype_policy
        self.patch_embed = PatchEmbedding(self.width, self.patch_size, name="patch_embed",
                                          data_format=self.compute_format, dtype=policy)
        self.blocks = chain_until((TransformerEncoderBlock(
            self.num_heads, self.mlp_dim, dropout=self.encoder_dropout,
            attention_dropout=self.attention_dropout, layer_norm_epsilon=self.layer_norm_epsilon,
            activation="gelu", name=f"block{index}", dtype=policy)
            for index in range(1, self.depth + 1)), self.last_stage_layer)
        self.final_norm = None if self.features_only else keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="final_norm", dtype=policy)
        self._add_head(self.width)

    def stage_table(self):
        """The token grids after blocks `depth * k // NUM_TAPS` (see the class doc)."""
        blocks = sorted({max(1, self.depth * k // NUM_TAPS) for k in range(1, NUM_TAPS + 1)})
        return [{"name": f"stage{stage}", "stage": stage, "channels": self.width,
                 "reduction": self.patch_size, "layer": f"block{block}"}
                for stage, block in enumerate(blocks, 1)]

    def _body(self):
        return [self.patch_embed, *self.blocks, self.final_norm]

    def _pool_layer(self):
        # The class token by default (also include_top=False's output, as keras-hub's).
        mode = self.pooling or "token"
        return None if self.features_only else TokenPooling(
            mode, name=f"{mode}_pool", dtype=self.dtype_policy)

    def _feature_map(self, x):
        # The patch tokens (the class token left out) laid out as their grid.
        rows, columns = self.patch_embed.grid_shape
        grid = keras.ops.reshape(x[:, 1:], (-1, rows, columns, self.width))
        return _layout.from_compute(grid, self.data_format, "channels_last")

    def get_config(self):
        return {**super().get_config(), "width": self.width, "depth": self.depth,
                "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "patch_size": self.patch_size, "encoder_dropout": self.encoder_dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon}


vit_tiny_patch16_224, vit_small_patch16_224, vit_base_patch16_224 = (ViT.variant(
    name, f"ViT-{short}/16: width {spec['width']}, {spec['depth']} blocks of {spec['num_heads']} "
    f"heads, 16x16 patches: {_PARAMS[name] / 1e6:.1f}M parameters.", replaceable=True, **spec)
    for (name, spec), short in zip(VIT_SPECS.items(), ("Ti", "S", "B")))
