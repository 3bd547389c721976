"""ResNet (He et al. 2015, https://arxiv.org/abs/1512.03385), ImageNet and CIFAR variants."""

import keras

from zoo import _validation
from zoo.blocks import BasicBlock, Bottleneck, ConvBN
from zoo.models import _pretrained
from zoo.models._image import ImageClassifier
from zoo.models._info import PREPROCESSING

_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}

# depth -> layout. "cifar": 3x3 stem, three stages of 6n+2 layers (paper section 4.2).
RESNET_SPECS = {
    18: {"stem": "imagenet", "block": "basic", "blocks": (2, 2, 2, 2), "filters": (64, 128, 256, 512)},
    34: {"stem": "imagenet", "block": "basic", "blocks": (3, 4, 6, 3), "filters": (64, 128, 256, 512)},
    50: {"stem": "imagenet", "block": "bottleneck", "blocks": (3, 4, 6, 3), "filters": (64, 128, 256, 512)},
    101: {"stem": "imagenet", "block": "bottleneck", "blocks": (3, 4, 23, 3), "filters": (64, 128, 256, 512)},
    152: {"stem": "imagenet", "block": "bottleneck", "blocks": (3, 8, 36, 3), "filters": (64, 128, 256, 512)},
    20: {"stem": "cifar", "block": "basic", "blocks": (3, 3, 3), "filters": (16, 32, 64)},
    32: {"stem": "cifar", "block": "basic", "blocks": (5, 5, 5), "filters": (16, 32, 64)},
    44: {"stem": "cifar", "block": "basic", "blocks": (7, 7, 7), "filters": (16, 32, 64)},
    56: {"stem": "cifar", "block": "basic", "blocks": (9, 9, 9), "filters": (16, 32, 64)},
    110: {"stem": "cifar", "block": "basic", "blocks": (18, 18, 18), "filters": (16, 32, 64)},
}

# The image size each stem was designed for (any size works).
_DEFAULT_IMAGE_SIZE = {"imagenet": 224, "cifar": 32}

# Per layout: whether XLA trains faster on each platform (measured).
_XLA_DEFAULTS = {
    "imagenet": {"cpu/onednn": False, "cpu/eigen": False, "gpu": True, "tpu": True},
    "cifar": {"cpu/onednn": False, "cpu/eigen": True, "gpu": True, "tpu": True},
}

# The weights each depth loads: keras.applications' v1 ("imagenet") and
# torchvision/timm v1.5 ("state_dict") files.
_WEIGHT_KINDS = {18: ("state_dict",), 34: ("state_dict",), 50: ("imagenet", "state_dict"),
                 101: ("imagenet", "state_dict"), 152: ("imagenet", "state_dict")}
_WEIGHTS = {
    "imagenet": {"trained_on": "ImageNet-1k (keras.applications, v1)",
                 "preprocessing": PREPROCESSING["caffe"]},
    "state_dict": {"trained_on": "ImageNet-1k (torchvision/timm, v1.5)",
                   "preprocessing": PREPROCESSING["torch"]},
}


@keras.saving.register_keras_serializable(package="zoo")
class ResNet(ImageClassifier):
    """ResNet classifier or feature extractor built from residual blocks.

    Args:
        depth: int. One of `RESNET_SPECS`: 18, 34, 50, 101, 152 (ImageNet
            layout) or 20, 32, 44, 56, 110 (CIFAR layout).
        stride_in_1x1: bool. Bottleneck stride on the first 1x1 conv (True:
            v1, `keras.applications`) or on the 3x3 (False: v1.5, timm).
        zero_init_residual: bool. Zero-initialize the last BN gamma of every
            residual branch so each block starts as identity.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float or None. None: 1e-5 for v1.5, 1.001e-5 for v1.
        bn_synchronized: bool. SyncBatchNorm across `tf.distribute`
            replicas (TensorFlow only).
        **kwargs: `ImageClassifier` arguments and base `keras.Model` ones.

    Feature maps (timm's `out_indices`): stage 0 is the stem convolution's
    output (before the ImageNet max-pool), stages 1-4 (CIFAR: 1-3) the
    residual stages.

    Example:
    >>> model = ResNet(depth=20, num_classes=10, input_shape=(32, 32, 1))
    >>> tuple(model(keras.ops.zeros((4, 32, 32, 1))).shape)
    (4, 10)
    """

    # The family's metadata (`zoo.models._info`).
    info = {
        # The paper's recipe.
        "recipe": {"optimizer": "sgd", "learning_rate": 0.1, "weight_decay": 5e-4,
                   "epochs": 15},
        "xla_source": "benchmarks/results/xla_cpu.md",
        # 32x32 suits the ImageNet variants too (their last stage is then 1x1).
        "small": {"num_classes": 5, "input_shape": (32, 32, 3)},
        # Unsynchronized, each worker would keep its own shard's moving statistics.
        "distributed": {"bn_synchronized": True},
        "benchmarked": ("resnet20", "resnet50"),  # one per layout (CIFAR, ImageNet)
        # JAX compiles each op for each new shape: the deepest take 30-45 s there.
        "slow_tests": {"battery_jax": ("resnet101", "resnet110", "resnet152"),
                       "export": ("resnet101", "resnet152")},
        "variants": {
            f"resnet{depth}": {
                "input_size": (_DEFAULT_IMAGE_SIZE[spec["stem"]],) * 2 + (3,),
                "xla": _XLA_DEFAULTS[spec["stem"]],
                "weights": {kind: _WEIGHTS[kind] for kind in _WEIGHT_KINDS.get(depth, ())},
            } for depth, spec in RESNET_SPECS.items()},
    }

    @property
    def xla_defaults(self):
        """Whether XLA trains faster, per platform, for this model's layout."""
        return _XLA_DEFAULTS[RESNET_SPECS[self.depth]["stem"]]

    @property
    def default_image_size(self):
        return _DEFAULT_IMAGE_SIZE[RESNET_SPECS[self.depth]["stem"]]

    def __init__(self, depth=50, stride_in_1x1=False, zero_init_residual=False, bn_momentum=0.9,
                 bn_epsilon=None, bn_synchronized=False, **kwargs):
        self.depth = _validation.one_of("depth", depth, list(RESNET_SPECS))
        kwargs.setdefault("name", f"resnet{depth}")
        super().__init__(**kwargs)
        spec = RESNET_SPECS[depth]
        self.stride_in_1x1 = _validation.boolean("stride_in_1x1", stride_in_1x1)
        self.zero_init_residual = _validation.boolean("zero_init_residual",
                                                      zero_init_residual)
        if bn_epsilon is None:
            bn_epsilon = 1.001e-5 if self.stride_in_1x1 else 1e-5
        unit_args = self._set_batch_norm(bn_momentum, bn_epsilon, bn_synchronized)
        last = self.last_stage_layer
        if spec["stem"] == "imagenet":
            self.stem = [ConvBN(64, 7, strides=2, name="stem_conv", **unit_args)]
            if last != "stem_conv":  # stage 0 is the map before the max-pool
                self.stem += [
                    # Zero padding equals -inf padding here: the input is post-ReLU.
                    keras.layers.ZeroPadding2D(1, data_format=self.compute_format,
                                               name="stem_pool_pad", dtype=self.dtype_policy),
                    keras.layers.MaxPooling2D(3, strides=2, data_format=self.compute_format,
                                              name="stem_pool", dtype=self.dtype_policy),
                ]
        else:
            self.stem = [ConvBN(spec["filters"][0], 3, name="stem_conv", **unit_args)]

        block_class = _BLOCKS[spec["block"]]
        block_args = dict(unit_args, zero_init_residual=self.zero_init_residual)
        if block_class is Bottleneck:
            block_args["stride_in_1x1"] = self.stride_in_1x1
        self.blocks = []
        for stage, (num_blocks, filters) in enumerate(zip(spec["blocks"], spec["filters"]), 1):
            if last in ("stem_conv", *(block.name for block in self.blocks[-1:])):
                break
            for index in range(1, num_blocks + 1):
                # Every stage but the first halves the resolution, in its first block.
                strides = 2 if stage > 1 and index == 1 else 1
                self.blocks.append(block_class(
                    filters, strides=strides, name=f"stage{stage}_block{index}", **block_args))
        self._add_head(self._stages[-1]["channels"])

    def stage_table(self):
        """Every stage's feature map, from `RESNET_SPECS`."""
        spec = RESNET_SPECS[self.depth]
        imagenet = spec["stem"] == "imagenet"
        stem_channels = 64 if imagenet else spec["filters"][0]
        rows = [{"name": "stage0", "stage": 0, "channels": stem_channels,
                 "reduction": 2 if imagenet else 1, "layer": "stem_conv"}]
        # After the ImageNet stem's conv and max-pool (2 x 2); the CIFAR stem keeps the size.
        reduction = 4 if imagenet else 1
        expansion = _BLOCKS[spec["block"]].expansion
        for stage, (num_blocks, filters) in enumerate(zip(spec["blocks"], spec["filters"]), 1):
            reduction *= 2 if stage > 1 else 1
            rows.append({"name": f"stage{stage}", "stage": stage,
                         "channels": filters * expansion, "reduction": reduction,
                         "layer": f"stage{stage}_block{num_blocks}"})
        return rows

    def _body(self):
        return [*self.stem, *self.blocks]

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "stride_in_1x1": self.stride_in_1x1,
                "zero_init_residual": self.zero_init_residual, **self._batch_norm_config()}


from_keras_applications = _pretrained.keras_port(ResNet, "ResNet50/101/152")


@ResNet.register
def resnet18(**kwargs):
    """ResNet-18: basic blocks (2, 2, 2, 2), ImageNet stem."""
    return ResNet(depth=18, **kwargs)


@ResNet.register
def resnet34(**kwargs):
    """ResNet-34: basic blocks (3, 4, 6, 3), ImageNet stem."""
    return ResNet(depth=34, **kwargs)


@ResNet.register
def resnet50(**kwargs):
    """ResNet-50: bottleneck blocks (3, 4, 6, 3), ImageNet stem."""
    return ResNet(depth=50, **kwargs)


@ResNet.register
def resnet101(**kwargs):
    """ResNet-101: bottleneck blocks (3, 4, 23, 3), ImageNet stem."""
    return ResNet(depth=101, **kwargs)


@ResNet.register
def resnet152(**kwargs):
    """ResNet-152: bottleneck blocks (3, 8, 36, 3), ImageNet stem."""
    return ResNet(depth=152, **kwargs)


@ResNet.register
def resnet20(**kwargs):
    """ResNet-20: CIFAR layout, 3 basic blocks per stage, 16/32/64 filters."""
    return ResNet(depth=20, **kwargs)


@ResNet.register
def resnet32(**kwargs):
    """ResNet-32: CIFAR layout, 5 basic blocks per stage."""
    return ResNet(depth=32, **kwargs)


@ResNet.register
def resnet44(**kwargs):
    """ResNet-44: CIFAR layout, 7 basic blocks per stage."""
    return ResNet(depth=44, **kwargs)


@ResNet.register
def resnet56(**kwargs):
    """ResNet-56: CIFAR layout, 9 basic blocks per stage."""
    return ResNet(depth=56, **kwargs)


@ResNet.register
def resnet110(**kwargs):
    """ResNet-110: CIFAR layout, 18 basic blocks per stage."""
    return ResNet(depth=110, **kwargs)
