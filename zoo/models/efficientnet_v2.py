"""EfficientNetV2 B0-B3, S, M, L (Tan & Le 2021, https://arxiv.org/abs/2104.00298): the network
of `keras.applications.EfficientNetV2*` less its in-model preprocessing, which the records state."""

import math

import keras

from zoo.blocks import FusedMBConv, MBConv
from zoo.models import _pretrained
from zoo.models._efficientnet import EfficientNetBase, imagenet_preprocessing
from zoo.models._info import keras_imagenet

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


def architecture(variant):
    """`variant`'s network (see `zoo.models._efficientnet`): keras' V2 rounding; block `b`
    drops with `drop_connect_rate * b / n`, `n` the blocks before depth scaling, as keras'.

    Example:
    >>> spec = architecture("b3")
    >>> spec["stem"], [row[2:4] for row in spec["stages"]][:4], spec["head"]
    (40, [(2, 16), (3, 40), (3, 56), (5, 112)], 1536)
    """
    table, stem, width, depth, size = EFFICIENTNET_V2_SPECS[variant]
    rows = [(BLOCKS[block], 3, int(math.ceil(depth * repeats)), round_filters(filters, width),
             expansion, stride, SE_RATIOS[block]) for block, repeats, filters, expansion, stride
            in zip(STAGE_BLOCKS, *BLOCK_ARGS[table], EXPANSIONS, STRIDES)]
    return {"stem": round_filters(stem, width), "stages": rows, "size": size,
            "head": round_filters(HEAD_FILTERS, width), "dropout": 0.2,
            "drop_divisor": sum(BLOCK_ARGS[table][0])}


@keras.saving.register_keras_serializable(package="zoo")
class EfficientNetV2(EfficientNetBase):
    """EfficientNetV2: a 3x3/2 stem, FusedMBConv then MBConv stages, a 1x1 head conv.

    Args:
        variant: str. One of `EFFICIENTNET_V2_SPECS` ("b0" ... "b3", "s", "m", "l").
        drop_connect_rate: float in [0, 1). Block `b` (from 0) drops its residual
            branch with rate `drop_connect_rate * b / n` in training, `n` the blocks
            before depth scaling, as keras' (B1-B3's last blocks: over the rate).
        dropout: float in [0, 1) or None (keras.applications' 0.2).
        bn_momentum, bn_epsilon, bn_synchronized: BatchNormalization's (as `ConvBN`).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

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
            "weights": keras_imagenet(imagenet_preprocessing(
                "efficientnet" if variant[0] == "b" else "efficientnet_v2", size)),
        } for variant, (*_, size) in EFFICIENTNET_V2_SPECS.items()},
    }

    # The variants, each one's network (`zoo.models._efficientnet`) and registered names.
    specs, architecture = EFFICIENTNET_V2_SPECS, staticmethod(architecture)
    name_prefix = "efficientnet_v2_"

    @property
    def gradient_free_weights(self):
        """Projection betas whose shift only 1x1 convolutions (then batch statistics) see."""
        # Not before a fused block's zero-padded 3x3 convolution, nor in a residual block with
        # drop-connect (for some examples only); every variant's last fused block is residual.
        if self.drop_connect_rate > 0:
            return ("*/stage[4-7]_block1/project/bn/beta",)
        return ("*/stage[4-7]_block*/project/bn/beta",
                f"*/stage3_block{architecture(self.variant)['stages'][2][2]}/project/bn/beta")


from_keras_applications = _pretrained.keras_port(EfficientNetV2, "EfficientNetV2*")


efficientnet_v2_b0, efficientnet_v2_b1, efficientnet_v2_b2, efficientnet_v2_b3, \
    efficientnet_v2_s, efficientnet_v2_m, efficientnet_v2_l = (EfficientNetV2.variant(
        f"efficientnet_v2_{variant}", f"EfficientNetV2-{variant.upper()}: width {width}, depth "
        f"{depth}, {size}x{size} (keras.applications.EfficientNetV2{variant.upper()}).",
        variant=variant) for variant, (_, _, width, depth, size) in EFFICIENTNET_V2_SPECS.items())
