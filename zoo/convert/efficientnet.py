"""EfficientNet weights: keras.applications' `EfficientNetB0` .. `EfficientNetB7`.

keras' Rescaling and Normalization layers have no zoo twin: their work is
the records' preprocessing (`zoo.models._efficientnet.imagenet_preprocessing`).
"""

import re

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
from zoo.models.efficientnet import EFFICIENTNET_SPECS, EfficientNet, architecture

FAMILY = EfficientNet

_UNITS = {"expand": ("expand_conv", "expand_bn"), "depthwise": ("dwconv", "bn"),
          "project": ("project_conv", "project_bn")}


def block_prefix(stage, block):
    """keras.applications' name prefix of block `block` (1, 2, ...) of stage `stage`."""
    return f"block{stage}{chr(96 + block)}_"


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

# As keras/src/applications/efficientnet.py: BASE_WEIGHTS_PATH, WEIGHTS_HASHES (top, no top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/keras-applications/"
KERAS_WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}


def keras_weights_file(variant, include_top):
    """keras.applications' file name of the ImageNet weights of `variant`.

    Example:
    >>> keras_weights_file("b3", True), keras_weights_file("b3", False)
    ('efficientnetb3.h5', 'efficientnetb3_notop.h5')
    """
    return f"efficientnet{variant}{'' if include_top else '_notop'}.h5"


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered model `name` (`zoo.model_info`)."""
    variant = name.removeprefix("efficientnet_")
    file_name = keras_weights_file(variant, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[variant][0]}}


def widths(architecture, variant):
    """(stem, blocks per stage, stage widths, head) of `variant`: what a keras model shows."""
    spec = architecture(variant)
    return (spec["stem"], [row[2] for row in spec["stages"]],
            [row[3] for row in spec["stages"]], spec["head"])


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo EfficientNet matching a keras.applications EfficientNetB0..B7, weights copied.

    The variant, head, input shape, BatchNorm, dropout and drop-connect
    rates are read from `keras_model`; `overrides` are `EfficientNet`
    arguments to set differently (ones that change weights make the copy
    fail). keras' in-model preprocessing is left out: feed the zoo model
    preprocessed pixels (the variant's record).

    Example:
    >>> k = keras.applications.EfficientNetB0(weights=None, input_shape=(64, 96, 3),
    ...                                       include_top=False)
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.variant, model.count_params() == k.count_params() - 7  # no Normalization
    ('b0', True)
    """
    source = KerasWeights(keras_model, "EfficientNetB0..B7")
    stem_bn = source.layer("stem_bn", keras.layers.BatchNormalization)
    blocks = [name for name in source.layers if re.fullmatch(r"block\d+[a-z]_project_conv", name)]
    found = (source.layer("stem_conv", keras.layers.Conv2D).filters,
             [sum(name.startswith(f"block{s}") for name in blocks) for s in range(1, 8)],
             [source.layer(f"{block_prefix(s, 1)}project_conv", keras.layers.Conv2D).filters
              for s in range(1, 8)],
             source.layer("top_conv", keras.layers.Conv2D).filters)
    variants = [v for v in EFFICIENTNET_SPECS if widths(architecture, v) == found]
    if not variants:
        raise ValueError(
            f"keras_model's widths and depths (stem {found[0]}, blocks per stage {found[1]}, "
            f"stage widths {found[2]}, head {found[3]}) match no variant of "
            f"{list(EFFICIENTNET_SPECS)}; received keras_model={_validation.preview(keras_model)}")
    kwargs = keras_image_kwargs(keras_model, source.layers, stem_bn)
    drops = [(blocks.index(name.replace("_drop", "_project_conv")), layer.rate)
             for name, layer in source.layers.items() if re.fullmatch(r"block\d+[a-z]_drop", name)]
    # Block b of n drops with rate `drop_connect_rate * b / n`; none at all at rate 0.
    kwargs["drop_connect_rate"] = drops[-1][1] * len(blocks) / drops[-1][0] if drops else 0.0
    if kwargs["include_top"]:
        top = source.layers.get("top_dropout")
        kwargs["dropout"] = top.rate if top is not None else 0.0
    model = EfficientNet(**{"variant": variants[0], **kwargs, **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights for the model's variant (with top at 1,000 classes)."""
    variant, top = model.get_config()["variant"], _files.imagenet_top(model)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, f"EfficientNet{variant.upper()}",
                               KERAS_WEIGHTS_URL, keras_weights_file(variant, top),
                               KERAS_WEIGHTS_HASHES[variant][0 if top else 1], top)
