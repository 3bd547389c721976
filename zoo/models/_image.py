"""The image task, written once: input, layout, head and feature maps.

A family subclass checks and sets its variant before `super().__init__`,
defines `stage_table()` (one row per stage, e.g. `{"name": "stage2",
"stage": 2, "channels": 512, "reduction": 8, "layer": "stage2_block4"}`),
creates its layers up to `last_stage_layer`, lists them in `_body()`, and
calls `self._add_head(channels)` last.
"""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.models.base import ZooModel, _format_shape, _shapes_of

POOLINGS = (None, "avg", "max")
_POOL_LAYERS = {"avg": keras.layers.GlobalAveragePooling2D,
                "max": keras.layers.GlobalMaxPooling2D}


def make_divisible(value, divisor=8):
    """`value` rounded to the nearest multiple of `divisor`, never 10% lower.

    Example:
    >>> make_divisible(32 * 0.35), make_divisible(16 * 0.35), make_divisible(1280 * 1.3)
    (16, 8, 1664)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def last_at_each_reduction(taps, reduction=1):
    """Stage rows from `(stride, channels, layer)` taps in call order: the last tap at
    each reduction (the strides' running product from `reduction`), numbered from 0
    (timm's MobileNet/EfficientNet taps).

    Example:
    >>> [(r["name"], r["reduction"], r["layer"]) for r in last_at_each_reduction(
    ...     [(2, 16, "stem"), (2, 24, "block1"), (1, 24, "block2"), (2, 40, "block3")])]
    [('stage0', 2, 'stem'), ('stage1', 4, 'block2'), ('stage2', 8, 'block3')]
    """
    last = {}
    for stride, channels, layer in taps:
        reduction *= stride
        last[reduction] = (channels, layer)
    return [{"name": f"stage{i}", "stage": i, "channels": channels, "reduction": reduction,
             "layer": layer} for i, (reduction, (channels, layer)) in enumerate(last.items())]


def chain_until(layers, last):
    """The layers of iterable `layers` up to the one named `last` (None: all); a
    lazy `layers` makes none after it (a `features_only` model's truncated body).

    Example:
    >>> [layer.name for layer in chain_until(
    ...     (keras.layers.ReLU(name=f"relu{i}") for i in range(9)), "relu2")]
    ['relu0', 'relu1', 'relu2']
    """
    kept = []
    for layer in layers:
        kept.append(layer)
        if layer.name == last:
            break
    return kept


class ImageClassifier(ZooModel):
    """Base of the image families: the head and feature maps every one shares.

    Args:
        num_classes: int. Size of the classification head.
        include_top: bool. Add global pooling and the dense head; False
            returns the last feature map (pooled with `pooling`).
        pooling: None, `"avg"` or `"max"`. Global pooling (the head's
            defaults to `"avg"`). Must be None with `features_only=True`.
        input_shape: 3 ints (height/width may be None) in `data_format`
            order; None: 3 channels at `default_image_size`.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        dropout: float in [0, 1). Dropout before the classifier.
        classifier_activation: str or None. None returns logits.
        features_only: bool. Return a dict of feature maps, one per stage
            of `out_stages`; the model has no head nor later layers.
        out_stages: None (every stage) or increasing stage numbers; only
            with `features_only=True`.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Example:
    >>> import zoo
    >>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(8, 8, 1))
    >>> isinstance(model, ImageClassifier), model.input_channels
    (True, 1)
    """

    modality = "image"
    default_image_size = 224
    # The smallest height and width the network takes (its last map then 1x1); None: any.
    min_image_size = None

    def __init__(self, num_classes=1000, include_top=True, pooling=None, input_shape=None,
                 data_format=None, dropout=0.0, classifier_activation=None,
                 features_only=False, out_stages=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        self.include_top = _validation.boolean("include_top", include_top)
        self.pooling = _validation.one_of("pooling", pooling, POOLINGS)
        self.data_format = _validation.data_format(data_format)
        # channels_last where the backend has no NCHW convolutions; transposed once.
        self.compute_format = _layout.compute_format(self.data_format)
        self.input_shape_ = _validation.image_input_shape(input_shape, self.data_format,
                                                          self.default_image_size)
        least = self.min_image_size
        if least and min(side or least for side in self.image_sides) < least:
            raise ValueError(f"input_shape must have height and width of at least {least}, "
                             f"received input_shape={self.input_shape_}")
        self.dropout = _validation.fraction("dropout", dropout)
        self.classifier_activation = _validation.activation(
            classifier_activation, "classifier_activation")
        self.features_only = _validation.boolean("features_only", features_only)
        self._stages = tuple(dict(row) for row in self.stage_table())
        self.out_stages = self._check_out_stages(out_stages)

    @property
    def image_sides(self):
        """`(height, width)` of `input_shape` (None where any size goes)."""
        shape = self.input_shape_
        return shape[:2] if self.data_format == "channels_last" else shape[1:]

    def _check_out_stages(self, out_stages):
        """`out_stages` checked against `stage_table()` and `features_only`."""
        if not self.features_only:
            if out_stages is not None:
                raise ValueError(
                    "out_stages selects the feature maps of a features_only=True model; "
                    f"received out_stages={out_stages!r} with features_only=False")
            return None
        if self.pooling is not None:
            raise ValueError(
                f"pooling={self.pooling!r} conflicts with features_only=True: a "
                "features_only model returns unpooled feature maps; leave pooling=None "
                "(and pool the maps you need yourself)")
        # The default include_top=True cannot be told from an explicit one.
        self.include_top = False
        if out_stages is None:
            return None
        return _validation.stage_indices("out_stages", out_stages,
                                         [row["stage"] for row in self._stages])

    def stage_table(self):
        """Every stage of the full network, one row each (see the module doc)."""
        raise NotImplementedError(f"{type(self).__name__} must define stage_table()")

    @property
    def last_stage_layer(self):
        """The layer of the last stage this model returns; None: the whole network."""
        return self.feature_info[-1]["layer"] if self.features_only else None

    def _body(self):
        """The family's layers, stem to last stage, in call order (None skipped)."""
        raise NotImplementedError(f"{type(self).__name__} must define _body()")

    def _add_head(self, channels):
        """Creates the pooling, dropout and classifier for `channels` features, then builds."""
        self.pool = self._pool_layer()
        self.head_norm = self._head_norm()
        self.dropout_layer = self.classifier = self.predictions = None
        if self.include_top:
            _validation.weight_fits("num_classes", self.num_classes,
                                    (channels + 1) * self.num_classes, self.dtype_policy,
                                    "classifier")
            if self.dropout > 0:
                self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout",
                                                          dtype=self.dtype_policy)
            self.classifier = keras.layers.Dense(self.num_classes, name="classifier",
                                                 dtype=self.dtype_policy)
            self.predictions = self._predictions_layer(self.classifier_activation)
        self.build((None,) + self.input_shape_)

    def _pool_layer(self):
        """The head's global pooling (the head's defaults to `"avg"`); None: none."""
        mode = self.pooling or ("avg" if self.include_top else None)
        return _POOL_LAYERS[mode](data_format=self.compute_format, name=f"{mode}_pool",
                                  dtype=self.dtype_policy) if mode else None

    def _feature_map(self, x):
        """A tapped layer's output as the feature map `call` returns (in `data_format`)."""
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def _head_norm(self):
        """A layer after the pooling (made after `self.pool`), before the classifier; None: none."""
        return None

    def _set_batch_norm(self, momentum, epsilon, synchronized):
        """Checks and sets the BatchNorm arguments; returns the keywords every `ConvBN` takes.
        A family whose `__init__` takes them adds `self._batch_norm_config()` to its config."""
        self.bn_momentum = _validation.bn_momentum(momentum)
        self.bn_epsilon = _validation.bn_epsilon(epsilon)
        self.bn_synchronized = _validation.bn_synchronized(synchronized)
        return {"data_format": self.compute_format, **self._batch_norm_config(),
                "dtype": self.dtype_policy}

    def _batch_norm_config(self):
        """`bn_momentum`, `bn_epsilon`, `bn_synchronized` as `_set_batch_norm` set them."""
        return {"bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon,
                "bn_synchronized": self.bn_synchronized}

    def get_config(self):
        return {
            **super().get_config(), "num_classes": self.num_classes,
            "include_top": self.include_top, "pooling": self.pooling,
            "input_shape": self.input_shape_, "data_format": self.data_format,
            "dropout": self.dropout, "classifier_activation": self.classifier_activation,
            "features_only": self.features_only, "out_stages": self.out_stages
        }

    @property
    def feature_info(self):
        """The feature maps (returned, or returnable), one `stage_table()` row each.

        Example:
        >>> import zoo
        >>> model = zoo.create_model("resnet20", features_only=True, out_stages=(2, 3))
        >>> [(f["name"], f["channels"], f["reduction"]) for f in model.feature_info]
        [('stage2', 32, 2), ('stage3', 64, 4)]
        """
        stages = self._stages
        if self.features_only and self.out_stages is not None:
            stages = [row for row in stages if row["stage"] in self.out_stages]
        return [dict(row) for row in stages]

    def _feature_taps(self):
        """{layer name: output name} of the feature maps `call` returns ({} for a classifier)."""
        if not self.features_only:
            return {}
        return {row["layer"]: row["name"] for row in self.feature_info}

    @property
    def input_signature(self):
        return keras.InputSpec(shape=(None,) + self.input_shape_, dtype="float32",
                               name="images")

    @property
    def input_channels(self):
        return _validation.channels_of(self.input_shape_, self.data_format)

    def _layers_in_order(self):
        """The model's layers from input to output (None entries are skipped)."""
        return [*self._body(), self.pool, self.head_norm, self.dropout_layer, self.classifier,
                self.predictions]

    def build(self, input_shape):
        _validation.check_image_input(self.name, input_shape, self.data_format,
                                      self.input_channels)
        build_chain(self._layers_in_order(),
                    _layout.shape_to_compute(input_shape, self.data_format, self.compute_format))

    def call(self, inputs, training=None):
        _validation.check_image_input(self.name, inputs.shape, self.data_format,
                                      self.input_channels)
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        taps, features = self._feature_taps(), {}
        for layer in self._layers_in_order():
            if layer is not None:
                x = layer(x, training=training)
                if layer.name in taps:
                    features[taps[layer.name]] = self._feature_map(x)
        if self.features_only:
            return features
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def summary_notes(self):
        notes = []
        if self.features_only:
            spec = self.input_signature
            outputs = self.compute_output_spec(keras.KerasTensor(spec.shape, dtype=spec.dtype))
            notes.append("features_only: returns {" + ", ".join(
                f"{name!r}: {_format_shape(_shapes_of(output))}"
                for name, output in outputs.items()) + "}")
        note = _layout.layout_note(self.data_format, self.compute_format)
        return notes + ([note] if note else [])
