"""Building layers in a chain, each on the output shape of the one before."""


def build_chain(layers, input_shape, build=True):
    """Builds `layers` in order, each on the shape the one before it outputs.

    Blocks and models build their sublayers explicitly, so that every weight
    exists before the first call (for summaries, weight files and
    `set_weights`); each sublayer is built on its predecessor's output
    shape. `None` entries, optional layers left out, are skipped.

    Args:
        layers: iterable of `keras.layers.Layer` or None.
        input_shape: tuple. The first layer's input shape, batch included.
        build: bool. False only infers the shapes, for `compute_output_shape`.

    Returns:
        The last layer's output shape.

    Example:
    >>> import keras
    >>> build_chain([keras.layers.Dense(4), None, keras.layers.Dense(2)], (None, 3))
    (None, 2)
    """
    shape = tuple(input_shape)
    for layer in layers:
        if layer is None:
            continue
        if build:
            layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return tuple(shape)
