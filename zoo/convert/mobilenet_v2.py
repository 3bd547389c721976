"""MobileNetV2 weights: keras.applications' `MobileNetV2`, every alpha of `ALPHAS`.

`weights="imagenet"` loads keras.applications' file (the one of the
model's alpha and input size) into its `MobileNetV2(weights=None)` and
copies it by `KERAS_APPLICATIONS`, which maps zoo layer paths.
"""

import itertools

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, check_rgb, \
    layer_names
from zoo.models.mobilenet_v2 import ALPHAS, MOBILENET_V2_SPECS, MobileNetV2, channel_widths

FAMILY = MobileNetV2

# The number (0-16) of the first block of each stage, as keras.applications counts.
_FIRST_BLOCK = tuple(itertools.accumulate((n for _, _, n, _ in MOBILENET_V2_SPECS), initial=0))


def _keras_prefix(number):
    """keras.applications' name prefix of inverted residual block `number` (0-16)."""
    return "expanded_conv_" if number == 0 else f"block_{number}_"


def _keras_block_unit(stage, block, unit):
    prefix = _keras_prefix(_FIRST_BLOCK[stage - 1] + block - 1)
    return f"{prefix}{unit}", f"{prefix}{unit}_BN"


# zoo layer -> keras.applications' layers: `Conv1`/`bn_Conv1` (stem),
# `block_<n>_expand`/`_expand_BN`, `_depthwise`/`_depthwise_BN`, `_project`/
# `_project_BN` (block n counted over all stages; block 0 is
# `expanded_conv_*`), `Conv_1`/`Conv_1_bn` (head convolution), `predictions`.
KERAS_APPLICATIONS = [
    (r"stem_conv", ("Conv1", "bn_Conv1"), KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/(expand|depthwise|project)", _keras_block_unit, KERAS_CONV_BN),
    (r"head_conv", ("Conv_1", "Conv_1_bn"), KERAS_CONV_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

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
# (`load_keras_weights(..., hash_published=False)`).
KERAS_WEIGHTS_HASHES = {}


def keras_weights_file(alpha, size, include_top):
    """keras.applications' file name of the ImageNet weights for `alpha` at `size`."""
    return (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}"
            f"{'' if include_top else '_no_top'}.h5")


def weight_sources(name):
    """The file behind `weights="imagenet"` at alpha 1.0 and 224 (`zoo.model_info`);
    other widths and sizes load their own (`keras_weights_file`)."""
    file_name = keras_weights_file(1.0, 224, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": None}}


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
    source = KerasWeights(keras_model, "MobileNetV2")
    stem_bn = source.layer("bn_Conv1", keras.layers.BatchNormalization)
    found = (source.layer("Conv1", keras.layers.Conv2D).filters,
             [source.layer(f"{_keras_prefix(n)}project", keras.layers.Conv2D).filters
              for n in range(_FIRST_BLOCK[-1])],
             source.layer("Conv_1", keras.layers.Conv2D).filters)
    # Every width together tells the alphas apart (0.35 and 0.5 have the
    # same stem and first block).
    alphas = [a for a in ALPHAS if channel_widths(a) == found]
    if not alphas:
        raise ValueError(
            f"keras_model's widths (stem {found[0]}, blocks {found[1]}, head {found[2]}) "
            f"match no alpha of {list(ALPHAS)}; received keras_model="
            f"{_validation.preview(keras_model)}")
    data_format = "channels_first" if stem_bn.axis in (1, [1]) else "channels_last"
    head = source.layers.get("predictions")
    pooling = None
    if head is None:
        kinds = {type(x) for x in source.layers.values()}
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
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights into `model` (`weights="imagenet"`).

    The file of the model's alpha and input size (`imagenet_size`), with the
    top when the model has a 1000-class head, else without (the head stays
    freshly initialized); loaded into `keras.applications.MobileNetV2`
    built with `weights=None`, then copied as `from_keras_applications`
    does.
    """
    check_rgb(model, "imagenet")
    config = model.get_config()
    alpha = config["alpha"]
    top = "classifier" in layer_names(model) and config["num_classes"] == 1000
    size = imagenet_size(config["input_shape"], config["data_format"])
    file_name = keras_weights_file(alpha, size, top)
    keras_model = _files.keras_application(
        keras.applications.MobileNetV2, KERAS_WEIGHTS_URL, file_name,
        KERAS_WEIGHTS_HASHES.get(file_name),
        f"ImageNet weights of keras.applications.MobileNetV2 (alpha={alpha}, {size}x{size})",
        alpha=alpha, include_top=top)
    assign(model, KerasWeights(keras_model, "MobileNetV2"), KERAS_APPLICATIONS,
           skip=() if top else ("classifier",), strict=False)
