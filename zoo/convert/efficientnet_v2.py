"""EfficientNetV2 weights: keras.applications' `EfficientNetV2B0` .. `B3`, `S`, `M`, `L`.

keras' Rescaling (and, for B0-B3, Normalization) layers hold no weights: their work is the
records' preprocessing (`zoo.models._efficientnet.imagenet_preprocessing`).
"""

import re

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
from zoo.convert.efficientnet import block_prefix, widths
from zoo.models.efficientnet_v2 import EFFICIENTNET_V2_SPECS, EfficientNetV2, architecture

FAMILY = EfficientNetV2

# MBConv's depthwise unit is keras' "dwconv2" here (V1: "dwconv").
_UNITS = {"expand": ("expand_conv", "expand_bn"), "depthwise": ("dwconv2", "bn"),
          "project": ("project_conv", "project_bn")}

# zoo layer -> keras.applications' layers.
KERAS_APPLICATIONS = [
    (r"stem_conv", ("stem_conv", "stem_bn"), KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/(expand|depthwise|project)",
     lambda s, b, unit: tuple(block_prefix(s, b) + name for name in _UNITS[unit]), KERAS_CONV_BN),
    (r"stage(\d+)_block(\d+)/se/(reduce|expand)",
     lambda s, b, conv: (f"{block_prefix(s, b)}se_{conv}",), KERAS_DENSE),  # kernel and bias
    (r"head_conv", ("top_conv", "top_bn"), KERAS_CONV_BN),
    (r"classifier", ("predictions",), KERAS_DENSE),
]

# As keras/src/applications/efficientnet_v2.py: BASE_WEIGHTS_PATH, WEIGHTS_HASHES (top, no
# top; keras keys S, M, L as "-s", "-m", "-l").
KERAS_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                     "efficientnet_v2/")
KERAS_WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}


def keras_weights_file(variant, include_top):
    """keras.applications' file name of the ImageNet weights of `variant`.

    Example:
    >>> keras_weights_file("b3", True), keras_weights_file("s", False)
    ('efficientnetv2-b3.h5', 'efficientnetv2-s_notop.h5')
    """
    return f"efficientnetv2-{variant}{'' if include_top else '_notop'}.h5"


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered model `name` (`zoo.model_info`)."""
    variant = name.removeprefix("efficientnet_v2_")
    file_name = keras_weights_file(variant, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[variant][0]}}


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo EfficientNetV2 matching a keras.applications EfficientNetV2*, weights copied.

    The variant, head, input shape, BatchNorm, dropout and drop-connect
    rates are read from `keras_model`; `overrides` are `EfficientNetV2`
    arguments to set differently (ones that change weights make the copy
    fail). keras' in-model preprocessing is left out: feed the zoo model
    preprocessed pixels (the variant's record).

    Example:
    >>> k = keras.applications.EfficientNetV2B0(weights=None, input_shape=(64, 96, 3),
    ...                                         include_top=False)
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.variant, model.count_params() == k.count_params()
    ('b0', True)
    """
    source = KerasWeights(keras_model, "EfficientNetV2B0..B3, S, M or L")
    stem_bn = source.layer("stem_bn", keras.layers.BatchNormalization)
    blocks = [name for name in source.layers if re.fullmatch(r"block\d+[a-z]_project_conv", name)]
    counts = [sum(name.startswith(f"block{s}") for name in blocks) for s in range(1, 10)]
    counts = counts[:counts.index(0)] if 0 in counts else counts
    found = (source.layer("stem_conv", keras.layers.Conv2D).filters, counts,
             [source.layer(f"{block_prefix(s, 1)}project_conv", keras.layers.Conv2D).filters
              for s in range(1, len(counts) + 1)],
             source.layer("top_conv", keras.layers.Conv2D).filters)
    variants = [v for v in EFFICIENTNET_V2_SPECS if widths(architecture, v) == found]
    if not variants:
        raise ValueError(
            f"keras_model's widths and depths (stem {found[0]}, blocks per stage {found[1]}, "
            f"stage widths {found[2]}, head {found[3]}) match no variant of "
            f"{list(EFFICIENTNET_V2_SPECS)}; received "
            f"keras_model={_validation.preview(keras_model)}")
    kwargs = keras_image_kwargs(keras_model, source.layers, stem_bn)
    drops = [(blocks.index(name.replace("_drop", "_project_conv")), layer.rate)
             for name, layer in source.layers.items() if re.fullmatch(r"block\d+[a-z]_drop", name)]
    # Block b drops with rate `drop_connect_rate * b / n`, n the blocks before depth scaling.
    unscaled = architecture(variants[0])["drop_divisor"]
    kwargs["drop_connect_rate"] = drops[-1][1] * unscaled / drops[-1][0] if drops else 0.0
    if kwargs["include_top"]:
        top = source.layers.get("top_dropout")
        kwargs["dropout"] = top.rate if top is not None else 0.0
    model = EfficientNetV2(**{"variant": variants[0], **kwargs, **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights for the model's variant (with top at 1,000 classes)."""
    variant, top = model.get_config()["variant"], _files.imagenet_top(model)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, f"EfficientNetV2{variant.upper()}",
                               KERAS_WEIGHTS_URL, keras_weights_file(variant, top),
                               KERAS_WEIGHTS_HASHES[variant][0 if top else 1], top)
