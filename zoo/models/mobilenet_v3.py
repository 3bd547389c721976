"""MobileNetV3 (Howard et al. 2019, https://arxiv.org/abs/1905.02244): the network of
`keras.applications.MobileNetV3Small/Large` less its in-model Rescaling, which the records state."""

import keras

from zoo import _validation
from zoo.blocks import ConvBN, InvertedResidual
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier, chain_until, last_at_each_reduction, \
    make_divisible
from zoo.models._info import PREPROCESSING, keras_imagenet

# keras.applications' stack_fn, one row per stage of equal widths: (kernel size, squeeze-excite,
# hard-swish, output channels, stride of the first block, each block's expansion ratio).
SPECS = {
    "small": ((3, True, False, 16, 2, (1,)), (3, False, False, 24, 2, (72.0 / 16, 88.0 / 24)),
              (5, True, True, 40, 2, (4, 6, 6)), (5, True, True, 48, 1, (3, 3)),
              (5, True, True, 96, 2, (6, 6, 6))),
    "large": ((3, False, False, 16, 1, (1,)), (3, False, False, 24, 2, (4, 3)),
              (5, True, False, 40, 2, (3, 3, 3)), (3, False, True, 80, 2, (6, 2.5, 2.3, 2.3)),
              (3, True, True, 112, 1, (6, 6)), (5, True, True, 160, 2, (6, 6, 6)))}
STEM_FILTERS, SE_RATIO = 16, 0.25
HEAD_FILTERS = {"small": 1024, "large": 1280}  # the head's 1x1 conv with bias (`pre_logits`)
# (size, minimalistic) -> keras.applications' parameters (1,000 classes) at alpha 1.0, 0.75;
# VARIANTS: registered name -> (size, alpha, minimalistic, parameters); UNPUBLISHED: of those,
# the ones keras.applications publishes no weights for (minimalistic at alpha 0.75).
PARAMS = {("small", False): (2_554_968, 2_051_552), ("large", False): (5_507_432, 4_012_616),
          ("small", True): (2_056_848, 1_742_192), ("large", True): (3_948_688, 3_069_400)}
VARIANTS = {f"mobilenet_v3_{size}{'_minimal' * minimal}_{round(100 * alpha):03d}":
            (size, alpha, minimal, params[i]) for (size, minimal), params in PARAMS.items()
            for i, alpha in enumerate((1.0, 0.75))}
UNPUBLISHED = ("mobilenet_v3_small_minimal_075", "mobilenet_v3_large_minimal_075")


def blocks(size, alpha=1.0, minimalistic=False):
    """Per block: (name, output and hidden channels, kernel, stride, se_ratio, activation).

    >>> [row[:3] for row in blocks("small", 0.75)][:3]
    [('stage1_block1', 16, 16), ('stage2_block1', 24, 72), ('stage2_block2', 24, 88)]
    """
    rows, channels = [], STEM_FILTERS
    for stage, (kernel, se, swish, filters, stride, ratios) in enumerate(SPECS[size], 1):
        for index, ratio in enumerate(ratios, 1):
            rows.append((f"stage{stage}_block{index}", make_divisible(filters * alpha),
                         make_divisible(channels * ratio), 3 if minimalistic else kernel,
                         stride if index == 1 else 1, SE_RATIO * (se and not minimalistic),
                         "hard_swish" if swish and not minimalistic else "relu"))
            channels = rows[-1][1]
    return rows


@keras.saving.register_keras_serializable(package="zoo")
class MobileNetV3(ImageClassifier):
    """MobileNetV3: a 3x3/2 stem, inverted residual stages, a 1x1 `head_conv`, then
    the head: pooling, `pre_logits` (keras' 1x1 conv with bias, a Dense), classifier.

    Args:
        size: str. `"small"` or `"large"`.
        alpha: float in (0, 2]. Width multiplier of the blocks (and of the head above 1).
        minimalistic: bool. 3x3 kernels, ReLU, no squeeze-excite.
        dropout: float in [0, 1). Before the classifier (keras.applications' 0.2).
        bn_momentum, bn_epsilon, bn_synchronized: as `ConvBN`'s (keras' momentum, 0.999, lags).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Strided convolutions pad as TensorFlow's "same" (keras' `correct_pad` at any
    known size). Feature maps, as timm's: stage k is the last layer at `1 / 2**(k+1)`
    of the input size ("small"'s stage 0: the stem; stage 4: `head_conv`).

    Example:
    >>> backbone = MobileNetV3("small", input_shape=(64, 96, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 16, 2, 'stem_conv'), ('stage1', 16, 4, 'stage1_block1'),
     ('stage2', 24, 8, 'stage2_block2'), ('stage3', 48, 16, 'stage4_block2'),
     ('stage4', 576, 32, 'head_conv')]
    """

    info = {
        # EfficientNet's: squeeze-excite and hard-swish networks of a few million parameters.
        "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.05,
                   "epochs": 20},
        "small": {"num_classes": 5, "input_shape": (32, 32, 3)},
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("mobilenet_v3_large_100",),
        # Graph mode measured faster than XLA on both CPU kernel libraries, twice.
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # On 2 cores: JAX battery 22-43 s (non-minimalistic); export 9-14 s (small_100: quick).
        "slow_tests": {"battery_jax": tuple(n for n, row in VARIANTS.items() if not row[2]),
                       "export": tuple(VARIANTS)[1:]},
        "variants": {name: {
            "input_size": (224, 224, 3), "params": params,
            "reference": f"keras.applications.MobileNetV3{size.title()}",
            # keras' Rescaling(1 / 127.5, offset=-1) inside its model: "tf" mode.
            **({} if name in UNPUBLISHED else {"weights": keras_imagenet(PREPROCESSING["tf"])}),
        } for name, (size, _, _, params) in VARIANTS.items()},
    }
    gradient_free_weights = ("*/project/bn/beta",)  # the next 1x1 conv's BatchNorm removes it

    def __init__(self, size="large", alpha=1.0, minimalistic=False, dropout=0.2,
                 bn_momentum=0.9, bn_epsilon=1e-3, bn_synchronized=False, **kwargs):
        self.size = _validation.one_of("size", size, list(SPECS))
        self.alpha = _validation.finite_float("alpha", alpha, 0, 2, low_open=True)
        self.minimalistic = _validation.boolean("minimalistic", minimalistic)
        kwargs.setdefault("name", f"mobilenet_v3_{size}{'_minimal' * self.minimalistic}_"
                                  f"{round(self.alpha * 100):03d}")
        super().__init__(dropout=dropout, **kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        self.activation = "relu" if self.minimalistic else "hard_swish"
        self.stem = ConvBN(STEM_FILTERS, 3, strides=2, activation=self.activation,
                           padding="same", name="stem_conv", **unit_args)
        self.blocks = [] if self.last_stage_layer == "stem_conv" else chain_until((InvertedResidual(
            filters, stride, expansion=None, expanded_filters=hidden, kernel_size=kernel,
            se_ratio=se_ratio, activation=activation, name=name, **unit_args)
            for name, filters, hidden, kernel, stride, se_ratio, activation
            in blocks(self.size, self.alpha, self.minimalistic)), self.last_stage_layer)
        self.head_conv = None if self.last_stage_layer not in (None, "head_conv") else ConvBN(
            self._stages[-1]["channels"], 1, activation=self.activation, name="head_conv",
            **unit_args)
        head = HEAD_FILTERS[self.size]
        self.head_filters = make_divisible(head * self.alpha) if self.alpha > 1 else head
        self._add_head(self.head_filters)

    def _head_norm(self):
        """keras' 1x1 conv with bias on the pooled 1x1 map, and its activation: a Dense here."""
        return keras.layers.Dense(self.head_filters, activation=self.activation, name="pre_logits",
                                  dtype=self.dtype_policy) if self.include_top else None

    def stage_table(self):
        """The last layer at each resolution: the stem, blocks by their strides, `head_conv`."""
        rows = blocks(self.size, self.alpha, self.minimalistic)
        return last_at_each_reduction([(2, STEM_FILTERS, "stem_conv"), *(
            (stride, filters, name) for name, filters, _, _, stride, _, _ in rows),
            (1, make_divisible(rows[-1][1] * 6), "head_conv")])

    def _body(self):
        return [self.stem, *self.blocks, self.head_conv]

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "minimalistic": self.minimalistic, **self._batch_norm_config()}


from_keras_applications = _pretrained.keras_port(MobileNetV3, "MobileNetV3Small/Large")


(mobilenet_v3_small_100, mobilenet_v3_small_075, mobilenet_v3_large_100, mobilenet_v3_large_075,
 mobilenet_v3_small_minimal_100, mobilenet_v3_small_minimal_075, mobilenet_v3_large_minimal_100,
 mobilenet_v3_large_minimal_075) = (MobileNetV3.variant(
     name, f"MobileNetV3-{size.title()}{', minimalistic' * minimal}, alpha {alpha}: "
     f"{params / 1e6:.2f}M parameters (keras.applications').", size=size, alpha=alpha,
     minimalistic=minimal) for name, (size, alpha, minimal, params) in VARIANTS.items())
