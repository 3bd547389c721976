"""ResNet v2 (He et al. 2016, https://arxiv.org/abs/1603.05027), as keras.applications' ResNet*V2.

Its quirks included: a 7x7/2 stem convolution with bias and no BatchNorm,
pre-activation bottlenecks strided in the LAST block of every stage but the
last, and a final BatchNorm + ReLU before pooling.
"""

import keras

from zoo import _validation
from zoo.blocks import BatchNorm, Conv2D, PreActBottleneck
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier
from zoo.models._info import PREPROCESSING, keras_imagenet

# depth -> bottleneck blocks per stage; stage widths are FILTERS (outputs 4x wider).
RESNET_V2_SPECS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
FILTERS = (64, 128, 256, 512)
STEM_FILTERS = 64
# keras.applications.ResNet{depth}V2(weights=None): parameters with the 1,000-class head.
KERAS_PARAMS = {50: 25_613_800, 101: 44_675_560, 152: 60_380_648}


@keras.saving.register_keras_serializable(package="zoo")
class ResNetV2(ImageClassifier):
    """ResNet v2 (pre-activation) classifier or feature extractor.

    Args:
        depth: int. One of `RESNET_V2_SPECS`: 50, 101 or 152.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon (keras.applications').
        bn_synchronized: bool. SyncBatchNorm across `tf.distribute`
            replicas (TensorFlow only).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps (stage k at reduction `2**(k+1)`): stage 0 is the stem
    convolution's output (before the max-pool). A stage's stride sits in its
    last block, so stages 1-3 are tapped at the block before it, the last at
    their size; stage 4 at its last block. Like timm's ResNetV2 taps, these
    are pre-activation sums: no `post_bn` + ReLU (which only the classifier
    and `include_top=False` outputs have).

    Example:
    >>> model = ResNetV2(depth=50, input_shape=(64, 64, 3), features_only=True)
    >>> [(f["name"], f["channels"], f["reduction"], f["layer"]) for f in model.feature_info]
    [('stage0', 64, 2, 'stem_conv'), ('stage1', 256, 4, 'stage1_block2'),
     ('stage2', 512, 8, 'stage2_block3'), ('stage3', 1024, 16, 'stage3_block5'),
     ('stage4', 2048, 32, 'stage4_block3')]
    """

    # The family's metadata (`zoo.models._info`).
    info = {
        # SGD at 0.1 diverges early from scratch (no BatchNorm after the stem or conv3).
        "recipe": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4,
                   "epochs": 10},
        # 32x32: the last stage is then 1x1.
        "small": {"num_classes": 5, "input_shape": (32, 32, 3)},
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("resnet50_v2",),
        # Two runs (xla_source and its _run2): XLA trains resnet50_v2 1.23x and 1.28x faster
        # on Eigen, 6x slower on oneDNN.
        "xla": {"cpu/onednn": False, "cpu/eigen": True, "gpu": True, "tpu": True},
        "xla_source": "benchmarks/results/extra/xla_cpu_families.md",
        # Measured on 2 cores: every format of resnet50_v2 ~37 s; JAX ~54 s.
        "slow_tests": {"export": tuple(f"resnet{d}_v2" for d in RESNET_V2_SPECS),
                       "battery_jax": tuple(f"resnet{d}_v2" for d in RESNET_V2_SPECS)},
        "variants": {f"resnet{depth}_v2": {
            "input_size": (224, 224, 3), "reference": f"keras.applications.ResNet{depth}V2",
            "params": KERAS_PARAMS[depth],
            "weights": keras_imagenet(PREPROCESSING["tf"]),
        } for depth in RESNET_V2_SPECS},
    }
    # In a classifier every consumer of the residual sum batch-normalizes it (the
    # next `preact_bn`s, `post_bn`): a constant shift added to it has no gradient.
    gradient_free_weights = ("*/conv3/bias", "*/shortcut/bias")

    def __init__(self, depth=50,
                 # Not Keras' 0.99 (training only): too slow for short runs from scratch.
                 bn_momentum=0.9, bn_epsilon=1.001e-5, bn_synchronized=False, **kwargs):
        self.depth = _validation.one_of("depth", depth, list(RESNET_V2_SPECS))
        kwargs.setdefault("name", f"resnet{self.depth}_v2")
        super().__init__(**kwargs)
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        layer_args = {"data_format": self.compute_format, "dtype": self.dtype_policy}
        last = self.last_stage_layer
        self.stem = [
            keras.layers.ZeroPadding2D(3, name="stem_pad", **layer_args),
            Conv2D(STEM_FILTERS, 7, strides=2, kernel_initializer="he_normal",
                   name="stem_conv", **layer_args)]
        self.blocks = []
        if last != "stem_conv":
            self.stem += [
                # Zero, not -inf, padding: the stem's output is not post-ReLU here.
                keras.layers.ZeroPadding2D(1, name="stem_pool_pad", **layer_args),
                keras.layers.MaxPooling2D(3, strides=2, name="stem_pool", **layer_args)]
            spec = zip(RESNET_V2_SPECS[self.depth], FILTERS)
            for stage, (repeats, filters) in enumerate(spec, 1):
                for index in range(1, repeats + 1):
                    if self.blocks and self.blocks[-1].name == last:
                        break  # (and at once in every later stage)
                    strides = 2 if index == repeats and stage < len(FILTERS) else 1
                    self.blocks.append(PreActBottleneck(
                        filters, strides=strides, name=f"stage{stage}_block{index}",
                        **unit_args))
        self.post_bn = self.post_act = None
        if not self.features_only:
            self.post_bn = BatchNorm(
                axis=_validation.channel_axis(self.compute_format), momentum=self.bn_momentum,
                epsilon=self.bn_epsilon, synchronized=self.bn_synchronized, name="post_bn",
                dtype=self.dtype_policy)
            self.post_act = keras.layers.Activation("relu", name="post_act",
                                                    dtype=self.dtype_policy)
        self._add_head(PreActBottleneck.expansion * FILTERS[-1])

    def stage_table(self):
        """Every stage's feature map, from `RESNET_V2_SPECS` (see the class doc)."""
        rows = [{"name": "stage0", "stage": 0, "channels": STEM_FILTERS, "reduction": 2,
                 "layer": "stem_conv"}]
        for stage, (repeats, filters) in enumerate(zip(RESNET_V2_SPECS[self.depth], FILTERS), 1):
            tapped = repeats - 1 if stage < len(FILTERS) else repeats
            rows.append({"name": f"stage{stage}", "stage": stage,
                         "channels": PreActBottleneck.expansion * filters,
                         "reduction": 2 ** (stage + 1), "layer": f"stage{stage}_block{tapped}"})
        return rows

    def _body(self):
        return [*self.stem, *self.blocks, self.post_bn, self.post_act]

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, **self._batch_norm_config()}


from_keras_applications = _pretrained.keras_port(ResNetV2, "ResNet50V2/101V2/152V2")


resnet50_v2, resnet101_v2, resnet152_v2 = (ResNetV2.variant(
    f"resnet{depth}_v2", f"ResNet-{depth} v2: pre-activation bottlenecks {blocks}, "
    f"{KERAS_PARAMS[depth] / 1e6:.1f}M parameters.", depth=depth)
    for depth, blocks in RESNET_V2_SPECS.items())
