"""DenseNet-121/169/201 (Huang et al. 2017, https://arxiv.org/abs/1608.06993), as keras'."""

import keras

from zoo import _validation
from zoo.blocks import BatchNorm, ConvBN, DenseBlock, Transition
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier
from zoo.models._info import PREPROCESSING, keras_imagenet

# depth -> dense layers per block (the paper's Table 1).
DENSENET_SPECS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
STEM_FILTERS = 64
GROWTH_RATE = 32
BOTTLENECK_WIDTH = 4  # the 1x1 convolution's width, in growth rates
COMPRESSION = 0.5  # a transition's output channels per input channel
_PARAMS = {121: 8_062_504, 169: 14_307_880, 201: 20_242_984}  # keras.applications', 1000 classes
MIN_IMAGE_SIZE = 29  # the smallest side the floored pools leave a last 1x1 map for


def stage_widths(depth):
    """Channels at the end of each dense block of DenseNet-`depth`.

    Example:
    >>> stage_widths(121)
    [256, 512, 1024, 1024]
    """
    widths = []
    for layers in DENSENET_SPECS[depth]:  # a transition compresses the width before each
        start = int(widths[-1] * COMPRESSION) if widths else STEM_FILTERS
        widths.append(start + layers * GROWTH_RATE)
    return widths


@keras.saving.register_keras_serializable(package="zoo")
class DenseNet(ImageClassifier):
    """DenseNet classifier or feature extractor.

    A 7x7/2 stem and 3x3/2 max-pool, four `DenseBlock`s (`stage1`..`stage4`) joined
    by `Transition`s (`stage1_transition`.. after the block they compress), a
    final BatchNorm and ReLU (`final_norm`, `final_act`), pooling and a classifier.

    Args:
        depth: int. One of `DENSENET_SPECS`: 121, 169 or 201.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon (keras.applications').
        bn_synchronized: bool. SyncBatchNorm across `tf.distribute`
            replicas (TensorFlow only).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps: stage 0 is the stem convolution's output (before the
    max-pool, as ResNet's), stages 1-3 each dense block's concatenation
    (before its transition), stage 4 the last block after `final_norm` and
    `final_act`: timm's DenseNet taps (`denseblock1-3`, `norm5`).

    Example:
    >>> backbone = DenseNet(input_shape=(64, 64, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in backbone.feature_info]
    [('stage0', 64, 2, 'stem_conv'), ('stage1', 256, 4, 'stage1'), ('stage2', 512, 8, 'stage2'),
     ('stage3', 1024, 16, 'stage3'), ('stage4', 1024, 32, 'final_act')]
    """

    min_image_size = MIN_IMAGE_SIZE
    # The family's metadata (`zoo.models._info`).
    info = {
        # SGD at 0.1 diverged in its first epochs on the digits (val loss ~1e5).
        "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4,
                   "epochs": 12},
        "small": {"num_classes": 5, "input_shape": (32, 32, 3)},  # the last block then 1x1
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("densenet121",),
        # Graph mode measured faster than XLA on both CPU kernel libraries, twice.
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # Measured on 2 cores: every format of densenet121 ~60-120 s; JAX ~190 s.
        "slow_tests": {"export": tuple(f"densenet{d}" for d in DENSENET_SPECS),
                       "battery_jax": tuple(f"densenet{d}" for d in DENSENET_SPECS)},
        "variants": {f"densenet{depth}": {
            "input_size": (224, 224, 3), "reference": f"keras.applications.DenseNet{depth}",
            "params": _PARAMS[depth],
            "weights": keras_imagenet(PREPROCESSING["torch"]),
        } for depth in DENSENET_SPECS},
    }

    # Not Keras' 0.99: its moving statistics lag for epochs in short runs from scratch.
    def __init__(self, depth=121, bn_momentum=0.9, bn_epsilon=1.001e-5, bn_synchronized=False,
                 **kwargs):
        self.depth = _validation.one_of("depth", depth, list(DENSENET_SPECS))
        kwargs.setdefault("name", f"densenet{depth}")
        super().__init__(**kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        self.blocks = []
        for layer in self._layers_of(unit_args):  # made lazily: none after the last stage
            self.blocks.append(layer)
            if layer.name == self.last_stage_layer:
                break
        self._add_head(self._stages[-1]["channels"])

    def _layers_of(self, unit_args):
        """The body's layers in call order, made one at a time."""
        spatial = {"data_format": self.compute_format, "dtype": self.dtype_policy}
        yield ConvBN(STEM_FILTERS, 7, strides=2, name="stem_conv", **unit_args)
        # Zero padding equals -inf padding here: the input is post-ReLU.
        yield keras.layers.ZeroPadding2D(1, name="stem_pool_pad", **spatial)
        yield keras.layers.MaxPooling2D(3, strides=2, name="stem_pool", **spatial)
        for stage, num_layers in enumerate(DENSENET_SPECS[self.depth], 1):
            if stage > 1:
                yield Transition(COMPRESSION, name=f"stage{stage - 1}_transition", **unit_args)
            yield DenseBlock(num_layers, GROWTH_RATE, BOTTLENECK_WIDTH, name=f"stage{stage}",
                             **unit_args)
        yield BatchNorm(axis=_validation.channel_axis(self.compute_format), name="final_norm",
                        momentum=self.bn_momentum, epsilon=self.bn_epsilon,
                        synchronized=self.bn_synchronized, dtype=self.dtype_policy)
        yield keras.layers.Activation("relu", name="final_act", dtype=self.dtype_policy)

    def stage_table(self):
        """Every stage's feature map, from `DENSENET_SPECS`."""
        rows = [{"name": "stage0", "stage": 0, "channels": STEM_FILTERS, "reduction": 2,
                 "layer": "stem_conv"}]
        for stage, channels in enumerate(stage_widths(self.depth), 1):
            rows.append({"name": f"stage{stage}", "stage": stage, "channels": channels,
                         "reduction": 2 ** (stage + 1),
                         "layer": "final_act" if stage == 4 else f"stage{stage}"})
        return rows

    def _body(self):
        return self.blocks

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, **self._batch_norm_config()}


from_keras_applications = _pretrained.keras_port(DenseNet, "DenseNet121/169/201")


densenet121, densenet169, densenet201 = (DenseNet.variant(
    f"densenet{depth}", f"DenseNet-{depth}: dense blocks {blocks}, growth rate {GROWTH_RATE}: "
    f"{_PARAMS[depth] / 1e6:.1f}M parameters.", depth=depth)
    for depth, blocks in DENSENET_SPECS.items())
