"""A multilayer perceptron made of `EinsumDense` layers, images in without Flatten."""

import keras

from zoo import _validation
from zoo.blocks import EinsumDense
from zoo.blocks._chain import build_chain
from zoo.models.base import ZooModel

NORMALIZATIONS = (None, "batch", "layer")

# The digits data's default size in `zoo.data` (grey-scale).
_DEFAULT_IMAGE_SIZE = 32

# `Dense` as an einsum; `k` is the units axis, as in the image head.
_DENSE_EQUATION = "...i,ik->...k"


@keras.saving.register_keras_serializable(package="zoo")
class EinsumMLP(ZooModel):
    """MLP classifier over images or feature vectors, built from `EinsumDense`.

    Each hidden layer is `EinsumDense -> [BatchNorm | LayerNorm] -> activation
    -> Dropout` (no bias before BatchNorm). On images the first layer is
    `EinsumDense.dense_head`: no transpose and no `Flatten`.

    Args:
        num_classes: int. Size of the classification head.
        hidden_units: tuple of ints. Hidden widths; `()` is a linear classifier.
        activation: str or None. Activation of the hidden layers.
        dropout: float in [0, 1). Dropout after each hidden layer.
        normalization: None, `"batch"` or `"layer"`.
        input_shape: 3 ints in `data_format` order (images) or `(features,)`;
            every size known. None: grey-scale 32x32 images.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        classifier_activation: str or None. None returns logits.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Example:
    >>> model = EinsumMLP(num_classes=10, hidden_units=(32,), input_shape=(1, 8, 8),
    ...                   data_format="channels_first", normalization="layer")
    >>> model.layers[0].equation
    'nchw,chwk->nk'
    >>> tuple(model(keras.ops.zeros((4, 1, 8, 8))).shape)
    (4, 10)
    """

    modality = "image"  # and feature vectors: any input_shape
    info = {"recipe": {"optimizer": "adamw", "learning_rate": 2e-3, "weight_decay": 1e-4,
                       "epochs": 20}}

    def __init__(self, num_classes=10, hidden_units=(256, 128), activation="relu", dropout=0.1,
                 normalization=None, input_shape=None, data_format=None,
                 classifier_activation=None, **kwargs):
        kwargs.setdefault("name", "einsum_mlp")
        super().__init__(**kwargs)
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        self.hidden_units = self._standardize_hidden_units(hidden_units)
        self.activation = _validation.activation(activation)
        self.dropout = _validation.fraction("dropout", dropout)
        self.normalization = _validation.one_of("normalization", normalization,
                                                NORMALIZATIONS)
        self.data_format = _validation.data_format(data_format)
        self.input_shape_ = self._standardize_input_shape(input_shape)
        self.classifier_activation = _validation.activation(
            classifier_activation, "classifier_activation")
        self._check_weight_sizes()

        policy = self.dtype_policy
        self.hidden = []
        for index, units in enumerate(self.hidden_units, 1):
            self.hidden.append(self._dense(
                index == 1, units, name=f"dense{index}",
                bias_axes=None if self.normalization == "batch" else "k"))
            if self.normalization == "batch":
                self.hidden.append(keras.layers.BatchNormalization(
                    name=f"norm{index}", dtype=policy))
            elif self.normalization == "layer":
                self.hidden.append(keras.layers.LayerNormalization(
                    name=f"norm{index}", dtype=policy))
            if self.activation is not None:
                self.hidden.append(keras.layers.Activation(
                    self.activation, name=f"act{index}", dtype=policy))
            if self.dropout > 0:
                self.hidden.append(keras.layers.Dropout(
                    self.dropout, name=f"dropout{index}", dtype=policy))
        self.classifier = self._dense(not self.hidden_units, self.num_classes,
                                      name="classifier", bias_axes="k")
        self.predictions = self._predictions_layer(self.classifier_activation)
        self.build((None,) + self.input_shape_)

    def _dense(self, first, units, name, bias_axes):
        """The flatten-free head for the first layer on images, else Dense."""
        if first and self.takes_images:
            return EinsumDense.dense_head(units, data_format=self.data_format,
                                          bias_axes=bias_axes, name=name,
                                          dtype=self.dtype_policy)
        return EinsumDense(_DENSE_EQUATION, (units,), bias_axes=bias_axes, name=name,
                           dtype=self.dtype_policy)

    @staticmethod
    def _standardize_hidden_units(hidden_units):
        units = tuple(hidden_units) if isinstance(hidden_units, (tuple, list)) else None
        if units is None or not all(
                _validation.is_int(u) and u > 0 for u in units):
            raise ValueError(
                f"hidden_units must be a tuple of positive ints (possibly empty), "
                f"received hidden_units={hidden_units!r}")
        return tuple(int(u) for u in units)

    def _check_weight_sizes(self):
        """Each dense kernel must fit in memory (see `_validation.weight_fits`)."""
        fan_in = 1
        for size in self.input_shape_:
            fan_in *= size
        for index, units in enumerate(self.hidden_units):
            _validation.weight_fits("hidden_units", self.hidden_units, fan_in * units,
                                    self.dtype_policy, f"kernel of dense{index + 1}")
            fan_in = units
        _validation.weight_fits("num_classes", self.num_classes,
                                (fan_in + 1) * self.num_classes, self.dtype_policy,
                                "classifier")

    def _standardize_input_shape(self, input_shape):
        if input_shape is None:
            size = _DEFAULT_IMAGE_SIZE
            return (size, size, 1) if self.data_format == "channels_last" else (1, size, size)
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if shape is None or len(shape) not in (1, 3) or not all(
                _validation.is_int(d) and d > 0 for d in shape):
            order = "(height, width, channels)" if self.data_format == "channels_last" \
                else "(channels, height, width)"
            raise ValueError(
                f"input_shape must be 3 positive ints {order} for "
                f"data_format={self.data_format!r}, or 1 positive int (features,), "
                f"received input_shape={input_shape!r}")
        return tuple(int(d) for d in shape)

    @property
    def takes_images(self):
        return len(self.input_shape_) == 3

    @property
    def input_signature(self):
        return keras.InputSpec(shape=(None,) + self.input_shape_, dtype="float32",
                               name="images" if self.takes_images else "features")

    def _layers_in_order(self):
        return [*self.hidden, self.classifier, self.predictions]

    def _check_input(self, input_shape):
        # The first kernel spans the whole input: every size must match.
        shape = tuple(input_shape)
        if len(shape) != len(self.input_shape_) + 1 or any(
                d is not None and d != e for d, e in zip(shape[1:], self.input_shape_)):
            kind = f"images (data_format={self.data_format!r})" if self.takes_images \
                else "feature vectors"
            raise ValueError(
                f"{self.name} was built for {kind} of shape "
                f"{(None,) + self.input_shape_}, received inputs with shape={shape}")

    def build(self, input_shape):
        self._check_input(input_shape)
        build_chain(self._layers_in_order(), input_shape)

    def call(self, inputs, training=None):
        self._check_input(inputs.shape)
        x = inputs
        for layer in self._layers_in_order():
            x = layer(x, training=training)
        return x

    def get_config(self):
        return {
            **super().get_config(), "num_classes": self.num_classes,
            "hidden_units": self.hidden_units, "activation": self.activation,
            "dropout": self.dropout, "normalization": self.normalization,
            "input_shape": self.input_shape_, "data_format": self.data_format,
            "classifier_activation": self.classifier_activation
        }


@EinsumMLP.register
def einsum_mlp(**kwargs):
    """EinsumMLP: flatten-free einsum head, hidden layers (256, 128), ReLU."""
    return EinsumMLP(**kwargs)
