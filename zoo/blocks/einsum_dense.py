"""A dense layer written as an einsum, and the flatten-free dense head.

`"nhwc,hwck->nk"` is `Flatten` + `Dense` with the kernel in the feature
map's own layout: no `Flatten`, no transpose.
"""

import math
import re
import string

import keras
import numpy as np

from zoo import _validation

# The head's kernel axes follow the feature map's order: no transpose.
HEAD_EQUATIONS = {
    "channels_last": "nhwc,hwck->nk",
    "channels_first": "nchw,chwk->nk",
}

# "inputs,kernel->output": letters, at most one "..." in inputs and output.
_OPERAND = r"([a-zA-Z]*(?:\.\.\.)?[a-zA-Z]*)"
_FORM = re.compile(rf"{_OPERAND},([a-zA-Z]+)->{_OPERAND}")


def _parse_equation(equation):
    """The three operands of `equation`, `...` held as one `"."`; checks it makes a dense map.
    """
    match = _FORM.fullmatch("".join(equation.split())) if isinstance(equation, str) else None
    if match is None:
        raise ValueError(
            "equation must have the form 'inputs,kernel->output' with letter labels "
            "(and '...' in inputs and output, not in kernel), e.g. 'ab,bc->ac' or "
            f"'...i,ij->...j', received equation={equation!r}")
    inputs, kernel, output = (operand.replace("...", ".") for operand in match.groups())
    repeated = [op for op in (inputs, kernel, output) if len(set(op)) != len(op)]
    unknown_outputs = [c for c in output if c not in inputs + kernel + "."]
    # A kernel label in neither would be a weight axis whose size nothing sets.
    unknown_kernel = [c for c in kernel if c not in inputs + output]
    if repeated:
        # A repeated label is a diagonal or a trace, not a dense map.
        problem = f"must not repeat a label within one operand ({repeated[0]!r})"
    elif ("." in inputs) != ("." in output):
        problem = "must have '...' in both inputs and output or in neither"
    elif not output:
        problem = "must keep the batch axis in the output"
    elif unknown_outputs:
        problem = f"has output labels {unknown_outputs} in neither the inputs nor the kernel"
    elif unknown_kernel:
        problem = f"has kernel labels {unknown_kernel} in neither the inputs nor the output"
    elif output[0] not in inputs + ".":
        problem = (f"must take its first output label {output[0]!r} (the batch axis) "
                   "from the inputs")
    else:
        return inputs, kernel, output
    raise ValueError(f"equation {problem}, received equation={equation!r}")


@keras.saving.register_keras_serializable(package="zoo")
class EinsumDense(keras.layers.EinsumDense):
    """`keras.layers.EinsumDense`, checked when made, with the flatten-free head.

    Over Keras' layer it adds: arguments checked when made, `...` anywhere
    in inputs and output, `None` in `output_shape` for axes sized by the
    input, errors naming the layer for inputs that do not fit the weights,
    and `dense_head`.

    Args:
        equation: str. `"inputs,kernel->output"`, one letter per axis; inputs
            and output may both hold one `...`. The first output axis is
            the batch axis (or inside a leading `...`).
        output_shape: int or tuple of ints/None. Sizes of the output axes
            but the batch axis; None for axes sized by the input.
        activation: str, callable or None. Applied last; None is linear.
        bias_axes: str or None. Output labels that get a bias.
        kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, kernel_constraint, bias_constraint: as Keras'.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 4, 5), bias_axes="de")
    >>> tuple(layer(keras.ops.ones((2, 3, 6))).shape)
    (2, 3, 4, 5)
    >>> tuple(layer.kernel.shape), tuple(layer.bias.shape)
    ((6, 4, 5), (4, 5))
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        operands = _parse_equation(equation)
        inputs, _, output = operands
        letters = output.replace(".", "")
        free_labels = letters if output.startswith(".") else letters[1:]
        shape = _standardize_output_shape(equation, output_shape, free_labels, inputs)
        if bias_axes is not None and (
                not isinstance(bias_axes, str) or not bias_axes
                or len(set(bias_axes)) != len(bias_axes) or not set(bias_axes) <= set(letters)):
            raise ValueError(
                f"bias_axes must be None or distinct labels of the output {output!r} of "
                f"equation={equation!r}, received bias_axes={bias_axes!r}")
        super().__init__(
            equation,
            shape,
            activation=_validation.activation(activation),
            bias_axes=bias_axes,
            kernel_initializer=_validation.initializer("kernel_initializer",
                                                       kernel_initializer),
            bias_initializer=_validation.initializer("bias_initializer", bias_initializer),
            kernel_regularizer=_validation.regularizer("kernel_regularizer",
                                                       kernel_regularizer),
            bias_regularizer=_validation.regularizer("bias_regularizer", bias_regularizer),
            kernel_constraint=_validation.constraint("kernel_constraint",
                                                     kernel_constraint),
            bias_constraint=_validation.constraint("bias_constraint", bias_constraint),
            **_validation.layer_kwargs(kwargs),
        )
        # Keras keeps the function; the zoo's blocks keep the registered name.
        self.activation = _validation.activation(activation)
        self.bias = None
        self._operands = operands
        self._free_labels = free_labels
        self._output_shape_arg = int(output_shape) if _validation.is_int(output_shape) \
            else shape
        # A bias over `...` axes fixes their number once built.
        self._bias_spans_ellipsis = bias_axes is not None and "." in output[
            min(output.index(c) for c in bias_axes):]

    @classmethod
    def dense_head(cls, units, data_format=None, **kwargs):
        """The flatten-free dense head: `Flatten` + `Dense(units)` as one einsum, bias on `k`.

        Example:
        >>> head = EinsumDense.dense_head(5, data_format="channels_first")
        >>> head.equation
        'nchw,chwk->nk'
        >>> tuple(head(keras.ops.ones((2, 3, 4, 4))).shape), tuple(head.kernel.shape)
        ((2, 5), (3, 4, 4, 5))
        """
        units = _validation.positive_int("units", units)
        data_format = _validation.data_format(data_format)
        kwargs.setdefault("bias_axes", "k")
        return cls(HEAD_EQUATIONS[data_format], (units,), **kwargs)

    @property
    def kernel(self):
        """The kernel variable (None before the layer is built, as for the bias)."""
        return super().kernel if self.built else None

    def _label_sizes(self, input_shape):
        """The operands with `...` spelled out for `input_shape`, and each label's size."""
        shape = tuple(input_shape)
        inputs, kernel, output = self._operands
        labels = len(inputs.replace(".", ""))
        if len(shape) != labels and ("." not in inputs or len(shape) < labels):
            rank = f"at least {labels}" if "." in inputs else f"{labels}"
            raise ValueError(
                f"{self.name}: equation={self.equation!r} has {labels} input labels "
                f"{inputs.replace('.', '...')!r} and needs inputs of rank {rank}, received "
                f"input shape={shape}")
        free = [c for c in string.ascii_uppercase + string.ascii_lowercase
                if c not in inputs + kernel + output]
        spelled = tuple(op.replace(".", "".join(free[:len(shape) - labels]))
                        for op in self._operands)
        sizes = dict(zip(spelled[0], shape))
        for label, size in zip(self._free_labels, self.partial_output_shape):
            known = sizes.setdefault(label, size)
            if None not in (size, known) and size != known:
                raise ValueError(
                    f"{self.name}: output_shape={self.partial_output_shape} gives size "
                    f"{size} to label {label!r}, which the input has with size {known} "
                    f"(equation={self.equation!r}, received input shape={shape})")
        return spelled, sizes

    def _ellipsis_axes(self, spelled_inputs):
        return len(spelled_inputs) - len(self._operands[0].replace(".", ""))

    def compute_output_shape(self, input_shape):
        # Keras' own leaves the axes given as None unknown, and reverses
        # several leading `...` axes.
        (_, _, output), sizes = self._label_sizes(input_shape)
        return tuple(sizes[c] for c in output)

    def build(self, input_shape):
        (inputs, kernel, output), sizes = self._label_sizes(input_shape)
        weight_labels = kernel + (self.bias_axes or "")
        unknown = [c for c in weight_labels if sizes[c] is None]
        if unknown:
            raise ValueError(
                f"{self.name}: the kernel and bias_axes={self.bias_axes!r} need known sizes "
                f"for axes {unknown} of equation={self.equation!r}, received input "
                f"shape={tuple(input_shape)}")
        # Keras' layer makes the weights from the spelled-out equation, a spare batch letter.
        batch = next(c for c in string.ascii_letters if c not in inputs + kernel + output)
        given = self.equation, self.partial_output_shape
        self.equation = f"{batch}{inputs},{kernel}->{batch}{output}"
        self.partial_output_shape = tuple(sizes[c] for c in output)
        try:
            super().build((None,) + tuple(input_shape))
        finally:
            self.equation, self.partial_output_shape = given
        # Keras' spec fixes the rank; `call` checks inputs itself.
        self.input_spec = None
        self._built_sizes = {c: sizes[c] for c in weight_labels}
        self._built_ellipsis_axes = self._ellipsis_axes(inputs) \
            if self._bias_spans_ellipsis else None

    def call(self, inputs, training=None):
        (spelled_inputs, kernel, output), sizes = self._label_sizes(inputs.shape)
        wrong = [c for c, n in self._built_sizes.items() if sizes[c] not in (None, n)]
        if wrong or self._built_ellipsis_axes not in (None, self._ellipsis_axes(spelled_inputs)):
            # The backend's error names neither layer nor axis (a bias may even broadcast).
            built = ", ".join(f"{c}={n}" for c, n in self._built_sizes.items())
            if self._built_ellipsis_axes is not None:
                built += f", {self._built_ellipsis_axes} axes for '...'"
            raise ValueError(
                f"{self.name} was built for {built} in equation={self.equation!r} (kernel shape "
                f"{tuple(self.kernel.shape)}), received inputs with shape={tuple(inputs.shape)}")
        # Letters, not "...": TF's oneDNN float16 einsum is wrong with an ellipsis.
        x = keras.ops.einsum(f"{spelled_inputs},{kernel}->{output}", inputs, self.kernel)
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        return x if self.activation is None else keras.activations.get(self.activation)(x)

    def get_config(self):
        # Mirrors __init__, without Keras' LoRA and quantization options.
        return {
            **keras.layers.Layer.get_config(self), "equation": self.equation,
            "output_shape": self._output_shape_arg, "activation": self.activation,
            "bias_axes": self.bias_axes,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint)
        }

    @classmethod
    def from_config(cls, config):
        # Keras' adds the `quantization_config` its own __init__ takes.
        return super(keras.layers.EinsumDense, cls).from_config(config)


def _standardize_output_shape(equation, output_shape, free_labels, inputs):
    shape = (output_shape,) if _validation.is_int(output_shape) else output_shape
    if not isinstance(shape, (tuple, list)) or len(shape) != len(free_labels) or not all(
            d is None or (_validation.is_int(d) and d > 0) for d in shape):
        raise ValueError(
            f"output_shape must be {len(free_labels)} positive ints or None, one per "
            f"output label {list(free_labels)} (the batch axis excluded) of "
            f"equation={equation!r}, received output_shape={output_shape!r}")
    for label, size in zip(free_labels, shape):
        if size is None and label not in inputs:
            raise ValueError(
                f"output_shape may be None only for axes whose size comes from the "
                f"input; label {label!r} of equation={equation!r} is not an input "
                f"label, received output_shape={output_shape!r}")
    return tuple(None if d is None else int(d) for d in shape)


# Order in which `keras.layers.Flatten(data_format=...)` visits a feature map's axes.
_FLATTEN_ORDER = {"channels_last": (0, 1, 2), "channels_first": (1, 2, 0)}


def head_kernel_to_dense(kernel, data_format=None):
    """Converts a `dense_head` kernel `(d0, d1, d2, k)` to the kernel of `Flatten` + `Dense`.

    `data_format` is the `Flatten` layer's (usually the head's).

    Example:
    >>> kernel = np.arange(24.0).reshape(2, 3, 2, 2)   # (h, w, c, k)
    >>> head_kernel_to_dense(kernel, "channels_last").shape
    (12, 2)
    """
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel))
    if kernel.ndim != 4:
        raise ValueError(
            f"kernel must be a 4D dense_head kernel (d0, d1, d2, units), received "
            f"kernel with shape={kernel.shape}")
    order = _FLATTEN_ORDER[_validation.data_format(data_format)]
    return kernel.transpose(order + (3,)).reshape(-1, kernel.shape[-1])


def dense_kernel_to_head(kernel, feature_shape, data_format=None):
    """Converts a `Flatten` + `Dense` kernel to a `dense_head` kernel (the inverse).

    `feature_shape` is the feature map's shape without the batch axis.

    Example:
    >>> dense = np.ones((12, 5))
    >>> dense_kernel_to_head(dense, (3, 2, 2), "channels_first").shape
    (3, 2, 2, 5)
    """
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel))
    if not isinstance(feature_shape, (tuple, list)) or len(feature_shape) != 3 or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in feature_shape):
        raise ValueError(
            f"feature_shape must be 3 positive ints (the feature map without the "
            f"batch axis), received feature_shape={feature_shape!r}")
    if kernel.ndim != 2 or kernel.shape[0] != math.prod(feature_shape):
        raise ValueError(
            f"kernel must be a 2D Dense kernel with {math.prod(feature_shape)} rows for "
            f"feature_shape={tuple(feature_shape)}, received kernel with shape={kernel.shape}")
    order = _FLATTEN_ORDER[_validation.data_format(data_format)]
    flattened = tuple(feature_shape[i] for i in order) + (kernel.shape[1],)
    return kernel.reshape(flattened).transpose(tuple(np.argsort(order)) + (3,))
