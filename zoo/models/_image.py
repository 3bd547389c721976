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
"""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.models.base import ZooModel


class ImageClassifier(ZooModel):
    """Base of the image families (`resnet`, `mobilenet_v2`): see the module doc.

    Example:
    >>> import zoo
    >>> model = zoo.create_model("resnet20", num_classes=3, input_shape=(8, 8, 1))
    >>> isinstance(model, ImageClassifier), model.input_channels
    (True, 1)
    """

    modality = "image"

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
        for layer in self._layers_in_order():
            if layer is not None:
                # Keras passes `training` on only to layers whose call takes it.
                x = layer(x, training=training)
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def summary_notes(self):
        note = _layout.layout_note(self.data_format, self.compute_format)
        return [note] if note else []
