"""ConvNeXt-T/S/B/L/XL (Liu et al. 2022, https://arxiv.org/abs/2201.03545), as keras'."""

import keras

from zoo import _validation
from zoo.blocks import Conv2D, ConvNeXtBlock
from zoo.blocks.convnext_block import LAYER_NORM_EPSILON
from zoo.models import _info, _pretrained
from zoo.models._image import ImageClassifier, chain_until

# variant -> (blocks per stage, channels per stage): keras.applications' MODEL_CONFIGS.
CONVNEXT_SPECS = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
_PARAMS = {"tiny": 28_589_128, "small": 50_223_688, "base": 88_591_464,
           "large": 197_767_336, "xlarge": 350_196_968}  # keras.applications', 1000 classes
STEM_STRIDE = 4  # the 4x4/4 "patchify" stem
MIN_IMAGE_SIZE = 32  # the valid 4x4/4 stem and three 2x2/2 downsamplings leave a 1x1 map
# keras.applications' ConvNeXt normalizes inside; the zoo model takes its output.
PREPROCESSING = _info.PREPROCESSING["convnext"]
_TRAINED_ON = {"tiny": "ImageNet-1k", "small": "ImageNet-1k"}
KERAS_NAMES = {"tiny": "ConvNeXtTiny", "small": "ConvNeXtSmall", "base": "ConvNeXtBase",
               "large": "ConvNeXtLarge", "xlarge": "ConvNeXtXLarge"}


@keras.saving.register_keras_serializable(package="zoo")
class ConvNeXt(ImageClassifier):
    """ConvNeXt classifier or feature extractor.

    A 4x4/4 convolution and LayerNorm stem (`stem_conv`, `stem_norm`), four
    stages of `ConvNeXtBlock`s (`stage1_block1`..), each stage after the first
    opened by a LayerNorm and a 2x2/2 convolution (`stage2_downsample_norm`,
    `stage2_downsample_conv`), then global pooling, a LayerNorm (`head_norm`,
    also on the map or pooled vector of `include_top=False`, as keras') and
    the classifier. Takes images normalized as `PREPROCESSING` says.

    Args:
        variant: str. One of `CONVNEXT_SPECS`: "tiny", "small", "base",
            "large" or "xlarge".
        drop_path_rate: float in [0, 1). Stochastic depth of the last block,
            rising linearly from 0 at the first (keras' default: 0).
        layer_scale_init_value: float in (0, 1). Initial `LayerScale`.
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps: each stage's last block (reductions 4, 8, 16, 32), timm's
    ConvNeXt taps (`stages.0`..`stages.3`).

    Example:
    >>> backbone = ConvNeXt(input_shape=(64, 64, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage1', 96, 4, 'stage1_block3'), ('stage2', 192, 8, 'stage2_block3'),
     ('stage3', 384, 16, 'stage3_block9'), ('stage4', 768, 32, 'stage4_block3')]
    """

    min_image_size = MIN_IMAGE_SIZE
    # The family's metadata (`zoo.models._info`).
    info = {
        # Digits from scratch: 97.5% with --batch_size=32 --label_smoothing=0.1 (the paper's).
        "recipe": {"optimizer": "adamw", "learning_rate": 5e-4, "weight_decay": 0.05,
                   "epochs": 20},
        # 32x32: the last stage 1x1. Layer scales of 0.1: at 1e-6 the blocks' branches
        # hide from output comparisons, and a train step cannot move what they scale.
        "small": {"num_classes": 5, "input_shape": (32, 32, 3), "layer_scale_init_value": 0.1},
        "benchmarked": ("convnext_tiny",),
        # Graph mode measured faster than XLA on both CPU kernel libraries, twice.
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # Measured on 2 cores: every format of convnext_tiny 36 s; JAX battery 26 s; TF
        # battery 6 s (tiny) .. 49 s (xlarge).
        "slow_tests": {"export": tuple(f"convnext_{v}" for v in CONVNEXT_SPECS),
                       "battery_jax": tuple(f"convnext_{v}" for v in CONVNEXT_SPECS),
                       "battery": ("convnext_large", "convnext_xlarge")},
        "variants": {f"convnext_{variant}": {
            "input_size": (224, 224, 3), "params": _PARAMS[variant],
            "reference": f"keras.applications.{KERAS_NAMES[variant]}",
            "weights": _info.keras_imagenet(PREPROCESSING, _TRAINED_ON.get(
                variant, "ImageNet-21k, fine-tuned on ImageNet-1k")),
        } for variant in CONVNEXT_SPECS},
    }

    def __init__(self, variant="tiny", drop_path_rate=0.0, layer_scale_init_value=1e-6,
                 **kwargs):
        self.variant = _validation.one_of("variant", variant, list(CONVNEXT_SPECS))
        self.drop_path_rate = _validation.fraction("drop_path_rate", drop_path_rate)
        self.layer_scale_init_value = _validation.finite_float(
            "layer_scale_init_value", layer_scale_init_value, 0, 1, low_open=True,
            high_open=True)
        kwargs.setdefault("name", f"convnext_{variant}")
        super().__init__(**kwargs)
        # Made lazily: none after the last stage a features_only model returns.
        self.blocks = chain_until(self._layers_of(), self.last_stage_layer)
        self._add_head(self._stages[-1]["channels"])

    def _norm(self, name, axis=None):
        """A LayerNorm over the channels (keras.applications' epsilon)."""
        axis = _validation.channel_axis(self.compute_format) if axis is None else axis
        return keras.layers.LayerNormalization(axis=axis, epsilon=LAYER_NORM_EPSILON,
                                               name=name, dtype=self.dtype_policy)

    def _layers_of(self):
        """The body's layers in call order, made one at a time."""
        depths, widths = CONVNEXT_SPECS[self.variant]
        spatial = {"data_format": self.compute_format, "dtype": self.dtype_policy}
        yield Conv2D(widths[0], STEM_STRIDE, strides=STEM_STRIDE, name="stem_conv", **spatial)
        yield self._norm("stem_norm")
        total, done = sum(depths), 0
        for stage, (depth, width) in enumerate(zip(depths, widths), 1):
            if stage > 1:
                yield self._norm(f"stage{stage}_downsample_norm")
                yield Conv2D(width, 2, strides=2, name=f"stage{stage}_downsample_conv", **spatial)
            for block in range(1, depth + 1):
                # The paper's schedule: 0 at the first block, drop_path_rate at the last.
                rate = self.drop_path_rate * done / (total - 1)
                done += 1
                yield ConvNeXtBlock(rate, self.layer_scale_init_value,
                                    name=f"stage{stage}_block{block}", **spatial)

    def _head_norm(self):
        """keras' LayerNorm after the pooling (or on the map of include_top=False, no pooling)."""
        if self.features_only:
            return None
        return self._norm("head_norm", axis=-1 if self.pool is not None else None)

    def stage_table(self):
        """Every stage's feature map, from `CONVNEXT_SPECS`."""
        depths, widths = CONVNEXT_SPECS[self.variant]
        return [{"name": f"stage{stage}", "stage": stage, "channels": width,
                 "reduction": STEM_STRIDE * 2 ** (stage - 1), "layer": f"stage{stage}_block{depth}"}
                for stage, (depth, width) in enumerate(zip(depths, widths), 1)]

    def _body(self):
        return self.blocks

    def get_config(self):
        return {**super().get_config(), "variant": self.variant,
                "drop_path_rate": self.drop_path_rate,
                "layer_scale_init_value": self.layer_scale_init_value}


from_keras_applications = _pretrained.keras_port(ConvNeXt, "ConvNeXt*")


convnext_tiny, convnext_small, convnext_base, convnext_large, convnext_xlarge = (ConvNeXt.variant(
    f"convnext_{variant}", f"{KERAS_NAMES[variant]}: blocks {depths}, widths {widths[0]}-"
    f"{widths[-1]}: {_PARAMS[variant] / 1e6:.1f}M parameters.", variant=variant)
    for variant, (depths, widths) in CONVNEXT_SPECS.items())
