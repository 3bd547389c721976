"""EfficientNetV2 B0-B3, S, M, L (Tan & Le 2021, https://arxiv.org/abs/2104.00298): the network
of `keras.applications.EfficientNetV2*` less its in-model preprocessing, which the records state."""

import math

import keras

from zoo import _validation
from zoo.blocks import ConvBN, FusedMBConv, MBConv
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier, last_at_each_reduction
from zoo.models._info import PREPROCESSING

# keras.applications' DEFAULT_BLOCKS_ARGS, every kernel 3x3. Per stage: the block (fused
# ones have no squeeze-excite; MBConv ones take SE_RATIOS of each block's input channels),
# expansion and first stride; per block table: repeats and output channels of each stage.
STAGE_BLOCKS = ("fused",) * 3 + ("mbconv",) * 4
EXPANSIONS, STRIDES = (1, 4, 4, 4, 6, 6, 6), (1, 2, 2, 2, 1, 2, 1)
BLOCK_ARGS = {"b": ((1, 2, 2, 3, 5, 8), (16, 32, 48, 96, 112, 192)),
              "s": ((2, 4, 4, 6, 9, 15), (24, 48, 64, 128, 160, 256)),
              "m": ((3, 5, 5, 7, 14, 18, 5), (24, 48, 80, 160, 176, 304, 512)),
              "l": ((4, 7, 7, 10, 19, 25, 7), (32, 64, 96, 192, 224, 384, 640))}
BLOCKS, SE_RATIOS = {"fused": FusedMBConv, "mbconv": MBConv}, {"fused": 0.0, "mbconv": 0.25}
HEAD_FILTERS = 1280
# variant -> (block table, stem filters, width, depth, resolution), as keras.applications'.
EFFICIENTNET_V2_SPECS = {
    "b0": ("b", 32, 1.0, 1.0, 224), "b1": ("b", 32, 1.0, 1.1, 240),
    "b2": ("b", 32, 1.1, 1.2, 260), "b3": ("b", 32, 1.2, 1.4, 300),
    "s": ("s", 24, 1.0, 1.0, 384), "m": ("m", 24, 1.0, 1.0, 480), "l": ("l", 32, 1.0, 1.0, 480)}
# With 1,000 classes, keras.applications' (its Rescaling and Normalization hold no weights).
PARAMS = {"b0": 7_200_312, "b1": 8_212_124, "b2": 10_178_374, "b3": 14_467_622,
          "s": 21_612_360, "m": 54_431_388, "l": 119_027_848}
NAMES = tuple(f"efficientnet_v2_{variant}" for variant in EFFICIENTNET_V2_SPECS)


def round_filters(filters, width):
    """keras' V2 `round_filters`: the nearest multiple of 8, no 10% floor (V1's has one).

    >>> round_filters(16, 1.2), round_filters(1280, 1.1)
    (16, 1408)
    """
    return max(8, int(filters * width + 4) // 8 * 8)


def stages(variant):
    """Per stage: (block, repeats, output channels, expansion, stride) of `variant`.

    >>> [row[1:3] for row in stages("b3")][:4]
    [(2, 16), (3, 40), (3, 56), (5, 112)]
    """
    table, _, width, depth, _ = EFFICIENTNET_V2_SPECS[variant]
    return [(block, int(math.ceil(depth * repeats)), round_filters(filters, width), expansion,
             stride) for block, repeats, filters, expansion, stride in zip(
                 STAGE_BLOCKS, *BLOCK_ARGS[table], EXPANSIONS, STRIDES)]


def _preprocessing(variant, size):
    # keras' Rescaling(1/255) + Normalization(ImageNet) for B0-B3, Rescaling(1/128, -1) else.
    mode = "efficientnet" if variant.startswith("b") else "efficientnet_v2"
    return {**PREPROCESSING[mode], "resize": size + 32, "crop_fraction": size / (size + 32)}


@keras.saving.register_keras_serializable(package="zoo")
class EfficientNetV2(ImageClassifier):
    """EfficientNetV2: a 3x3/2 stem, FusedMBConv then MBConv stages, a 1x1 head conv.

    Args:
        variant: str. One of `EFFICIENTNET_V2_SPECS` ("b0" ... "b3", "s", "m", "l").
        drop_connect_rate: float in [0, 1). Block `b` (from 0) drops its residual
            branch with rate `drop_connect_rate * b / n` in training, `n` the blocks
            before depth scaling, as keras' (B1-B3's last blocks: over the rate).
        bn_momentum, bn_epsilon: float. BatchNormalization's (keras.applications').
        bn_synchronized: bool. SyncBatchNorm across `tf.distribute` replicas.
        **kwargs: `ImageClassifier` arguments (`dropout`: keras' 0.2) and `keras.Model` ones.

    Strided convolutions pad as TensorFlow's "same", as keras.applications'. Feature maps
    (timm's): stage k is the last block at `1 / 2**(k+1)` of the input size.

    >>> backbone = EfficientNetV2("b0", input_shape=(64, 96, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 16, 2, 'stage1_block1'), ('stage1', 32, 4, 'stage2_block2'),
     ('stage2', 48, 8, 'stage3_block2'), ('stage3', 112, 16, 'stage5_block5'),
     ('stage4', 192, 32, 'stage6_block8')]
    """

    info = {
        "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.05,
                   "epochs": 15},
        "small": {"num_classes": 5, "input_shape": (32, 32, 3),
                  # One train step on 2 examples: a branch dropped for both gets no gradient.
                  "drop_connect_rate": 0.0},
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("efficientnet_v2_b0",),
        # Graph mode measured faster than XLA on both CPU kernel libraries, twice.
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # On 2 cores: every format of B0 ~20 s; the TF battery 11-18 s past B0 (L: by its size).
        "slow_tests": {"export": NAMES, "battery_jax": NAMES, "battery": NAMES[1:]},
        "variants": {f"efficientnet_v2_{variant}": {
            "input_size": (size, size, 3), "params": PARAMS[variant],
            "reference": f"keras.applications.EfficientNetV2{variant.upper()}",
            "weights": {"imagenet": {"trained_on": "ImageNet-1k (keras.applications)",
                                     "preprocessing": _preprocessing(variant, size)}},
        } for variant, (*_, size) in EFFICIENTNET_V2_SPECS.items()},
    }

    def __init__(self, variant="b0", drop_connect_rate=0.2, dropout=0.2, bn_momentum=0.9,
                 bn_epsilon=1e-3, bn_synchronized=False, **kwargs):
        self.variant = _validation.one_of("variant", variant, list(EFFICIENTNET_V2_SPECS))
        self.drop_connect_rate = _validation.fraction("drop_connect_rate", drop_connect_rate)
        table, stem_filters, width, _, _ = EFFICIENTNET_V2_SPECS[variant]
        rows, unscaled = stages(variant), sum(BLOCK_ARGS[table][0])
        if self.drop_connect_rate * (deepest := sum(row[1] for row in rows) - 1) >= unscaled:
            raise ValueError(f"drop_connect_rate must be below {unscaled}/{deepest} for {variant} "
                             f"(the last block's rate is drop_connect_rate * {deepest} / "
                             f"{unscaled}), received drop_connect_rate={drop_connect_rate!r}")
        kwargs.setdefault("name", f"efficientnet_v2_{variant}")
        super().__init__(dropout=dropout, **kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        self.stem = ConvBN(round_filters(stem_filters, width), 3, strides=2, activation="swish",
                           padding="same", name="stem_conv", **unit_args)
        last, self.blocks = self.last_stage_layer, []
        for stage, (block, repeats, filters, expansion, stride) in enumerate(rows, 1):
            for index in range(1, repeats + 1):
                if self.blocks and self.blocks[-1].name == last:
                    break  # (and at once in every later stage)
                self.blocks.append(BLOCKS[block](
                    filters, 3, stride if index == 1 else 1, expansion, SE_RATIOS[block],
                    drop_rate=self.drop_connect_rate * len(self.blocks) / unscaled,
                    name=f"stage{stage}_block{index}", **unit_args))
        head_filters = round_filters(HEAD_FILTERS, width)
        self.head_conv = None if self.features_only else ConvBN(
            head_filters, 1, activation="swish", name="head_conv", **unit_args)
        self._add_head(head_filters)

    @property
    def default_image_size(self):
        return EFFICIENTNET_V2_SPECS[self.variant][4]

    @property
    def gradient_free_weights(self):
        """Projection betas whose shift only 1x1 convolutions (then batch statistics) see."""
        # Not before a fused block's zero-padded 3x3 convolution, nor in a residual block with
        # drop-connect (for some examples only); every variant's last fused block is residual.
        if self.drop_connect_rate > 0:
            return ("*/stage[4-7]_block1/project/bn/beta",)
        return ("*/stage[4-7]_block*/project/bn/beta",
                f"*/stage3_block{stages(self.variant)[2][1]}/project/bn/beta")

    def stage_table(self):
        """The last block at each resolution, as the blocks' widths and strides give."""
        taps, reduction = [], 2  # the stem halves the size
        for stage, (_, repeats, filters, _, stride) in enumerate(stages(self.variant), 1):
            reduction *= stride
            taps.append((reduction, filters, f"stage{stage}_block{repeats}"))
        return last_at_each_reduction(taps)

    def _body(self):
        return [self.stem, *self.blocks, self.head_conv]

    def get_config(self):
        return {**super().get_config(), "variant": self.variant,
                "drop_connect_rate": self.drop_connect_rate, "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon, "bn_synchronized": self.bn_synchronized}


def from_keras_applications(keras_model, **overrides):
    """The zoo EfficientNetV2 matching a keras.applications EfficientNetV2*, weights copied."""
    return _pretrained.converter(EfficientNetV2).from_keras_applications(keras_model, **overrides)


efficientnet_v2_b0, efficientnet_v2_b1, efficientnet_v2_b2, efficientnet_v2_b3, \
    efficientnet_v2_s, efficientnet_v2_m, efficientnet_v2_l = (EfficientNetV2.variant(
        f"efficientnet_v2_{variant}", f"EfficientNetV2-{variant.upper()}: width {width}, depth "
        f"{depth}, {size}x{size} (keras.applications.EfficientNetV2{variant.upper()}).",
        variant=variant) for variant, (_, _, width, depth, size) in EFFICIENTNET_V2_SPECS.items())
