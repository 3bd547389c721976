"""MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", https://arxiv.org/abs/1801.04381).

The layout is the paper's Table 2 (`MOBILENET_V2_SPECS`), widened or
narrowed by `alpha` exactly as `keras.applications.MobileNetV2` does, so both
have the same parameters and `from_keras_applications` copies its
(ImageNet) weights.

Example:
>>> from zoo import mobilenet_v2
>>> model = mobilenet_v2.mobilenet_v2(alpha=0.35, num_classes=10, input_shape=(32, 32, 3))
>>> tuple(model(model.example_inputs(batch_size=2)).shape)
(2, 10)
"""

import numbers

import keras
import numpy as np

from zoo import _validation
from zoo.blocks import ConvBN, InvertedResidual
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier
from zoo.models._info import PREPROCESSING

# The paper's Table 2, one row per stage of bottleneck blocks:
# (expansion t, output channels c, repeats n, stride s of the first block).
MOBILENET_V2_SPECS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
# The width multipliers of the paper (and of keras.applications' weights).
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)


def make_divisible(value, divisor=8):
    """`value` rounded to the nearest multiple of `divisor`, never 10% lower.

    keras.applications' (and the reference TensorFlow implementation's)
    `_make_divisible`: channel counts stay multiples of 8, which vector
    units and accelerators like.

    Example:
    >>> make_divisible(32 * 0.35), make_divisible(16 * 0.35), make_divisible(1280 * 1.3)
    (16, 8, 1664)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _block_widths(alpha):
    """Output channels of every inverted residual block, in order."""
    # int() before rounding, as keras.applications (alpha=0.35 gives 8
    # channels for 24 * 0.35 = 8.4, as it does).
    return [make_divisible(int(filters * alpha))
            for _, filters, repeats, _ in MOBILENET_V2_SPECS for _ in range(repeats)]


def channel_widths(alpha):
    """(stem, [blocks], head conv) widths at `alpha`: the head is only ever widened."""
    head = make_divisible(HEAD_FILTERS * alpha) if alpha > 1.0 else HEAD_FILTERS
    return make_divisible(STEM_FILTERS * alpha), _block_widths(alpha), head


def _alpha(value):
    message = f"alpha must be one of {list(ALPHAS)}, received alpha={value!r}"
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise _validation.ArgumentTypeError(message)
    if float(value) not in ALPHAS:  # NaN too: it equals nothing
        raise ValueError(message)
    return float(value)


@keras.saving.register_keras_serializable(package="zoo")
class MobileNetV2(ImageClassifier):
    """MobileNetV2 classifier or feature extractor.

    A 3x3/2 stem, the 17 inverted residual blocks of `MOBILENET_V2_SPECS`
    in seven stages (`stage1_block1` ... `stage7_block1`), a 1x1 head
    convolution (`head_conv`), then global pooling and a dense classifier.
    Every convolution is a `ConvBN` with ReLU6 (the projections are linear).
    Widths follow `keras.applications.MobileNetV2` exactly: every width is
    `make_divisible(width * alpha)`, the 1280-wide head convolution is only
    widened (never narrowed) by `alpha`, and strided convolutions pad as
    TensorFlow's "same".

    Args:
        alpha: float. Width multiplier, one of `ALPHAS` (0.35, 0.5, 0.75,
            1.0, 1.3, 1.4).
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon (default
            `keras.applications`').
        bn_synchronized: bool. Batch statistics over all replicas of a
            `tf.distribute` strategy (SyncBatchNorm); `python -m zoo.train`
            turns it on when it trains on more than one replica.
            TensorFlow backend only.
        **kwargs: the head and input arguments of
            `zoo.models._image.ImageClassifier` (`num_classes`,
            `include_top`, `pooling`, `input_shape`, `data_format`,
            `dropout`: 0 as keras.applications, the reference TensorFlow
            models used 0.2 on ImageNet; `classifier_activation`,
            `features_only`: no head convolution either; `out_stages`:
            0-4), and base `keras.Model` arguments (`name`, `dtype`, ...).
            Any input size works: each stride-2 layer gives
            `ceil(size / 2)`.

    Feature maps:
        Stages are numbered by resolution, as timm's `out_indices` for
        `mobilenetv2_*`: stage k is the last block at `1 / 2**(k+1)` of the
        input size, i.e. the outputs of `stage1_block1` (stage 0, 1/2),
        `stage2_block2` (1, 1/4), `stage3_block3` (2, 1/8), `stage5_block3`
        (3, 1/16) and `stage7_block1` (4, 1/32): 16, 24, 32, 96 and 320
        channels at alpha 1.0. These feature stages are not the seven
        stages of the paper that name the blocks. The head convolution
        (1280 channels) belongs to no stage. A map is `ceil(size /
        reduction)` high and wide, in `data_format`, keyed `"stage<k>"`;
        `feature_info` lists channels and reductions.

    Output shape:
        See `ImageClassifier`.

    Example:
    >>> model = MobileNetV2(alpha=0.35, num_classes=10, input_shape=(32, 32, 1))
    >>> tuple(model(keras.ops.zeros((4, 32, 32, 1))).shape)
    (4, 10)
    >>> backbone = MobileNetV2(input_shape=(64, 64, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 16, 2, 'stage1_block1'), ('stage1', 24, 4, 'stage2_block2'),
     ('stage2', 32, 8, 'stage3_block3'), ('stage3', 96, 16, 'stage5_block3'),
     ('stage4', 320, 32, 'stage7_block1')]
    >>> tuple(backbone(keras.ops.zeros((1, 64, 64, 3)))["stage4"].shape)
    (1, 2, 2, 320)
    """

    # The narrowest width at CIFAR size: the last stage is then 1x1.
    small_overrides = {"alpha": 0.35, "num_classes": 5, "input_shape": (32, 32, 3)}
    # As for ResNet: unsynchronized, each worker of a multi-worker run would
    # end with the moving statistics of its own shard.
    distributed_overrides = {"bn_synchronized": True}
    benchmark_models = ("mobilenet_v2",)
    # A linear projection's BN beta shifts its channels by a constant; only
    # 1x1 convolutions (through the residual adds) read them, and each is
    # followed by a BatchNorm whose batch mean removes that constant, so in
    # training mode the gradient of every projection beta is zero (as in
    # keras.applications' MobileNetV2).
    gradient_free_weights = ("*/project/bn/beta",)
    # The digits recipe of `python -m zoo.train`: what it reaches is in
    # benchmarks/results/recipes.md.
    training_defaults = {"optimizer": "sgd", "learning_rate": 0.1,
                         "weight_decay": 5e-4, "epochs": 40}
    # Graph mode on CPUs, as measured (XLA 5-6x slower on the depthwise
    # convolutions); GPU and TPU: XLA, the base default (not measured here).
    xla_source = "benchmarks/results/extra/xla_cpu_epyc_avx2.md"
    xla_defaults = ImageClassifier.xla_defaults
    # `weights="imagenet"`: keras.applications' weights for every alpha of
    # `ALPHAS`, at the input size keras.applications picks
    # (`zoo.convert.mobilenet_v2.imagenet_size`).
    pretrained_weights = {"mobilenet_v2": ("imagenet",)}
    variant_info = {"mobilenet_v2": {
        "input_size": (224, 224, 3),
        "weights": {"imagenet": {"trained_on": "ImageNet-1k (keras.applications)",
                                 "preprocessing": PREPROCESSING["tf"]}}}}

    def __init__(
        self,
        alpha=1.0,
        # Keras' usual 0.9 (torchvision's 0.1), not keras.applications'
        # 0.999: with 0.999 the moving statistics average over ~1000 steps,
        # so a short run from scratch (digits: ~25 steps per epoch) evaluates
        # with statistics still near their initial values. 0.9 follows the
        # weights within ~10 steps; from_keras_applications takes Keras'
        # own value when it copies pretrained weights.
        bn_momentum=0.9,
        bn_epsilon=1e-3,
        bn_synchronized=False,
        **kwargs,
    ):
        self.alpha = _alpha(alpha)
        # The registered name, whatever the width (alpha is in the config).
        kwargs.setdefault("name", "mobilenet_v2")
        super().__init__(**kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        stem_filters, block_widths, head_filters = channel_widths(self.alpha)
        last = self.last_stage_layer
        self.stem = ConvBN(stem_filters, 3, strides=2,
                           activation="relu6", padding="same", name="stem_conv", **unit_args)
        self.blocks = []
        widths = iter(block_widths)
        for stage, (expansion, _, repeats, stride) in enumerate(MOBILENET_V2_SPECS, 1):
            for index in range(1, repeats + 1):
                if self.blocks and self.blocks[-1].name == last:
                    break  # (and at once in every later stage)
                self.blocks.append(InvertedResidual(
                    next(widths), strides=stride if index == 1 else 1, expansion=expansion,
                    padding="same", name=f"stage{stage}_block{index}", **unit_args))
        self.head_conv = None
        if not self.features_only:
            self.head_conv = ConvBN(head_filters, 1, activation="relu6", name="head_conv",
                                    **unit_args)
        self._add_head(head_filters)

    def stage_table(self):
        """Every stage's feature map (see "Feature maps"), from the blocks' widths."""
        block_widths = _block_widths(self.alpha)
        rows, reduction, block = [], 2, 0  # the stem halves the size
        for stage, (_, _, repeats, stride) in enumerate(MOBILENET_V2_SPECS, 1):
            reduction *= stride
            block += repeats
            row = {"name": f"stage{len(rows)}", "stage": len(rows),
                   "channels": block_widths[block - 1], "reduction": reduction,
                   "layer": f"stage{stage}_block{repeats}"}
            # A paper stage at the resolution of the one before extends it.
            if rows and rows[-1]["reduction"] == reduction:
                row.update(name=rows[-1]["name"], stage=rows[-1]["stage"])
                rows[-1] = row
            else:
                rows.append(row)
        return rows

    def _body(self):
        return [self.stem, *self.blocks, self.head_conv]

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
        }


def from_keras_applications(keras_model, **overrides):
    """The zoo MobileNetV2 matching a keras.applications MobileNetV2, its weights copied.

    `zoo.convert.mobilenet_v2.from_keras_applications` (the port lives in
    zoo/convert/).
    """
    return _pretrained.converter(MobileNetV2).from_keras_applications(keras_model, **overrides)


@MobileNetV2.register
def mobilenet_v2(**kwargs):
    """MobileNetV2, width `alpha` (default 1.0): 3.5M parameters at 224x224, 1000 classes."""
    return MobileNetV2(**kwargs)
