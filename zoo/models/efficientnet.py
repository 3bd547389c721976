"""EfficientNet B0-B7 (Tan & Le 2019, https://arxiv.org/abs/1905.11946): the network of
`keras.applications.EfficientNetB0..B7` less its in-model preprocessing, which the records state."""

import math

import keras

from zoo.blocks import MBConv
from zoo.models import _pretrained
from zoo.models._efficientnet import EfficientNetBase, imagenet_preprocessing
from zoo.models._image import make_divisible
from zoo.models._info import keras_imagenet

# keras.applications' DEFAULT_BLOCKS_ARGS, one row per stage (each block's squeeze-excite
# takes SE_RATIO of its input channels): (kernel size, repeats, output channels,
# expansion, stride of the first block); a stage's input is the stage before's output.
BLOCK_ARGS = ((3, 1, 16, 1, 1), (3, 2, 24, 6, 2), (5, 2, 40, 6, 2), (3, 3, 80, 6, 2),
              (5, 3, 112, 6, 1), (5, 4, 192, 6, 2), (3, 1, 320, 6, 1))
SE_RATIO = 0.25
STEM_FILTERS, HEAD_FILTERS = 32, 1280
# variant -> (width, depth, resolution, dropout), as keras.applications' EfficientNetB0..B7.
EFFICIENTNET_SPECS = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}
# With 1,000 classes: keras.applications' counts less the 7 of its Normalization layer
# (mean, variance, count), which is preprocessing here.
PARAMS = {"b0": 5_330_564, "b1": 7_856_232, "b2": 9_177_562, "b3": 12_320_528,
          "b4": 19_466_816, "b5": 30_562_520, "b6": 43_265_136, "b7": 66_658_680}


def architecture(variant):
    """`variant`'s network (see `zoo.models._efficientnet`): keras.applications' rounding
    of widths (`make_divisible`) and depths; drop-connect over every block.

    Example:
    >>> spec = architecture("b3")
    >>> spec["stem"], [row[2:4] for row in spec["stages"]][:3], spec["head"]
    (40, [(2, 24), (3, 32), (3, 48)], 1536)
    """
    width, depth, size, dropout = EFFICIENTNET_SPECS[variant]
    rows = [(MBConv, kernel, int(math.ceil(depth * repeats)), make_divisible(filters * width),
             expansion, stride, SE_RATIO) for kernel, repeats, filters, expansion, stride
            in BLOCK_ARGS]
    return {"stem": make_divisible(STEM_FILTERS * width), "stages": rows, "size": size,
            "head": make_divisible(HEAD_FILTERS * width), "dropout": dropout,
            "drop_divisor": sum(row[2] for row in rows)}


@keras.saving.register_keras_serializable(package="zoo")
class EfficientNet(EfficientNetBase):
    """EfficientNet classifier or feature extractor: a 3x3/2 stem, MBConv stages, a 1x1 head conv.

    Args:
        variant: str. One of `EFFICIENTNET_SPECS` ("b0" ... "b7").
        drop_connect_rate: float in [0, 1). Block `b` of `n` drops its residual
            branch with rate `drop_connect_rate * b / n` in training.
        dropout: float in [0, 1) or None (the variant's, as keras.applications).
        bn_momentum, bn_epsilon, bn_synchronized: BatchNormalization's (as `ConvBN`).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Strided convolutions pad as TensorFlow's "same", which is exactly the
    `correct_pad` zero padding of keras.applications at every known input
    size. Feature maps, as timm's `feature_info`: stage k is the last block
    at `1 / 2**(k+1)` of the input size.

    Example:
    >>> backbone = EfficientNet("b0", input_shape=(64, 96, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 16, 2, 'stage1_block1'), ('stage1', 24, 4, 'stage2_block2'),
     ('stage2', 40, 8, 'stage3_block2'), ('stage3', 112, 16, 'stage5_block3'),
     ('stage4', 320, 32, 'stage7_block1')]
    """

    info = {
        # adamw's default decay (1e-4) lets a 4M-parameter network overfit small data.
        "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.05,
                   "epochs": 15},
        "small": {"num_classes": 5, "input_shape": (32, 32, 3),
                  # One train step on 2 examples: a branch dropped for both gets no gradient.
                  "drop_connect_rate": 0.0},
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("efficientnet_b0",),
        # Graph mode measured faster than XLA on both CPU kernel libraries, twice.
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # Every format of efficientnet_b0 takes ~26 s on 2 cores; the JAX battery ~60 s.
        "slow_tests": {"export": tuple(f"efficientnet_{v}" for v in EFFICIENTNET_SPECS),
                       "battery_jax": tuple(f"efficientnet_{v}" for v in EFFICIENTNET_SPECS)},
        "variants": {f"efficientnet_{variant}": {
            "input_size": (size, size, 3), "params": PARAMS[variant],
            "reference": f"keras.applications.EfficientNetB{variant[1]}",
            "weights": keras_imagenet(imagenet_preprocessing("efficientnet", size)),
        } for variant, (_, _, size, _) in EFFICIENTNET_SPECS.items()},
    }

    # The variants, each one's network (`zoo.models._efficientnet`) and registered names.
    specs, architecture = EFFICIENTNET_SPECS, staticmethod(architecture)
    name_prefix = "efficientnet_"

    @property
    def gradient_free_weights(self):
        """Projection betas whose shift the next 1x1 convolution's batch statistics remove."""
        # Not before a depthwise convolution (zero-padded: stage 1's blocks), nor in a
        # residual block with drop-connect, which drops the shift for some examples only.
        first = architecture(self.variant)["stages"][0][2]
        blocks = "block1" if self.drop_connect_rate > 0 else "block*"
        last_first = first == 1 or self.drop_connect_rate == 0
        return (f"*/stage[2-7]_{blocks}/project/bn/beta",) + (
            (f"*/stage1_block{first}/project/bn/beta",) if last_first else ())


from_keras_applications = _pretrained.keras_port(EfficientNet, "EfficientNetB0..B7")


efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, \
    efficientnet_b5, efficientnet_b6, efficientnet_b7 = (EfficientNet.variant(
        f"efficientnet_{variant}", f"EfficientNet-{variant.upper()}: width {width}, depth "
        f"{depth}, {size}x{size} (keras.applications.EfficientNet{variant.upper()}).",
        variant=variant) for variant, (width, depth, size, _) in EFFICIENTNET_SPECS.items())
