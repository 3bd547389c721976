"""ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385), ImageNet and CIFAR variants.

Variants are data (`RESNET_SPECS`); the public constructors are three lines
each and registered, so `zoo.create_model("resnet50")` and
`zoo.resnet.resnet50()` build the same model.

Example:
>>> from zoo import resnet
>>> model = resnet.resnet20(num_classes=10)
>>> tuple(model(model.example_inputs(batch_size=2)).shape)
(2, 10)
"""

import keras

from zoo import _validation
from zoo.blocks import BasicBlock, Bottleneck, ConvBN
from zoo.models._image import ImageClassifier

_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}

# depth -> how the network is laid out. "imagenet": 7x7/2 conv + 3x3/2 max-pool
# stem, four stages; "cifar": one 3x3 conv stem and three stages of 6n+2 layers
# (section 4.2 of the paper).
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

# The image size each stem was designed for; any size works, this one only
# makes `summary()` and `example_inputs()` concrete when none is given.
_DEFAULT_IMAGE_SIZE = {"imagenet": 224, "cifar": 32}

POOLINGS = (None, "avg", "max")

# Per layout (`RESNET_SPECS[depth]["stem"]`): whether XLA is the faster train
# path on each platform (`ResNet.xla_defaults`, measured).
_XLA_DEFAULTS = {
    "imagenet": {"cpu/onednn": False, "cpu/eigen": False, "gpu": True, "tpu": True},
    "cifar": {"cpu/onednn": False, "cpu/eigen": True, "gpu": True, "tpu": True},
}


@keras.saving.register_keras_serializable(package="zoo")
class ResNet(ImageClassifier):
    """ResNet classifier or feature extractor built from residual blocks.

    Args:
        depth: int. One of `RESNET_SPECS`: 18, 34, 50, 101, 152 (ImageNet
            layout) or 20, 32, 44, 56, 110 (CIFAR layout).
        num_classes: int. Size of the classification head.
        include_top: bool. Add global pooling and the dense head. `False`
            returns the last feature map (or its pooling, see `pooling`).
        pooling: None, `"avg"` or `"max"`. Global pooling of the last feature
            map when `include_top=False`; with `include_top=True` the head
            pools with this (default `"avg"`).
        input_shape: tuple of 3 ints (or None for height/width), in
            `data_format` order, e.g. `(32, 32, 1)`. Any channel count. `None`
            means 3 channels at the stem's native size (224 or 32).
        data_format: str or None. `"channels_last"` or `"channels_first"`;
            `None` uses `keras.config.image_data_format()`.
        stride_in_1x1: bool. For bottleneck blocks, put the stride on the
            first 1x1 conv (`True`: original ResNet v1, `keras.applications`)
            or on the 3x3 conv (`False`: v1.5, torchvision and timm default).
        classifier_activation: str or None. Activation of the head; `None`
            returns logits (use `from_logits=True` losses).
        zero_init_residual: bool. Zero-initialize the last BN gamma of every
            residual branch so each block starts as identity.
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float or None. BatchNormalization epsilon; None takes
            the reference value of the layout: 1e-5 for v1.5
            (`stride_in_1x1=False`, as torchvision, timm and keras-hub),
            1.001e-5 for v1 (`stride_in_1x1=True`, as `keras.applications`).
        bn_synchronized: bool. Batch statistics over all replicas of a
            `tf.distribute` strategy (SyncBatchNorm); `python -m zoo.train`
            turns it on when it trains on more than one replica.
            TensorFlow backend only; True on another backend is a
            ValueError.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch,) + input_shape`.

    Output shape:
        `(batch, num_classes)` with `include_top`; otherwise the last feature
        map `(batch, h, w, c)` (channels_last) or `(batch, c)` with pooling.

    Example:
    >>> model = ResNet(depth=20, num_classes=10, input_shape=(32, 32, 1))
    >>> tuple(model(keras.ops.zeros((4, 32, 32, 1))).shape)
    (4, 10)
    """

    # 32x32 suits the ImageNet variants too (their last stage is then 1x1).
    small_overrides = {"num_classes": 5, "input_shape": (32, 32, 3)}
    # Keras 3 creates BatchNorm's moving statistics with no cross-replica
    # aggregation: unsynchronized, each worker of a multi-worker run would
    # end with the statistics of its own shard.
    distributed_overrides = {"bn_synchronized": True}
    benchmark_models = ("resnet20", "resnet50")  # one per layout (CIFAR, ImageNet)
    # SGD with Nesterov momentum at 0.1, cosine-decayed, is the paper's
    # recipe; README records what it reaches on the digits data.
    training_defaults = {"optimizer": "sgd", "learning_rate": 0.1,
                         "weight_decay": 5e-4, "epochs": 15}

    @property
    def xla_defaults(self):
        """Whether XLA trains faster, per platform, for this model's layout.

        What `python -m benchmarks.xla` measured per layout (CIFAR or
        ImageNet stem), recorded in benchmarks/results/xla_<device>.md; on
        GPU, NVIDIA's published ResNet-50 v1.5 figures (not measured here).
        """
        return _XLA_DEFAULTS[RESNET_SPECS[self.depth]["stem"]]

    def __init__(
        self,
        depth=50,
        num_classes=1000,
        include_top=True,
        pooling=None,
        input_shape=None,
        data_format=None,
        stride_in_1x1=False,
        classifier_activation=None,
        zero_init_residual=False,
        bn_momentum=0.9,
        bn_epsilon=None,
        bn_synchronized=False,
        **kwargs,
    ):
        _validation.one_of("depth", depth, list(RESNET_SPECS))
        kwargs.setdefault("name", f"resnet{depth}")
        super().__init__(**kwargs)
        self.depth = depth
        spec = RESNET_SPECS[depth]
        self._set_image_arguments(num_classes, include_top, pooling, POOLINGS, input_shape,
                                  data_format, _DEFAULT_IMAGE_SIZE[spec["stem"]])
        if self.include_top:
            features = spec["filters"][-1] * _BLOCKS[spec["block"]].expansion
            _validation.weight_fits("num_classes", num_classes,
                                    (features + 1) * self.num_classes,
                                    self.dtype_policy, "classifier")
        self.stride_in_1x1 = _validation.boolean("stride_in_1x1", stride_in_1x1)
        self.classifier_activation = _validation.activation(
            classifier_activation, "classifier_activation")
        self.zero_init_residual = _validation.boolean("zero_init_residual",
                                                      zero_init_residual)
        self.bn_momentum = _validation.bn_momentum(bn_momentum)
        # Each layout's reference value: 1e-5 for v1.5 (torchvision, timm,
        # keras-hub), 1.001e-5 for v1 (keras.applications, whose weights
        # from_keras_applications copies).
        if bn_epsilon is None:
            bn_epsilon = 1.001e-5 if self.stride_in_1x1 else 1e-5
        self.bn_epsilon = _validation.bn_epsilon(bn_epsilon)
        self.bn_synchronized = _validation.bn_synchronized(bn_synchronized)

        unit_args = {
            "data_format": self.compute_format,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
            "dtype": self.dtype_policy,
        }
        if spec["stem"] == "imagenet":
            self.stem = [
                ConvBN(64, 7, strides=2, name="stem_conv", **unit_args),
                # Zero padding before the max-pool equals -inf padding here
                # because the input is post-ReLU (>= 0); keras.applications
                # and torchvision agree.
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
            for index in range(1, num_blocks + 1):
                # Every stage but the first halves the resolution, in its first block.
                strides = 2 if stage > 1 and index == 1 else 1
                self.blocks.append(block_class(
                    filters, strides=strides, name=f"stage{stage}_block{index}", **block_args))

        head_pooling = self.pooling or ("avg" if self.include_top else None)
        pool_class = {"avg": keras.layers.GlobalAveragePooling2D,
                      "max": keras.layers.GlobalMaxPooling2D}.get(head_pooling)
        self.pool = (pool_class(data_format=self.compute_format, name=f"{head_pooling}_pool",
                                dtype=self.dtype_policy)
                     if pool_class else None)
        self.classifier = None
        self.predictions = None
        if self.include_top:
            self.classifier = keras.layers.Dense(
                self.num_classes, name="classifier", dtype=self.dtype_policy)
            self.predictions = self._predictions_layer(self.classifier_activation)
        self.build((None,) + self.input_shape_)

    def _layers_in_order(self):
        return [*self.stem, *self.blocks, self.pool, self.classifier, self.predictions]

    def get_config(self):
        return {
            **super().get_config(),
            "depth": self.depth,
            "num_classes": self.num_classes,
            "include_top": self.include_top,
            "pooling": self.pooling,
            "input_shape": self.input_shape_,
            "data_format": self.data_format,
            "stride_in_1x1": self.stride_in_1x1,
            "classifier_activation": self.classifier_activation,
            "zero_init_residual": self.zero_init_residual,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
        }


def from_keras_applications(keras_model):
    """Builds the zoo ResNet matching a `keras.applications.ResNet*` model.

    Copies every weight of `keras.applications.ResNet50`, `ResNet101` or
    `ResNet152` (v1, not the V2 models) into a zoo `ResNet` with
    `stride_in_1x1=True`, after which both give the same outputs. Keras'
    convolutions carry a bias that the zoo's (followed by BatchNormalization)
    do not; since `BN(conv(x) + b)` normalizes with `moving_mean`, the bias
    is folded exactly into the moving mean: `moving_mean - b`.

    Args:
        keras_model: a `keras.applications.ResNet50/101/152` instance, with
            or without its top.

    Returns:
        A built `ResNet` with the same input shape, head and weights.

    Example:
    >>> k = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.count_params() < k.count_params()  # no conv biases
    True
    """
    layers = {layer.name: layer for layer in getattr(keras_model, "layers", [])}
    if "conv1_conv" not in layers or "conv2_block1_1_conv" not in layers \
            or "conv2_block1_preact_bn" in layers:
        raise ValueError(
            "keras_model must be a keras.applications ResNet50, ResNet101 or "
            f"ResNet152 (v1) model, received keras_model={keras_model!r}"
        )
    blocks = tuple(
        sum(1 for name in layers if name.startswith(f"conv{stage}_block") and name.endswith("_out"))
        for stage in (2, 3, 4, 5)
    )
    depths = [d for d, spec in RESNET_SPECS.items()
              if spec["block"] == "bottleneck" and spec["blocks"] == blocks]
    if not depths:
        raise ValueError(f"keras_model has stage sizes {blocks}, which match no bottleneck "
                         f"ResNet in RESNET_SPECS")
    stem_bn = layers["conv1_bn"]
    data_format = "channels_first" if stem_bn.axis in (1, [1]) else "channels_last"
    head = layers.get("predictions")
    pooling = None
    if head is None:
        pooling = "avg" if "avg_pool" in layers else "max" if "max_pool" in layers else None
    model = ResNet(
        depth=depths[0],
        num_classes=head.units if head is not None else 1000,
        include_top=head is not None,
        pooling=pooling,
        input_shape=tuple(keras_model.input_shape[1:]),
        data_format=data_format,
        stride_in_1x1=True,
        classifier_activation=_validation.activation_of(head),
        bn_momentum=stem_bn.momentum,
        bn_epsilon=stem_bn.epsilon,
    )

    def copy_unit(unit, keras_prefix):
        kernel, bias = layers[f"{keras_prefix}_conv"].get_weights()
        gamma, beta, mean, variance = layers[f"{keras_prefix}_bn"].get_weights()
        unit.conv.set_weights([kernel])
        unit.bn.set_weights([gamma, beta, mean - bias, variance])

    copy_unit(model.stem[0], "conv1")
    for block in model.blocks:
        stage, index = block.name.removeprefix("stage").split("_block")
        prefix = f"conv{int(stage) + 1}_block{index}"
        for number, unit in enumerate(block.branch, 1):
            copy_unit(unit, f"{prefix}_{number}")
        if block.shortcut is not None:
            copy_unit(block.shortcut, f"{prefix}_0")
    if head is not None:
        model.classifier.set_weights(head.get_weights())
    return model


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
