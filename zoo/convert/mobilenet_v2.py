"""MobileNetV2 weights: keras.applications' `MobileNetV2`, every alpha of `ALPHAS`."""

import itertools

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
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


# zoo layer -> keras.applications' layers (blocks counted over all stages).
KERAS_APPLICATIONS = [
    (r"stem_conv", ("Conv1", "bn_Conv1"), KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/(expand|depthwise|project)", _keras_block_unit, KERAS_CONV_BN),
    (r"head_conv", ("Conv_1", "Conv_1_bn"), KERAS_CONV_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

# As keras/src/applications/mobilenet_v2.py: one file per alpha, size and top.
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
IMAGENET_SIZES = (96, 128, 160, 192, 224)
# keras.applications publishes no hash: each load checks the structure and warns.
KERAS_WEIGHTS_HASHES = {}


def keras_weights_file(alpha, size, include_top):
    """keras.applications' file name of the ImageNet weights for `alpha` at `size`."""
    return (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}"
            f"{'' if include_top else '_no_top'}.h5")


def weight_sources(name):
    """The file behind `weights="imagenet"` at alpha 1.0 and 224 (`zoo.model_info`)."""
    file_name = keras_weights_file(1.0, 224, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": None}}


def imagenet_size(input_shape, data_format):
    """The training resolution whose weights keras.applications picks for an input (else 224).

    Example:
    >>> imagenet_size((96, 96, 3), "channels_last"), imagenet_size((64, 64, 3), "channels_last")
    (96, 224)
    """
    rows, cols = input_shape[:2] if data_format == "channels_last" else input_shape[1:]
    return rows if rows == cols and rows in IMAGENET_SIZES else 224


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo MobileNetV2 matching a `keras.applications.MobileNetV2`, weights copied.

    `overrides` are `MobileNetV2` arguments to set differently; ones that
    change weights make the copy fail.

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
    # Only every width together tells 0.35 from 0.5.
    alphas = [a for a in ALPHAS if channel_widths(a) == found]
    if not alphas:
        raise ValueError(
            f"keras_model's widths (stem {found[0]}, blocks {found[1]}, head {found[2]}) match no "
            f"alpha of {list(ALPHAS)}; received keras_model={_validation.preview(keras_model)}")
    model = MobileNetV2(**{"alpha": alphas[0],
                           **keras_image_kwargs(keras_model, source.layers, stem_bn),
                           **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights for the model's alpha and size."""
    config, top = model.get_config(), _files.imagenet_top(model)
    alpha = config["alpha"]
    size = imagenet_size(config["input_shape"], config["data_format"])
    file_name = keras_weights_file(alpha, size, top)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, "MobileNetV2", KERAS_WEIGHTS_URL,
                               file_name, KERAS_WEIGHTS_HASHES.get(file_name), top,
                               f" (alpha={alpha}, {size}x{size})", alpha=alpha)
