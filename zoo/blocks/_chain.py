"""Building layers in a chain, each on the output shape of the one before."""


def build_chain(layers, input_shape, build=True):
    """Builds `layers` in order, each on its predecessor's output shape (None skipped).

    With `build=False` it only infers the shapes. Returns the last output shape.
    """
    shape = tuple(input_shape)
    for layer in layers:
        if layer is None:
            continue
        if build:
            layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return tuple(shape)
