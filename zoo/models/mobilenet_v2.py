"""MobileNetV2 (Sandler et al. 2018, https://arxiv.org/abs/1801.04381).

The paper's Table 2, scaled by `alpha` exactly as `keras.applications.MobileNetV2`.
"""

import numbers

import keras
import numpy as np

from zoo import _validation
from zoo.blocks import ConvBN, InvertedResidual
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier, last_at_each_reduction, make_divisible
from zoo.models._info import PREPROCESSING, keras_imagenet

# The paper's Table 2, one row per stage of bottleneck blocks:
# (expansion t, output channels c, repeats n, stride s of the first block).
MOBILENET_V2_SPECS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
    (6, 320, 1, 1)
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
# The width multipliers of the paper (and of keras.applications' weights).
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)


def _block_widths(alpha):
    """Output channels of every inverted residual block, in order."""
    # int() before rounding, as keras.applications.
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
    # Within float32's precision: np.float32(0.35) is 0.3499999940395355.
    close = [alpha for alpha in ALPHAS if abs(float(value) - alpha) <= 1e-6]
    if not close:  # NaN too: it is close to nothing
        raise ValueError(message)
    return close[0]


@keras.saving.register_keras_serializable(package="zoo")
class MobileNetV2(ImageClassifier):
    """MobileNetV2 classifier or feature extractor.

    A 3x3/2 stem, 17 inverted residual blocks in seven stages, a 1x1
    `head_conv` (only ever widened by `alpha`), pooling and a classifier.

    Args:
        alpha: float. Width multiplier, one of `ALPHAS`.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon.
        bn_synchronized: bool. SyncBatchNorm across `tf.distribute`
            replicas (TensorFlow only).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps are numbered by resolution, as timm's: stage k is the last
    block at `1 / 2**(k+1)` of the input size.

    Example:
    >>> backbone = MobileNetV2(input_shape=(64, 64, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 16, 2, 'stage1_block1'), ('stage1', 24, 4, 'stage2_block2'),
     ('stage2', 32, 8, 'stage3_block3'), ('stage3', 96, 16, 'stage5_block3'),
     ('stage4', 320, 32, 'stage7_block1')]
    """

    # The family's metadata (`zoo.models._info`).
    info = {
        "recipe": {"optimizer": "sgd", "learning_rate": 0.1, "weight_decay": 5e-4,
                   "epochs": 40},
        "xla_source": "benchmarks/results/extra/xla_cpu_epyc_avx2.md",
        # The narrowest width at CIFAR size: the last stage is then 1x1.
        "small": {"alpha": 0.35, "num_classes": 5, "input_shape": (32, 32, 3)},
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("mobilenet_v2",),
        "variants": {"mobilenet_v2": {
            "input_size": (224, 224, 3),
            "reference": "keras.applications.MobileNetV2", "params": 3_538_984,
            "weights": keras_imagenet(PREPROCESSING["tf"])}},
    }
    # The next BatchNorm's batch mean removes a projection beta's constant shift.
    gradient_free_weights = ("*/project/bn/beta",)

    def __init__(
        self,
        alpha=1.0,
        # Not keras.applications' 0.999: too slow for short runs from scratch.
        bn_momentum=0.9,
        bn_epsilon=1e-3,
        bn_synchronized=False,
        **kwargs,
    ):
        self.alpha = _alpha(alpha)
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
        """The last block at each resolution, from the blocks' widths and strides."""
        block_widths, taps, block = _block_widths(self.alpha), [], 0
        for stage, (_, _, repeats, stride) in enumerate(MOBILENET_V2_SPECS, 1):
            block += repeats
            taps.append((stride, block_widths[block - 1], f"stage{stage}_block{repeats}"))
        return last_at_each_reduction(taps, reduction=2)  # the stem halves the size

    def _body(self):
        return [self.stem, *self.blocks, self.head_conv]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, **self._batch_norm_config()}


from_keras_applications = _pretrained.keras_port(MobileNetV2, "MobileNetV2")


@MobileNetV2.register
def mobilenet_v2(**kwargs):
    """MobileNetV2, width `alpha` (default 1.0): 3.5M parameters at 224x224, 1000 classes."""
    return MobileNetV2(**kwargs)
