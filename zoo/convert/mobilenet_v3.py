"""MobileNetV3 weights: keras.applications' `MobileNetV3Small` and `MobileNetV3Large`.

keras' Rescaling layer has no zoo twin: its work is the records' preprocessing
("tf" mode). keras' head convolutions on the pooled 1x1 map (`conv_2`,
`logits`) are Dense layers here (`pre_logits`, `classifier`): same weights, 1x1 axes dropped.
"""

import keras

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_CONV_BN, KERAS_DENSE, KerasWeights, assign, \
    keras_image_kwargs
from zoo.models.mobilenet_v3 import (HEAD_FILTERS, SPECS, UNPUBLISHED, VARIANTS, MobileNetV3,
                                      blocks)
from zoo.models._image import make_divisible

FAMILY = MobileNetV3


def _prefix(number):
    """keras.applications' name prefix of inverted residual block `number` (0, 1, ...)."""
    return "expanded_conv_" if number == 0 else f"expanded_conv_{number}_"


def _table(size):
    """zoo layer -> keras.applications' layers; keras numbers blocks over all stages."""
    first = [sum(len(row[-1]) for row in SPECS[size][:stage]) for stage in range(len(SPECS[size]))]

    def prefix(stage, block):
        return _prefix(first[stage - 1] + block - 1)

    se = {"reduce": "squeeze_excite_conv", "expand": "squeeze_excite_conv_1"}
    return [
        (r"stem_conv", ("conv", "conv_bn"), KERAS_CONV_BN),
        (r"stage(\d+)_block(\d+)/(expand|depthwise|project)",
         lambda s, b, unit: (prefix(s, b) + unit, f"{prefix(s, b)}{unit}_bn"), KERAS_CONV_BN),
        (r"stage(\d+)_block(\d+)/se/(reduce|expand)",
         lambda s, b, conv: (prefix(s, b) + se[conv],), KERAS_DENSE),  # kernel and bias
        (r"head_conv", ("conv_1", "conv_1_bn"), KERAS_CONV_BN),
        (r"pre_logits", ("conv_2",), KERAS_DENSE),  # 1x1 convolutions here: HeadConvWeights
        (r"classifier", ("logits",), KERAS_DENSE),
    ]


# size -> zoo layer -> keras.applications' layers.
KERAS_APPLICATIONS = {size: _table(size) for size in SPECS}


class HeadConvWeights(KerasWeights):
    """keras' model as a source, its 1x1 head convolutions read as Dense kernels."""

    def tensor(self, name, variable, owner, model):
        layer, _, weight = name.rpartition("/")
        if layer not in ("conv_2", "logits"):
            return super().tensor(name, variable, owner, model)
        self.layer(layer, keras.layers.Conv2D)
        value = super().tensor(name, variable, None, model)
        return value.reshape(value.shape[-2:]) if weight == "kernel" else value


# As keras/src/applications/mobilenet_v3.py: BASE_WEIGHT_PATH, WEIGHTS_HASHES (top, no top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
KERAS_WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb",
                             "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7",
                            "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c",
                                         "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7",
                             "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862",
                            "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37",
                                         "cde8136e733e811080d9fcd8a252f7e4"),
}
# Alphas tried, in order, to tell a keras model's widths: the published ones first.
ALPHAS = (1.0, 0.75, *(i / 20 for i in range(1, 41)))


def keras_weights_key(size, alpha, minimalistic):
    """keras.applications' `model_name` of the weights (a key of `KERAS_WEIGHTS_HASHES`).

    Example:
    >>> keras_weights_key("small", 0.75, False), keras_weights_key("large", 1.0, True)
    ('small_224_0.75_float', 'large_minimalistic_224_1.0_float')
    """
    return f"{size}{'_minimalistic' if minimalistic else ''}_224_{float(alpha)}_float"


def keras_weights_file(key, include_top):
    """keras.applications' file name of the weights `key` (with or without the top)."""
    return f"weights_mobilenet_v3_{key}{'' if include_top else '_no_top_v2'}.h5"


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered model `name` (`zoo.model_info`)."""
    if name in UNPUBLISHED:
        return {}
    key = keras_weights_key(*VARIANTS[name][:3])
    file_name = keras_weights_file(key, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[key][0]}}


def _widths(size, alpha, minimalistic, top):
    """What a keras model shows of a variant: block and hidden widths, head conv (and top)."""
    rows = blocks(size, alpha, minimalistic)
    head = HEAD_FILTERS[size]
    return ([row[1] for row in rows], [row[2] for row in rows], make_divisible(rows[-1][1] * 6),
            (make_divisible(head * alpha) if alpha > 1 else head) if top else None)


def from_keras_applications(keras_model, **overrides):
    """The zoo MobileNetV3 matching a keras.applications MobileNetV3Small/Large, weights copied.

    Size, width, minimalism, head, input shape, BatchNorm and dropout are
    read from `keras_model`; `overrides` are `MobileNetV3` arguments to set
    differently (ones that change weights make the copy fail). keras'
    Rescaling is left out: feed the zoo model pixels scaled to [-1, 1].

    Example:
    >>> k = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 96, 3),
    ...                                         alpha=0.75, include_top=False)
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.name, model.count_params() == k.count_params()
    ('mobilenet_v3_small_075', True)
    """
    source = HeadConvWeights(keras_model, "MobileNetV3Small/Large")
    stem_bn = source.layer("conv_bn", keras.layers.BatchNormalization)
    count = sum(name.startswith("expanded_conv_") and name.endswith("project")
                for name in source.layers)
    size = {sum(len(row[-1]) for row in rows): s for s, rows in SPECS.items()}.get(count)
    minimalistic = not any(name.endswith("squeeze_excite_conv") for name in source.layers)
    top = "logits" in source.layers
    projects = [source.layer(f"{_prefix(n)}project", keras.layers.Conv2D) for n in range(count)]
    found = ([p.filters for p in projects], [p.kernel.shape[-2] for p in projects],
             source.layer("conv_1", keras.layers.Conv2D).filters,
             source.layer("conv_2", keras.layers.Conv2D).filters if top else None)
    alphas = [a for a in ALPHAS if size and _widths(size, a, minimalistic, top) == found]
    if not alphas:
        raise ValueError(
            f"keras_model's {count} blocks (widths, hidden widths, head convs: {found}) match "
            f"no MobileNetV3Small (11 blocks) or MobileNetV3Large (15) at an alpha of "
            f"{list(ALPHAS)}; received keras_model={_validation.preview(keras_model)}")
    layers = {name: layer for name, layer in source.layers.items() if name != "predictions"}
    kwargs = keras_image_kwargs(keras_model, layers, stem_bn)
    logits = source.layers.get("logits")
    if logits is not None:
        kwargs.update(include_top=True, pooling=None, num_classes=logits.filters,
                      classifier_activation=_validation.activation_of(
                          source.layers.get("predictions")),
                      dropout=next((layer.rate for layer in source.layers.values()
                                    if isinstance(layer, keras.layers.Dropout)), 0.0))
    model = MobileNetV3(**{"size": size, "alpha": alphas[0], "minimalistic": minimalistic,
                           **kwargs, **overrides})
    assign(model, source, KERAS_APPLICATIONS[size], strict=False)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights for the model's size, width and minimalism.

    A model with a head takes the file with the top, whose `conv_2` is its
    `pre_logits`; its classifier keeps its own weights unless it has 1,000 classes.
    """
    config, top = model.get_config(), _files.imagenet_top(model)
    key = keras_weights_key(config["size"], config["alpha"], config["minimalistic"])
    if key not in KERAS_WEIGHTS_HASHES:
        raise ValueError(
            f"keras.applications publishes no ImageNet weights for MobileNetV3 {key!r}, "
            f"received size={config['size']!r}, alpha={config['alpha']}, minimalistic="
            f"{config['minimalistic']}; published: {sorted(KERAS_WEIGHTS_HASHES)}")
    application, head = f"MobileNetV3{config['size'].title()}", config["include_top"]
    keras_model = _files.keras_application(
        getattr(keras.applications, application), KERAS_WEIGHTS_URL,
        keras_weights_file(key, head), KERAS_WEIGHTS_HASHES[key][0 if head else 1],
        f"ImageNet weights of keras.applications.{application} ({key})", include_top=head,
        alpha=config["alpha"], minimalistic=config["minimalistic"])
    assign(model, HeadConvWeights(keras_model, application), KERAS_APPLICATIONS[config["size"]],
           skip=() if top else ("classifier",), strict=False)
