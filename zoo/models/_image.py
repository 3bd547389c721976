"""What every convolutional image family shares: the input, the layout, the chain.

An image family subclasses `ImageClassifier` and, in its `__init__`, calls
`_set_image_arguments` (which checks and sets `num_classes`, `include_top`,
`pooling`, `data_format`, `input_shape_` and `compute_format`: the layout
the convolutions run in, which may differ from the one the user asked for
where the backend has no NCHW convolutions), creates its layers and lists
them, in order, in `_layers_in_order()` (None for a layer it does not use,
e.g. no classifier with `include_top=False`). `ImageClassifier` then
builds, checks and runs that chain: the input is checked against
`input_shape_` (rank and channels, naming the model), transposed once into
the compute layout, passed through every layer with `training`, and
transposed back (for a feature-map output). `summary()` notes a layout
change.

Feature maps (`features_only=True`, as timm's `features_only` /
`out_indices` and keras-hub's `pyramid_outputs`): a family describes its
stages once, as data, and passes that table to `_set_feature_arguments`
(after `_set_image_arguments`), which checks `features_only` and
`out_stages` against it. A stage is a row `{"name": "stage2", "stage": 2,
"channels": 512, "reduction": 8, "layer": "stage2_block4"}`: the output of
the top-level layer `layer` (at `1 / reduction` of the input's height and
width) is the feature map `name`. The family then creates only the layers
up to the last requested stage (no head, no pooling); `call` returns a dict
of the requested feature maps, in stage order and in `data_format`, and
`feature_info` lists the rows of the stages returned.
"""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.models.base import ZooModel, _format_shape, _shapes_of


class ImageClassifier(ZooModel):
    """Base of the image families (`resnet`, `mobilenet_v2`): see the module doc.

    Example:
    >>> import zoo
    >>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(8, 8, 1))
    >>> isinstance(model, ImageClassifier), model.input_channels
    (True, 1)
    """

    modality = "image"
    # What a family that never calls `_set_feature_arguments` is: a classifier.
    features_only = False
    out_stages = None

    def _set_image_arguments(self, num_classes, include_top, pooling, poolings, input_shape,
                             data_format, default_size):
        """Checks and sets the arguments every image family takes.

        `pooling` must be one of `poolings`; `input_shape` None means
        `default_size` square with 3 channels.
        """
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        self.include_top = _validation.boolean("include_top", include_top)
        self.pooling = _validation.one_of("pooling", pooling, poolings)
        self.data_format = _validation.data_format(data_format)
        # Where the backend has no NCHW convolutions (TensorFlow's own CPU
        # kernels), the model computes in channels_last and transposes once,
        # at its input (and back, for a feature-map output).
        self.compute_format = _layout.compute_format(self.data_format)
        self.input_shape_ = _validation.image_input_shape(input_shape, self.data_format,
                                                          default_size)

    def _set_feature_arguments(self, features_only, out_stages, stages):
        """Checks and sets `features_only` and `out_stages` against the family's stages.

        Call it after `_set_image_arguments` and before creating layers.
        With `features_only=True`, `include_top` is set to False (its
        default True is ignored: the model has no head) and `pooling` must
        be None.

        Args:
            features_only: bool. Return feature maps instead of the head.
            out_stages: None, or a list or tuple of stage numbers (see
                `zoo._validation.stage_indices`). None with
                `features_only=True` means every stage, as timm.
            stages: list of dicts, one per stage of the full network, in
                order: `name`, `stage`, `channels`, `reduction`, `layer`
                (see the module doc).

        Returns:
            The stage numbers the model returns (a tuple), or None for a
            classifier.
        """
        self.features_only = _validation.boolean("features_only", features_only)
        self._stages = tuple(dict(row) for row in stages)
        numbers = [row["stage"] for row in self._stages]
        if not self.features_only:
            if out_stages is not None:
                raise ValueError(
                    "out_stages selects the feature maps of a features_only=True model; "
                    f"received out_stages={out_stages!r} with features_only=False")
            self.out_stages = None
            return None
        if self.pooling is not None:
            raise ValueError(
                f"pooling={self.pooling!r} conflicts with features_only=True: a "
                "features_only model returns unpooled feature maps; leave pooling=None "
                "(and pool the maps you need yourself)")
        # The default include_top=True cannot be told from an explicit one;
        # a features_only model has no head whatever it says.
        self.include_top = False
        self.out_stages = (None if out_stages is None
                           else _validation.stage_indices("out_stages", out_stages, numbers))
        return tuple(numbers) if self.out_stages is None else self.out_stages

    @property
    def feature_info(self):
        """The feature maps, one dict per stage, in stage order.

        For a `features_only=True` model, the stages its call returns;
        otherwise every stage it could return (what `features_only=True`
        returns by default). Each dict: `name` (the output's key, e.g.
        `"stage2"`), `stage` (its number), `channels`, `reduction` (input
        height / the map's height, rounded up: a map is
        `ceil(size / reduction)` high and wide) and `layer` (the name of
        the top-level layer whose output it is, for `zoo.finetune`).

        Example:
        >>> import zoo
        >>> model = zoo.create_model("resnet20", features_only=True, out_stages=(2, 3))
        >>> [(f["name"], f["channels"], f["reduction"]) for f in model.feature_info]
        [('stage2', 32, 2), ('stage3', 64, 4)]
        """
        stages = getattr(self, "_stages", ())
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
        raise NotImplementedError(f"{type(self).__name__} must define _layers_in_order()")

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
                # Keras passes `training` on only to layers whose call takes it.
                x = layer(x, training=training)
                if layer.name in taps:
                    features[taps[layer.name]] = _layout.from_compute(
                        x, self.data_format, self.compute_format)
        if self.features_only:
            return features
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def summary_notes(self):
        notes = []
        if self.features_only:
            # The table shows layers; the dict the model returns is not one.
            spec = self.input_signature
            outputs = self.compute_output_spec(keras.KerasTensor(spec.shape, dtype=spec.dtype))
            notes.append("features_only: returns {" + ", ".join(
                f"{name!r}: {_format_shape(_shapes_of(output))}"
                for name, output in outputs.items()) + "}")
        note = _layout.layout_note(self.data_format, self.compute_format)
        return notes + ([note] if note else [])
