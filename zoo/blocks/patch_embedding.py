"""ViT's patch embedding and token pooling (https://arxiv.org/abs/2010.11929)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks.conv2d import Conv2D
from zoo.blocks.position_embedding import PositionEmbedding


@keras.saving.register_keras_serializable(package="zoo")
class PatchEmbedding(keras.layers.Layer):
    """Image -> `[class token, patch tokens] + position embeddings`, `(batch, 1 + h*w, width)`.

    A `patch_size`/`patch_size` convolution embeds each patch (a token per
    patch, row by row), a learned class token goes first, and a learned
    vector per position is added. The grid is fixed by the input size it is
    built for, which `patch_size` must divide.

    Args:
        width: int. Channels of every token.
        patch_size: int. Side of the square patches (the convolution's kernel and stride).
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: `(batch, height, width, channels)` (channels_last).
    Output shape: `(batch, 1 + (height // patch_size) * (width // patch_size), width)`.

    Example:
    >>> layer = PatchEmbedding(8, patch_size=4)
    >>> tuple(layer(keras.ops.ones((2, 8, 12, 3))).shape), tuple(layer.class_token.shape)
    ((2, 7, 8), (1, 1, 8))
    """

    def __init__(self, width, patch_size, data_format=None, **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.width = _validation.positive_int("width", width)
        self.patch_size = _validation.positive_int("patch_size", patch_size)
        self.data_format = _validation.data_format(data_format)
        # channels_last where the backend has no NCHW convolutions; transposed once.
        self.compute_format = _layout.compute_format(self.data_format)
        self.input_spec = keras.InputSpec(ndim=4)
        self.projection = Conv2D(self.width, self.patch_size, strides=self.patch_size,
                                 data_format=self.compute_format, name="projection",
                                 dtype=self.dtype_policy)
        # Sized by the grid: made in `build`.
        self.class_token = self.position_embedding = self.grid_shape = None

    def grid(self, input_shape):
        """(rows, columns) of patches of an input of `input_shape`; checks the sizes."""
        sides = input_shape[1:3] if self.data_format == "channels_last" else input_shape[2:]
        if None in sides or any(side % self.patch_size for side in sides):
            raise ValueError(
                f"{self.name}: patch_size={self.patch_size} must divide the image height and "
                f"width (a fixed grid of patches), received input_shape={tuple(input_shape)}")
        return tuple(side // self.patch_size for side in sides)

    def build(self, input_shape):
        rows, columns = self.grid_shape = self.grid(input_shape)
        _layout.fix_channels(self, input_shape)
        self.projection.build(_layout.shape_to_compute(input_shape, self.data_format,
                                                       self.compute_format))
        # timm's initializations: the class token near zero, positions truncated normal.
        self.class_token = self.add_weight(
            shape=(1, 1, self.width), initializer=keras.initializers.RandomNormal(stddev=1e-6),
            name="class_token")
        self.position_embedding = PositionEmbedding(
            1 + rows * columns, initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="position_embedding", dtype=self.dtype_policy)
        self.position_embedding.build((None, 1 + rows * columns, self.width))

    def call(self, inputs, training=None):
        grid = self.grid(inputs.shape)
        if grid != self.grid_shape:
            # A learned position per patch: another grid has no positions to add.
            raise ValueError(
                f"{self.name} was built for {self.grid_shape[0]}x{self.grid_shape[1]} patches "
                f"of {self.patch_size} pixels, received inputs with shape={tuple(inputs.shape)}")
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = self.projection(x, training=training)
        if self.compute_format == "channels_first":
            x = keras.ops.transpose(x, (0, 2, 3, 1))
        x = keras.ops.reshape(x, (-1, grid[0] * grid[1], self.width))
        token = keras.ops.cast(self.class_token, x.dtype)
        token = keras.ops.broadcast_to(token, (keras.ops.shape(x)[0], 1, self.width))
        return self.position_embedding(keras.ops.concatenate([token, x], axis=1))

    def compute_output_shape(self, input_shape):
        rows, columns = self.grid(input_shape)
        return (input_shape[0], 1 + rows * columns, self.width)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "patch_size": self.patch_size,
                "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="zoo")
class TokenPooling(keras.layers.Layer):
    """`(batch, 1 + patches, width)` -> `(batch, width)`: the class token, or the patches' mean/max.

    As timm's ViT `global_pool`: `"token"` takes the first (class) token,
    `"avg"` and `"max"` pool the patch tokens only.

    Args:
        mode: str. `"token"`, `"avg"` or `"max"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> x = keras.ops.convert_to_tensor([[[9.0], [1.0], [3.0]]])
    >>> [float(TokenPooling(m)(x)[0, 0]) for m in ("token", "avg", "max")]
    [9.0, 2.0, 3.0]
    """

    MODES = ("token", "avg", "max")

    def __init__(self, mode="token", **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.mode = _validation.one_of("mode", mode, self.MODES)
        self.input_spec = keras.InputSpec(ndim=3)

    def call(self, inputs):
        if self.mode == "token":
            return inputs[:, 0]
        reduce = keras.ops.mean if self.mode == "avg" else keras.ops.max
        return reduce(inputs[:, 1:], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
