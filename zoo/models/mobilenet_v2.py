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
POOLINGS = (None, "avg", "max")
_DEFAULT_IMAGE_SIZE = 224


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


def _widths(alpha):
    """(stem, [blocks], head conv) widths: the head is only ever widened."""
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
        num_classes: int. Size of the classification head.
        include_top: bool. Add global pooling and the dense head. `False`
            returns the last feature map (or its pooling, see `pooling`).
            Ignored with `features_only=True` (set to False: no head).
        pooling: None, `"avg"` or `"max"`. Global pooling of the last feature
            map when `include_top=False`; with `include_top=True` the head
            pools with this (default `"avg"`). Must be None with
            `features_only=True`.
        input_shape: tuple of 3 ints (or None for height/width), in
            `data_format` order, e.g. `(32, 32, 1)`. Any channel count and
            any size (each stride-2 layer gives `ceil(size / 2)`). `None`
            means `(224, 224, 3)`.
        data_format: str or None. `"channels_last"` or `"channels_first"`;
            `None` uses `keras.config.image_data_format()`.
        dropout: float in [0, 1). Dropout before the classifier (0:
            none, as `keras.applications`; the reference TensorFlow models
            used 0.2 on ImageNet).
        classifier_activation: str or None. Activation of the head; `None`
            returns logits (use `from_logits=True` losses).
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon (default
            `keras.applications`').
        bn_synchronized: bool. Batch statistics over all replicas of a
            `tf.distribute` strategy (SyncBatchNorm); `python -m zoo.train`
            turns it on when it trains on more than one replica.
            TensorFlow backend only.
        features_only: bool. Return a dict of feature maps, one per stage
            of `out_stages` (see "Feature maps"), instead of the head's
            output. The model then has no head convolution, pooling or
            classifier, and no block after the last stage requested (nor
            their weights).
        out_stages: None, or a list or tuple of stage numbers (0-4) in
            increasing order, each once; only with `features_only=True`.
            None: all five, as timm's `features_only`.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

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

    Input shape:
        `(batch,) + input_shape`.

    Output shape:
        `(batch, num_classes)` with `include_top`; otherwise the last feature
        map `(batch, h, w, c)` (channels_last) or `(batch, c)` with pooling.
        With `features_only=True`, a dict `{"stage<k>": (batch, h_k, w_k,
        c_k)}` in stage order.

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
    # The digits recipe of `python -m zoo.train` (alpha 1.0, 32x32, cosine
    # decay, seed 0; README), measured on 2-core CPUs: SGD (Nesterov) at 0.1
    # with decay 5e-4, ResNet's recipe, reached 95.8% test accuracy after 15
    # epochs, 96.9% after 30 and 97.8% after 40 (97.2-98.1% over its last
    # 12 epochs); AdamW at 2e-3 reached 94.4% after 15 epochs (decay 1e-4)
    # and 96.7-97.2% over the last epochs of 30 (decay 0.05). The ~1,440
    # training images are fitted long before: more steps is what helps.
    training_defaults = {"optimizer": "sgd", "learning_rate": 0.1,
                         "weight_decay": 5e-4, "epochs": 40}
    # Graph mode on CPUs, as `python -m benchmarks.xla` measured (alpha 1.0,
    # 32x32x3, batch 32, 2-core AMD EPYC without AVX-512; benchmarks/results/
    # extra/xla_cpu_epyc_avx2.md): 101 vs 19 examples/s with oneDNN, 108
    # vs 18 with Eigen (XLA 5-6x slower on the depthwise convolutions). GPU
    # and TPU: XLA, the base default (not measured here).
    xla_defaults = ImageClassifier.xla_defaults
    # `weights="imagenet"`: keras.applications' weights for every alpha of
    # `ALPHAS`, at the input size keras.applications picks (`imagenet_size`).
    pretrained_weights = {"mobilenet_v2": ("imagenet",)}

    def __init__(
        self,
        alpha=1.0,
        num_classes=1000,
        include_top=True,
        pooling=None,
        input_shape=None,
        data_format=None,
        dropout=0.0,
        classifier_activation=None,
        # Keras' usual 0.9 (torchvision's 0.1), not keras.applications'
        # 0.999: with 0.999 the moving statistics average over ~1000 steps,
        # so a short run from scratch (digits: ~25 steps per epoch) evaluates
        # with statistics still near their initial values. 0.9 follows the
        # weights within ~10 steps; from_keras_applications takes Keras'
        # own value when it copies pretrained weights.
        bn_momentum=0.9,
        bn_epsilon=1e-3,
        bn_synchronized=False,
        features_only=False,
        out_stages=None,
        **kwargs,
    ):
        alpha = _alpha(alpha)
        # The registered name, whatever the width (alpha is in the config).
        kwargs.setdefault("name", "mobilenet_v2")
        super().__init__(**kwargs)
        self.alpha = alpha
        self._set_image_arguments(num_classes, include_top, pooling, POOLINGS, input_shape,
                                  data_format, _DEFAULT_IMAGE_SIZE)
        self.dropout = _validation.fraction("dropout", dropout)
        self.classifier_activation = _validation.activation(
            classifier_activation, "classifier_activation")
        self.bn_momentum = _validation.bn_momentum(bn_momentum)
        self.bn_epsilon = _validation.bn_epsilon(bn_epsilon)
        self.bn_synchronized = _validation.bn_synchronized(bn_synchronized)
        stem_filters, block_widths, head_filters = _widths(alpha)
        returned = self._set_feature_arguments(features_only, out_stages,
                                               self._feature_stages(block_widths))
        # The last block computed: blocks after it are not created.
        last_block = self.feature_info[-1]["layer"] if returned else None
        if self.include_top:
            _validation.weight_fits("num_classes", num_classes,
                                    (head_filters + 1) * self.num_classes,
                                    self.dtype_policy, "classifier")

        unit_args = {
            "data_format": self.compute_format,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
            "dtype": self.dtype_policy,
        }
        self.stem = ConvBN(stem_filters, 3, strides=2,
                           activation="relu6", padding="same", name="stem_conv", **unit_args)
        self.blocks = []
        widths = iter(block_widths)
        for stage, (expansion, _, repeats, stride) in enumerate(MOBILENET_V2_SPECS, 1):
            for index in range(1, repeats + 1):
                if self.blocks and self.blocks[-1].name == last_block:
                    break  # (and at once in every later stage)
                self.blocks.append(InvertedResidual(
                    next(widths), strides=stride if index == 1 else 1, expansion=expansion,
                    padding="same", name=f"stage{stage}_block{index}", **unit_args))
        self.head_conv = None
        if not self.features_only:
            self.head_conv = ConvBN(head_filters, 1, activation="relu6", name="head_conv",
                                    **unit_args)

        head_pooling = self.pooling or ("avg" if self.include_top else None)
        pool_class = {"avg": keras.layers.GlobalAveragePooling2D,
                      "max": keras.layers.GlobalMaxPooling2D}.get(head_pooling)
        self.pool = (pool_class(data_format=self.compute_format, name=f"{head_pooling}_pool",
                                dtype=self.dtype_policy)
                     if pool_class else None)
        self.dropout_layer = None
        self.classifier = None
        self.predictions = None
        if self.include_top:
            if self.dropout > 0:
                self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout",
                                                          dtype=self.dtype_policy)
            self.classifier = keras.layers.Dense(
                self.num_classes, name="classifier", dtype=self.dtype_policy)
            self.predictions = self._predictions_layer(self.classifier_activation)
        self.build((None,) + self.input_shape_)

    @staticmethod
    def _feature_stages(block_widths):
        """Every stage's feature map (see "Feature maps"), from the blocks' widths."""
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

    def _layers_in_order(self):
        return [self.stem, *self.blocks, self.head_conv, self.pool, self.dropout_layer,
                self.classifier, self.predictions]

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "num_classes": self.num_classes,
            "include_top": self.include_top,
            "pooling": self.pooling,
            "input_shape": self.input_shape_,
            "data_format": self.data_format,
            "dropout": self.dropout,
            "classifier_activation": self.classifier_activation,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
            "features_only": self.features_only,
            "out_stages": self.out_stages,
        }

    def load_pretrained(self, weights):
        """Loads keras.applications' ImageNet weights (`weights="imagenet"`)."""
        _load_imagenet(self)


def _keras_prefix(block_number):
    """keras.applications' name prefix of inverted residual block `block_number` (0-16)."""
    return "expanded_conv_" if block_number == 0 else f"block_{block_number}_"


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo MobileNetV2 matching a `keras.applications.MobileNetV2`.

    Reads alpha (from the stem's width), input shape, data format, head
    (classes, activation), `include_top` and pooling from `keras_model`,
    builds the zoo model with the same BatchNormalization momentum and
    epsilon, and copies every weight by keras.applications' layer names
    (`Conv1`/`bn_Conv1`, `expanded_conv_depthwise`, `block_1_expand`, ...,
    `Conv_1_bn`, `predictions`). Both then give the same outputs.

    Args:
        keras_model: a `keras.applications.MobileNetV2` instance, with or
            without its top.
        **overrides: `MobileNetV2` arguments to set differently, e.g.
            `dropout=0.2` or `bn_momentum=0.9` for fine-tuning, `name`.
            Arguments that change weights (alpha, num_classes, ...) make
            the copy fail.

    Returns:
        A built `MobileNetV2` with the weights of `keras_model`.

    Raises:
        ValueError: `keras_model` is not a keras.applications MobileNetV2;
            the message names the first layer that is missing or does not
            fit.

    Example:
    >>> k = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(64, 64, 3))
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.alpha, model.count_params() == k.count_params()
    (0.35, True)
    """
    layers = {layer.name: layer for layer in getattr(keras_model, "layers", [])}
    layer = _layer_lookup(keras_model)
    stem_bn = layer("bn_Conv1", keras.layers.BatchNormalization)
    found = (layer("Conv1", keras.layers.Conv2D).filters,
             [layer(f"{_keras_prefix(n)}project", keras.layers.Conv2D).filters
              for n in range(len(_block_widths(1.0)))],
             layer("Conv_1", keras.layers.Conv2D).filters)
    # Every width together tells the alphas apart (0.35 and 0.5 have the
    # same stem and first block).
    alphas = [a for a in ALPHAS if _widths(a) == found]
    if not alphas:
        raise ValueError(
            f"keras_model's widths (stem {found[0]}, blocks {found[1]}, head {found[2]}) "
            f"match no alpha of {list(ALPHAS)}; received keras_model="
            f"{_validation.preview(keras_model)}")
    data_format = "channels_first" if stem_bn.axis in (1, [1]) else "channels_last"
    head = layers.get("predictions")
    pooling = None
    if head is None:
        kinds = {type(x) for x in layers.values()}
        pooling = "avg" if keras.layers.GlobalAveragePooling2D in kinds else \
            "max" if keras.layers.GlobalMaxPooling2D in kinds else None
    model = MobileNetV2(**{
        "alpha": alphas[0],
        "num_classes": head.units if head is not None else 1000,
        "include_top": head is not None,
        "pooling": pooling,
        "input_shape": tuple(keras_model.input_shape[1:]),
        "data_format": data_format,
        "classifier_activation": _validation.activation_of(head),
        "bn_momentum": stem_bn.momentum,
        "bn_epsilon": stem_bn.epsilon,
        **overrides,
    })
    _copy_weights(model, layer)
    return model


def _layer_lookup(keras_model):
    """`layer(name, kind)`: `keras_model`'s layer `name`, or a ValueError naming it."""
    layers = {layer.name: layer for layer in getattr(keras_model, "layers", [])}

    def layer(name, kind):
        found = layers.get(name)
        if not isinstance(found, kind):
            what = "missing" if found is None else f"a {type(found).__name__}"
            raise ValueError(
                f"keras_model must be a keras.applications MobileNetV2: its layer {name!r} "
                f"is {what}, not a {kind.__name__}; received keras_model="
                f"{_validation.preview(keras_model)}")
        return found

    return layer


def _copy_weights(model, layer, head=True):
    """Copies keras.applications' weights into `model`, unit by unit, by name.

    Every unit the model has (a `features_only` model has fewer), and its
    classifier when it has one and `head` is true.
    """

    def copy_unit(unit, conv_name, bn_name):
        kind = keras.layers.DepthwiseConv2D if unit.depthwise else keras.layers.Conv2D
        conv, bn = layer(conv_name, kind), layer(bn_name, keras.layers.BatchNormalization)
        for source, target in ((conv, unit.conv), (bn, unit.bn)):
            weights = source.get_weights()
            shapes = [w.shape for w in weights]
            if shapes != [tuple(w.shape) for w in target.weights]:
                raise ValueError(
                    f"keras_model's layer {source.name!r} has weights of shapes {shapes}, "
                    f"which do not fit {target.path!r} "
                    f"({[tuple(w.shape) for w in target.weights]})")
            target.set_weights(weights)

    copy_unit(model.stem, "Conv1", "bn_Conv1")
    for number, block in enumerate(model.blocks):
        prefix = _keras_prefix(number)
        if block.expand is not None:
            copy_unit(block.expand, f"{prefix}expand", f"{prefix}expand_BN")
        copy_unit(block.depthwise, f"{prefix}depthwise", f"{prefix}depthwise_BN")
        copy_unit(block.project, f"{prefix}project", f"{prefix}project_BN")
    if model.head_conv is not None:
        copy_unit(model.head_conv, "Conv_1", "Conv_1_bn")
    if model.classifier is not None and head:
        model.classifier.set_weights(layer("predictions", keras.layers.Dense).get_weights())


# -- pretrained weights (`weights=`, zoo/models/_pretrained.py) ----------------

# Where keras.applications' `MobileNetV2(weights="imagenet")` downloads from
# (keras/src/applications/mobilenet_v2.py): one file per alpha (`ALPHAS`) and
# training resolution, with and without the top.
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
IMAGENET_SIZES = (96, 128, 160, 192, 224)
# The md5 of each file, as keras.applications records it: none. Keras 3's
# keras/src/applications/mobilenet_v2.py and keras-team/keras-applications'
# mobilenet_v2.py call get_file without a hash, and no hash of these files
# from their publishers was found elsewhere. So each load checks the file's
# structure and warns that it is unverified
# (`_pretrained.load_keras_weights(..., hash_published=False)`).
KERAS_WEIGHTS_HASHES = {}


def keras_weights_file(alpha, size, include_top):
    """keras.applications' file name of the ImageNet weights for `alpha` at `size`."""
    return (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}"
            f"{'' if include_top else '_no_top'}.h5")


def imagenet_size(input_shape, data_format):
    """The training resolution whose weights keras.applications picks for an input.

    A square input of one of `IMAGENET_SIZES` gets the weights trained at
    that size; any other (or an unknown size), the 224 ones.

    Example:
    >>> imagenet_size((96, 96, 3), "channels_last"), imagenet_size((64, 64, 3), "channels_last")
    (96, 224)
    """
    rows, cols = input_shape[:2] if data_format == "channels_last" else input_shape[1:]
    return rows if rows == cols and rows in IMAGENET_SIZES else 224


def _load_imagenet(model):
    """keras.applications' ImageNet weights into `model` (`weights="imagenet"`).

    The file of the model's alpha and input size (`imagenet_size`), with the
    top when the model has a 1000-class head, else without (the head stays
    freshly initialized); loaded into `keras.applications.MobileNetV2`
    built with `weights=None`, then copied as `from_keras_applications`
    does.
    """
    if model.input_channels != 3:
        raise ValueError(
            f"{model.name} with weights='imagenet' takes RGB images (3 channels), "
            f"received input_shape={model.input_shape_} (data_format={model.data_format!r})")
    top = model.classifier is not None and model.num_classes == 1000
    size = imagenet_size(model.input_shape_, model.data_format)
    file_name = keras_weights_file(model.alpha, size, top)
    what = f"ImageNet weights of keras.applications.MobileNetV2 (alpha={model.alpha}, {size}x{size})"
    file_hash = KERAS_WEIGHTS_HASHES.get(file_name)
    path = _pretrained.cached_file(file_name, KERAS_WEIGHTS_URL + file_name, file_hash, what)
    keras_model = keras.applications.MobileNetV2(weights=None, alpha=model.alpha,
                                                 include_top=top)
    _pretrained.load_keras_weights(keras_model, path, what,
                                   hash_published=file_hash is not None)
    _copy_weights(model, _layer_lookup(keras_model), head=top)


@MobileNetV2.register
def mobilenet_v2(**kwargs):
    """MobileNetV2, width `alpha` (default 1.0): 3.5M parameters at 224x224, 1000 classes."""
    return MobileNetV2(**kwargs)
