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
import numpy as np

from zoo import _validation
from zoo.blocks import BasicBlock, Bottleneck, ConvBN
from zoo.models import _pretrained
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
            Ignored with `features_only=True` (set to False: no head).
        pooling: None, `"avg"` or `"max"`. Global pooling of the last feature
            map when `include_top=False`; with `include_top=True` the head
            pools with this (default `"avg"`). Must be None with
            `features_only=True`.
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
        features_only: bool. Return a dict of feature maps, one per stage
            of `out_stages` (see "Feature maps"), instead of the head's
            output. The model then has no head and no pooling, and no layer
            after the last stage requested (nor its weights).
        out_stages: None, or a list or tuple of stage numbers in increasing
            order, each once; only with `features_only=True`. None: every
            stage (0-4, or 0-3 for the CIFAR layout), as timm's
            `features_only`.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Feature maps:
        Stages are numbered as timm's `out_indices`. ImageNet layout: stage
        0 is the stem convolution's output before the max-pool (64
        channels, 1/2 of the input size), stages 1-4 the outputs of the
        four residual stages (`stage1_block*` ... `stage4_block*`; 1/4,
        1/8, 1/16 and 1/32). CIFAR layout: stage 0 is the stem's output
        (full size), stages 1-3 the residual stages (1/1, 1/2, 1/4). A
        stage's map is `ceil(size / reduction)` high and wide, in
        `data_format`, keyed `"stage<k>"`; `feature_info` lists channels
        and reductions.

    Input shape:
        `(batch,) + input_shape`.

    Output shape:
        `(batch, num_classes)` with `include_top`; otherwise the last feature
        map `(batch, h, w, c)` (channels_last) or `(batch, c)` with pooling.
        With `features_only=True`, a dict `{"stage<k>": (batch, h_k, w_k,
        c_k)}` in stage order.

    Example:
    >>> model = ResNet(depth=20, num_classes=10, input_shape=(32, 32, 1))
    >>> tuple(model(keras.ops.zeros((4, 32, 32, 1))).shape)
    (4, 10)
    >>> backbone = ResNet(depth=18, input_shape=(64, 64, 3), features_only=True,
    ...                   out_stages=(2, 3, 4))
    >>> {name: tuple(x.shape) for name, x in backbone(keras.ops.zeros((1, 64, 64, 3))).items()}
    {'stage2': (1, 8, 8, 128), 'stage3': (1, 4, 4, 256), 'stage4': (1, 2, 2, 512)}
    >>> backbone.feature_info[0]
    {'name': 'stage2', 'stage': 2, 'channels': 128, 'reduction': 8, 'layer': 'stage2_block2'}
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
    # `weights=` (README "Pretrained weights"): keras.applications publishes
    # ImageNet weights of the v1 ResNet-50/101/152 ("imagenet": built with
    # stride_in_1x1=True); every ImageNet-layout depth loads a torchvision/
    # timm state dict ("state_dict": v1.5, stride_in_1x1=False).
    pretrained_weights = {
        "resnet18": ("state_dict",),
        "resnet34": ("state_dict",),
        "resnet50": ("imagenet", "state_dict"),
        "resnet101": ("imagenet", "state_dict"),
        "resnet152": ("imagenet", "state_dict"),
    }

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
        features_only=False,
        out_stages=None,
        **kwargs,
    ):
        _validation.one_of("depth", depth, list(RESNET_SPECS))
        kwargs.setdefault("name", f"resnet{depth}")
        super().__init__(**kwargs)
        self.depth = depth
        spec = RESNET_SPECS[depth]
        self._set_image_arguments(num_classes, include_top, pooling, POOLINGS, input_shape,
                                  data_format, _DEFAULT_IMAGE_SIZE[spec["stem"]])
        returned = self._set_feature_arguments(features_only, out_stages,
                                               self._feature_stages(spec))
        # The last stage computed: layers after it are not created.
        last_stage = max(returned) if returned else len(spec["blocks"])
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
            self.stem = [ConvBN(64, 7, strides=2, name="stem_conv", **unit_args)]
            if last_stage > 0:  # stage 0 is the map before the max-pool
                self.stem += [
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
        stages = list(zip(spec["blocks"], spec["filters"]))[:last_stage]
        for stage, (num_blocks, filters) in enumerate(stages, 1):
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

    @staticmethod
    def _feature_stages(spec):
        """Every stage's feature map (see "Feature maps"), from a `RESNET_SPECS` entry."""
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
            "features_only": self.features_only,
            "out_stages": self.out_stages,
        }

    @classmethod
    def pretrained_overrides(cls, name, weights, overrides):
        """`stride_in_1x1` (and the default `bn_epsilon`) of the weights' layout.

        `weights="imagenet"` (keras.applications, v1) builds
        `stride_in_1x1=True`, a state dict (torchvision/timm, v1.5)
        `stride_in_1x1=False`; the other value, given explicitly for a
        bottleneck ResNet, is a ValueError naming it. A state dict's
        `fc.weight` sets `num_classes` when it is not given (the file's own
        head is loaded).
        """
        return _pretrained_overrides(name, weights, overrides)

    def load_pretrained(self, weights):
        """Loads `"imagenet"` (keras.applications) or a torchvision/timm `StateDict`."""
        _load_pretrained(self, weights)


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

    _copy_keras_applications(model, layers)
    return model


def _copy_keras_applications(model, layers):
    """Copies keras.applications' ResNet layers (by name) into the zoo `model`.

    Every unit the model has (a `features_only` model has fewer) and its
    classifier, when it has one and `layers` holds `predictions`.
    """

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
    if model.classifier is not None and "predictions" in layers:
        model.classifier.set_weights(layers["predictions"].get_weights())


# -- pretrained weights (`weights=`, zoo/models/_pretrained.py) ----------------

# keras.applications' ImageNet weights of the v1 ResNets: where its
# `ResNet50/101/152(weights="imagenet")` downloads them from, and the md5 of
# each file, (with top, without top), as keras/src/applications/resnet.py.
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_WEIGHTS_HASHES = {
    50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
# BatchNormalization epsilon of each source: keras.applications' v1 and
# torchvision/timm's v1.5 (`ResNet`'s defaults for each layout).
_IMAGENET_EPSILON = 1.001e-5
_TORCH_EPSILON = 1e-5


def keras_weights_file(depth, include_top):
    """keras.applications' file name of the ImageNet weights of ResNet-`depth` (v1)."""
    return f"resnet{depth}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def _depth_of(name):
    return int(name.removeprefix("resnet"))


def _pretrained_overrides(name, weights, overrides):
    """`ResNet.pretrained_overrides`: the layout the weights were trained in."""
    depth = _depth_of(name)
    bottleneck = RESNET_SPECS[depth]["block"] == "bottleneck"
    imagenet = weights == "imagenet"
    # keras.applications' weights are v1 (stride on the 1x1 convolution);
    # torchvision's and timm's are v1.5 (on the 3x3). Basic blocks have no
    # 1x1 convolution: there the argument changes nothing.
    wanted = imagenet
    given = overrides.get("stride_in_1x1", wanted)
    if bottleneck and given is not wanted:
        source = ("keras.applications' ImageNet weights are ResNet v1" if imagenet else
                  f"a PyTorch state dict ({weights.path}) is torchvision/timm's ResNet v1.5")
        raise ValueError(
            f"{name} with weights={'imagenet' if imagenet else weights.path!r} needs "
            f"stride_in_1x1={wanted}: {source}; received stride_in_1x1={given!r}")
    if bottleneck:
        overrides["stride_in_1x1"] = wanted
    overrides.setdefault("bn_epsilon", _IMAGENET_EPSILON if imagenet else _TORCH_EPSILON)
    fc = None if imagenet else weights.get("fc.weight")
    head = overrides.get("include_top", True) and not overrides.get("features_only", False)
    if fc is not None and head and "num_classes" not in overrides and np.ndim(fc) == 2:
        # The file's own head, whatever its classes (a fine-tuned checkpoint).
        overrides["num_classes"] = int(np.shape(fc)[0])
    return overrides


def _check_rgb(model, weights):
    if model.input_channels != 3:
        raise ValueError(
            f"{model.name} with weights={weights!r} takes RGB images (3 channels), "
            f"received input_shape={model.input_shape_} (data_format={model.data_format!r})")


def _load_pretrained(model, weights):
    """`ResNet.load_pretrained`."""
    if weights == "imagenet":
        _check_rgb(model, "imagenet")
        _load_imagenet(model)
    else:
        _load_state_dict(model, weights)


def _load_imagenet(model):
    """keras.applications' ImageNet weights into `model` (a v1 ResNet-50/101/152).

    The file with the top when the model has a 1000-class head, else the
    one without (the head stays freshly initialized); loaded into
    `keras.applications.ResNet*` built with `weights=None`, then copied as
    `from_keras_applications` does.
    """
    top = model.classifier is not None and model.num_classes == 1000
    file_name = keras_weights_file(model.depth, top)
    what = f"ImageNet weights of keras.applications.ResNet{model.depth}"
    path = _pretrained.cached_file(file_name, KERAS_WEIGHTS_URL + file_name,
                                   KERAS_WEIGHTS_HASHES[model.depth][0 if top else 1], what)
    application = getattr(keras.applications, f"ResNet{model.depth}")
    keras_model = application(weights=None, include_top=top)
    _pretrained.load_keras_weights(keras_model, path, what)
    _copy_keras_applications(model, {layer.name: layer for layer in keras_model.layers})


def _torch_names(model):
    """(PyTorch state-dict name, variable, layout) for every weight of `model`'s body.

    torchvision's and timm's names: `conv1`/`bn1` (stem), `layer<s>.<i>.conv<n>`
    / `.bn<n>` (block i-1 of stage s), `layer<s>.<i>.downsample.0/.1`
    (projection shortcut).
    """
    pairs = []

    def unit(conv_name, bn_name, conv_bn):
        pairs.append((f"{conv_name}.weight", conv_bn.conv.kernel, "conv2d"))
        bn = conv_bn.bn
        for suffix, variable in (("weight", bn.gamma), ("bias", bn.beta),
                                 ("running_mean", bn.moving_mean),
                                 ("running_var", bn.moving_variance)):
            pairs.append((f"{bn_name}.{suffix}", variable, "vector"))

    unit("conv1", "bn1", model.stem[0])
    for block in model.blocks:
        stage, index = block.name.removeprefix("stage").split("_block")
        prefix = f"layer{stage}.{int(index) - 1}"
        for number, conv_bn in enumerate(block.branch, 1):
            unit(f"{prefix}.conv{number}", f"{prefix}.bn{number}", conv_bn)
        if block.shortcut is not None:
            unit(f"{prefix}.downsample.0", f"{prefix}.downsample.1", block.shortcut)
    return pairs


def _load_state_dict(model, state_dict):
    """A torchvision/timm ResNet state dict into `model` (ImageNet layout, v1.5).

    The head (`fc.weight`, `fc.bias`) is loaded when the model has one of
    the file's shape; otherwise (another `num_classes`, `include_top=False`,
    `features_only`) it is left out, and so are the stages a `features_only`
    model does not compute.
    """
    pairs = _torch_names(model)
    unused = []
    fc = state_dict.get("fc.weight")
    if model.classifier is not None and fc is not None and np.ndim(fc) == 2 \
            and np.shape(fc)[0] == model.num_classes:
        pairs += [("fc.weight", model.classifier.kernel, "dense"),
                  ("fc.bias", model.classifier.bias, "vector")]
    else:
        unused += ["fc.weight", "fc.bias"]
    built = {int(block.name.removeprefix("stage").split("_block")[0]) for block in model.blocks}
    stages = range(1, len(RESNET_SPECS[model.depth]["blocks"]) + 1)
    skipped = tuple(f"layer{stage}." for stage in stages if stage not in built)
    unused += [name for name in state_dict if skipped and name.startswith(skipped)]
    _pretrained.assign_state_dict(state_dict, pairs, model.name, unused)
    features = RESNET_SPECS[model.depth]["filters"][-1] * \
        _BLOCKS[RESNET_SPECS[model.depth]["block"]].expansion
    if fc is not None and (np.ndim(fc) != 2 or np.shape(fc)[1] != features):
        # A replaced head still tells the architecture: its input is the body's output.
        # (Raised after loading: the model, never returned, is dropped.)
        raise ValueError(
            f"weights file {state_dict.path!r} does not fit {model.name}: tensor 'fc.weight' "
            f"has shape {tuple(np.shape(fc))}, expected (num_classes, {features})")


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
