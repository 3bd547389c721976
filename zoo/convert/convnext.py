"""ConvNeXt weights: keras.applications' `ConvNeXtTiny` .. `ConvNeXtXLarge`."""

import keras
import numpy as np

from zoo import _validation
from zoo.convert import _files
from zoo.convert._assign import KERAS_DENSE, KerasWeights, assign
from zoo.models.convnext import CONVNEXT_SPECS, KERAS_NAMES, ConvNeXt

FAMILY = ConvNeXt

_KERAS_LN = {"gamma": "{0}/gamma", "beta": "{0}/beta"}
_KERAS_BLOCK = "stage_{0}_block_{1}_{2}"

# zoo layer -> keras.applications' layer names without the model's prefix
# ("convnext_tiny_"); keras' stage i, block j (from 0) is the zoo's stage i+1, block j+1.
KERAS_APPLICATIONS = [
    (r"stem_conv", ("stem_conv",), KERAS_DENSE),
    (r"stem_norm", ("stem_layernorm",), _KERAS_LN),
    (r"stage(\d+)_downsample_norm", lambda s: (f"downsampling_layernorm_{s - 2}",), _KERAS_LN),
    (r"stage(\d+)_downsample_conv", lambda s: (f"downsampling_conv_{s - 2}",), KERAS_DENSE),
    (r"stage(\d+)_block(\d+)/depthwise",
     lambda s, b: (_KERAS_BLOCK.format(s - 1, b - 1, "depthwise_conv"),), KERAS_DENSE),
    (r"stage(\d+)_block(\d+)/norm",
     lambda s, b: (_KERAS_BLOCK.format(s - 1, b - 1, "layernorm"),), _KERAS_LN),
    (r"stage(\d+)_block(\d+)/pointwise(\d)",
     lambda s, b, n: (_KERAS_BLOCK.format(s - 1, b - 1, f"pointwise_conv_{n}"),), KERAS_DENSE),
    (r"stage(\d+)_block(\d+)/layer_scale",
     lambda s, b: (_KERAS_BLOCK.format(s - 1, b - 1, "layer_scale"),), {"gamma": "{0}/gamma"}),
    (r"head_norm", ("head_layernorm",), _KERAS_LN),
    (r"classifier", ("head_dense",), KERAS_DENSE),
]

# As keras/src/applications/convnext.py: sha256 (with top, without top).
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
KERAS_WEIGHTS_HASHES = {
    "tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
             "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
              "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
             "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
              "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
               "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}


class KerasConvNeXtWeights(KerasWeights):
    """keras.applications' ConvNeXt as a source: nested layers by name, prefix removed.

    The stem and downsamplings are nested `Sequential`s; the depthwise
    convolutions are `Conv2D(groups=channels)`, kernels (7, 7, 1, C), read
    as `DepthwiseConv2D` kernels (7, 7, C, 1). The unnamed LayerNorm of
    `include_top=False` is read as "head_layernorm", a LayerScale's weight as "gamma".
    """

    def __init__(self, keras_model, application):
        super().__init__(keras_model, application)
        stem = [name for name, layer in self.layers.items()
                if name.endswith("_stem") and isinstance(layer, keras.Sequential)]
        self.prefix = stem[0].removesuffix("stem") if stem else ""
        flat = {}
        for layer in self.layers.values():
            flat.update((inner.name, inner) for inner in getattr(layer, "layers", [layer]))
        norms = [name for name, layer in flat.items()
                 if isinstance(layer, keras.layers.LayerNormalization)]
        if norms and not norms[-1].startswith(self.prefix):  # include_top=False's
            flat[self.prefix + "head_layernorm"] = flat.pop(norms[-1])
        self.layers = {name.removeprefix(self.prefix): layer for name, layer in flat.items()
                       if name.startswith(self.prefix)}

    def names(self):
        return [f"{name}/{self._weight_name(layer, weight)}"
                for name, layer in self.layers.items() for weight in layer.weights]

    @staticmethod
    def _weight_name(layer, weight):
        # keras' LayerScale names its one weight "variable", "variable_1", ...
        return "gamma" if type(layer).__name__ == "LayerScale" else weight.name

    def tensor(self, name, variable, owner, model):
        layer_name, _, weight = name.rpartition("/")
        layer = self.layers.get(layer_name)
        if type(layer).__name__ == "LayerScale" and weight == "gamma":
            return keras.ops.convert_to_numpy(layer.weights[0])
        if not isinstance(owner, keras.layers.DepthwiseConv2D):
            return super().tensor(name, variable, owner, model)
        layer = self.layer(name.rpartition("/")[0], keras.layers.Conv2D)
        if layer.groups != layer.filters:
            raise ValueError(f"keras_model's layer {layer.name!r} is no depthwise convolution "
                             f"(groups={layer.groups}, filters={layer.filters})")
        value = super().tensor(name, variable, None, model)
        return np.swapaxes(value, 2, 3) if value.ndim == 4 else value


def keras_weights_file(variant, include_top):
    """keras.applications' file name of the ImageNet weights of ConvNeXt-`variant`."""
    return f"convnext_{variant}{'' if include_top else '_notop'}.h5"


def weight_sources(name):
    """The file behind `weights="imagenet"` for registered ConvNeXt `name` (`zoo.model_info`)."""
    variant = name.removeprefix("convnext_")
    file_name = keras_weights_file(variant, True)
    return {"imagenet": {"origin": KERAS_WEIGHTS_URL + file_name, "file_name": file_name,
                         "file_hash": KERAS_WEIGHTS_HASHES[variant][0]}}


def from_keras_applications(keras_model, **overrides):
    """Builds the zoo ConvNeXt matching a `keras.applications.ConvNeXt*`, weights copied.

    `overrides` are `ConvNeXt` arguments to set differently; ones that change
    weights make the copy fail. Keras' preprocessing layer has no zoo twin:
    feed the zoo model pixels normalized as `zoo.models.convnext.PREPROCESSING`.

    Example:
    >>> k = keras.applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3),
    ...                                     include_top=False)
    >>> model = from_keras_applications(k)  # with weights="imagenet": pretrained
    >>> model.variant, model.count_params() == k.count_params()
    ('tiny', True)
    """
    source = KerasConvNeXtWeights(keras_model, "ConvNeXtTiny .. ConvNeXtXLarge")
    stem = source.layer("stem_conv", keras.layers.Conv2D)
    found = (tuple(sum(1 for name in source.layers if name.startswith(f"stage_{stage}_block_")
                       and name.endswith("_depthwise_conv")) for stage in range(4)),
             tuple(source.layer(name, keras.layers.Conv2D).filters for name in
                   ["stem_conv", *(f"downsampling_conv_{i}" for i in range(3))]))
    variants = [variant for variant, spec in CONVNEXT_SPECS.items() if spec == found]
    if not variants:
        raise ValueError(
            f"keras_model has blocks and widths {found}, which match no ConvNeXt of "
            f"{CONVNEXT_SPECS}; received keras_model={_validation.preview(keras_model)}")
    head = source.layers.get("head_dense")
    kinds = {type(layer) for layer in keras_model.layers}  # keras' unnamed pooling too
    pooling = None if head is not None else "avg" if keras.layers.GlobalAveragePooling2D in \
        kinds else "max" if keras.layers.GlobalMaxPooling2D in kinds else None
    scale = source.layers.get(_KERAS_BLOCK.format(0, 0, "layer_scale"))
    model = ConvNeXt(**{
        "variant": variants[0], "num_classes": head.units if head is not None else 1000,
        "include_top": head is not None, "pooling": pooling,
        "input_shape": tuple(keras_model.input_shape[1:]),
        "classifier_activation": _validation.activation_of(head),
        "layer_scale_init_value": scale.init_values if scale is not None else 1e-6,
        "data_format": "channels_last" if stem.data_format == "channels_last"
        else "channels_first", **overrides})
    assign(model, source, KERAS_APPLICATIONS, strict=True)
    return model


def load_pretrained(model, weights):
    """keras.applications' ImageNet weights, with the top for a 1000-class head."""
    variant, top = model.get_config()["variant"], _files.imagenet_top(model)
    _files.load_keras_imagenet(model, KERAS_APPLICATIONS, KERAS_NAMES[variant],
                               KERAS_WEIGHTS_URL, keras_weights_file(variant, top),
                               KERAS_WEIGHTS_HASHES[variant][0 if top else 1], top,
                               source=KerasConvNeXtWeights)
