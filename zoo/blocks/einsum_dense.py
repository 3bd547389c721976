"""A dense layer written as an einsum, and the flatten-free dense head.

`EinsumDense("...i,ij->...j", output_shape=(64,))` is `Dense(64)`; other
equations give dense maps over several axes at once without reshapes, e.g.
`"nhwc,hwck->nk"`, which maps a whole feature map to `k` units: exactly
`Flatten` + `Dense`, but with the kernel kept in the feature map's own
layout, so no `Flatten` (and, for channels_first, no transpose) is needed.
`EinsumDense.dense_head(...)` builds that head; `head_kernel_to_dense` and
`dense_kernel_to_head` convert kernels to and from a `Flatten` + `Dense` pair.

Example:
>>> import numpy as np
>>> head = EinsumDense.dense_head(10, data_format="channels_last")
>>> tuple(head(np.ones((2, 8, 8, 3), "float32")).shape)
(2, 10)
>>> dense_kernel = head_kernel_to_dense(head.kernel, "channels_last")
>>> dense_kernel.shape
(192, 10)
"""

import math
import re
import string

import keras
import numpy as np

from zoo.blocks import _validation

# The head's equation per layout: the kernel's first three axes follow the
# feature map's own axis order, so the einsum never transposes its input.
HEAD_EQUATIONS = {
    "channels_last": "nhwc,hwck->nk",
    "channels_first": "nchw,chwk->nk",
}

# One operand: letters, at most one "...", more letters.
_TERM = re.compile(r"([a-zA-Z]*)(\.\.\.)?([a-zA-Z]*)")


class _Term:
    """One operand of an equation: `before` letters, optional `...`, `after` letters."""

    def __init__(self, before, ellipsis, after):
        self.before = before
        self.ellipsis = ellipsis
        self.after = after
        self.labels = before + after

    def __str__(self):
        return self.before + ("..." if self.ellipsis else "") + self.after


def _without_ellipsis(inputs, kernel, output, input_rank):
    """The einsum equation with `...` spelled out as letters for `input_rank`.

    Why: TensorFlow 2.21's oneDNN einsum gives wrong float16 results for
    an equation with an ellipsis (`tf.einsum("...i,ik->...k")` on a (32, 256)
    float16 input: max error 3.2 on outputs of 4.2, measured on a Xeon with
    AVX-512 FP16; the same contraction with letters is right to 2e-3). Under
    mixed_float16 a model built on this layer then trains to chance accuracy
    without any error. Letters give every backend the same contraction.

    Example:
    >>> _without_ellipsis(_Term("", True, "i"), _Term("ik", False, ""),
    ...                   _Term("", True, "k"), 3)
    'ABi,ik->ABk'
    """
    if not inputs.ellipsis:
        return f"{inputs},{kernel}->{output}"
    used = set(str(inputs) + str(kernel) + str(output))
    free = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    letters = "".join(free[:input_rank - len(inputs.labels)])

    def spelled(term):
        return term.before + (letters if term.ellipsis else "") + term.after

    return f"{spelled(inputs)},{kernel}->{spelled(output)}"


def _parse_equation(equation):
    """Splits `"inputs,kernel->output"` into three `_Term`s, checking structure.

    Raises:
        ValueError: naming `equation` when it is not of that form or its labels
            do not make a dense map (see `EinsumDense`).
    """
    form = ("equation must have the form 'inputs,kernel->output' with letter "
            "labels (and '...' in inputs and output, not in kernel), e.g. "
            "'ab,bc->ac' or '...i,ij->...j'")
    if not isinstance(equation, str):
        raise ValueError(f"{form}, received equation={equation!r}")
    compact = "".join(equation.split())
    if compact.count("->") != 1 or compact.split("->")[0].count(",") != 1:
        raise ValueError(f"{form}, received equation={equation!r}")
    lhs, output = compact.split("->")
    terms = []
    for text in (*lhs.split(","), output):
        match = _TERM.fullmatch(text)
        if match is None:
            raise ValueError(f"{form}, received equation={equation!r}")
        term = _Term(match[1], bool(match[2]), match[3])
        if len(set(term.labels)) != len(term.labels):
            # A repeated label in one operand is a diagonal or a trace, not a
            # dense map.
            raise ValueError(
                f"equation must not repeat a label within one operand, received "
                f"equation={equation!r} (operand {str(term)!r})")
        terms.append(term)
    inputs, kernel, output = terms
    if kernel.ellipsis or not kernel.labels:
        raise ValueError(
            f"{form}; the kernel operand must be letters only, received "
            f"equation={equation!r} (kernel {str(kernel)!r})")
    if inputs.ellipsis != output.ellipsis:
        raise ValueError(
            f"equation must have '...' in both inputs and output or in neither, "
            f"received equation={equation!r}")
    if not output.labels and not output.ellipsis:
        raise ValueError(
            f"equation must keep the batch axis in the output, received "
            f"equation={equation!r}")
    unknown = [c for c in output.labels if c not in inputs.labels + kernel.labels]
    if unknown:
        raise ValueError(
            f"equation has output labels {unknown} that appear in neither the "
            f"inputs {str(inputs)!r} nor the kernel {kernel.labels!r}, received "
            f"equation={equation!r}")
    unknown = [c for c in kernel.labels if c not in inputs.labels + output.labels]
    if unknown:
        # Such an axis would be summed out of the kernel alone: a wasted
        # weight dimension whose size nothing determines.
        raise ValueError(
            f"equation has kernel labels {unknown} that appear in neither the "
            f"inputs {str(inputs)!r} nor the output {str(output)!r}, received "
            f"equation={equation!r}")
    # Without "...", the regex puts every letter in `before`.
    batch = None if output.before == "" else output.before[0]
    if batch is not None and batch not in inputs.labels:
        raise ValueError(
            f"equation's first output label {batch!r} is the batch axis and must "
            f"appear in the inputs {str(inputs)!r}, received equation={equation!r}")
    return inputs, kernel, output


@keras.saving.register_keras_serializable(package="zoo")
class EinsumDense(keras.layers.Layer):
    """Dense map written as `einsum(equation, inputs, kernel) + bias -> activation`.

    The kernel's shape follows from the equation: each kernel label takes
    its size from the input when the input has it, otherwise from
    `output_shape`. Labels of the inputs missing from the output are summed
    over (the contraction), labels in both pass through.

    Variance-scaling initializers (the default `"glorot_uniform"`,
    `"he_normal"`, ...) count fans from the equation: fan-in is the product
    of the contracted kernel axes, fan-out that of the kernel axes only the
    output has. The default guess treats a 4D kernel as a convolution, which
    for the head `"nhwc,hwck->nk"` would count `h * w * k` as fan-out.

    Args:
        equation: str. `"inputs,kernel->output"` with one letter per axis,
            e.g. `"ab,bc->ac"`, `"abc,cde->abde"`, `"nhwc,hwck->nk"`. The
            inputs and output may both hold one `...` for any number of
            axes, e.g. `"...i,ij->...j"` (a `Dense` layer for inputs of any
            rank). The first output axis is the batch axis (or is inside a
            leading `...`).
        output_shape: int or tuple of ints/None. Sizes of the output axes
            except the batch axis (the first output label, unless the output
            starts with `...`, in which case every output label), in output
            order. `None` is allowed for axes whose size comes from the
            input. An int means a 1-tuple.
        activation: str, callable or None. Applied last; None is linear.
        bias_axes: str or None. Output labels that get a bias (one value per
            position along them, broadcast over the rest), e.g. `"k"`; None
            for no bias. The bias is stored like `keras.layers.EinsumDense`
            stores it: the output axes from the first bias axis on, size 1
            where no bias varies.
        kernel_initializer: str or initializer.
        bias_initializer: str or initializer.
        kernel_regularizer: str, regularizer or None.
        bias_regularizer: str, regularizer or None.
        kernel_constraint: str, constraint or None.
        bias_constraint: str, constraint or None.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        A tensor whose rank matches the equation's input labels (at least
        that many axes with `...`).

    Output shape:
        The equation's output axes: sizes from the input where it has the
        label, from `output_shape` otherwise.

    Example:
    >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 4, 5), bias_axes="de")
    >>> tuple(layer(keras.ops.ones((2, 3, 6))).shape)
    (2, 3, 4, 5)
    >>> tuple(layer.kernel.shape), tuple(layer.bias.shape)
    ((6, 4, 5), (4, 5))
    >>> dense = EinsumDense("...i,ij->...j", 8, activation="relu", bias_axes="j")
    >>> tuple(dense(keras.ops.ones((2, 7, 3))).shape)
    (2, 7, 8)
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self._inputs, self._kernel_term, self._output = _parse_equation(equation)
        self.equation = equation
        # Spaces are fine in the argument; not every backend's einsum takes them.
        self._einsum_equation = f"{self._inputs},{self._kernel_term}->{self._output}"
        # The attribute name of keras.layers.EinsumDense; `output_shape` is
        # a property of Keras models (and of Keras 2 layers).
        self.partial_output_shape = self._standardize_output_shape(output_shape)
        # The config gives back what was passed (an int stays an int).
        self._output_shape_arg = output_shape if isinstance(output_shape, int) \
            else self.partial_output_shape
        self.activation = _validation.activation(activation)
        self.bias_axes = self._standardize_bias_axes(bias_axes)
        self.kernel_initializer = _validation.initializer("kernel_initializer",
                                                          kernel_initializer)
        self.bias_initializer = _validation.initializer("bias_initializer",
                                                        bias_initializer)
        self.kernel_regularizer = _validation.regularizer("kernel_regularizer",
                                                          kernel_regularizer)
        self.bias_regularizer = _validation.regularizer("bias_regularizer",
                                                        bias_regularizer)
        self.kernel_constraint = _validation.constraint("kernel_constraint",
                                                        kernel_constraint)
        self.bias_constraint = _validation.constraint("bias_constraint", bias_constraint)
        self.kernel = None
        self.bias = None

    @classmethod
    def dense_head(cls, units, data_format=None, **kwargs):
        """The flatten-free dense head: a feature map -> `units`, bias on `k`.

        `"nhwc,hwck->nk"` (channels_last) or `"nchw,chwk->nk"`
        (channels_first): the same function as `Flatten` + `Dense(units)`,
        with the kernel stored in the feature map's layout (`(h, w, c, k)`
        or `(c, h, w, k)`), so nothing is reshaped or transposed at run time.
        See `head_kernel_to_dense` / `dense_kernel_to_head` to move weights
        between the two.

        A classmethod rather than a subclass: the head *is* an `EinsumDense`
        with a fixed equation, so it saves, loads and prints as one and
        needs no class of its own; the layout can be read back from
        `equation`.

        Args:
            units: int. Output size `k`.
            data_format: str or None. Layout of the input feature map,
                `"channels_last"` or `"channels_first"`; None uses
                `keras.config.image_data_format()`.
            **kwargs: other `EinsumDense` arguments (`activation`,
                initializers, `name`, `dtype`, ...); `bias_axes=None` drops
                the bias.

        Returns:
            An unbuilt `EinsumDense`.

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

    # ------------------------------------------------------------------
    # Argument checks

    def _free_output_labels(self):
        """Output labels `output_shape` gives sizes for: all but the batch's."""
        out = self._output
        return out.labels if out.ellipsis and not out.before else out.labels[1:]

    def _standardize_output_shape(self, output_shape):
        shape = (output_shape,) if isinstance(output_shape, int) \
            and not isinstance(output_shape, bool) else output_shape
        free = self._free_output_labels()
        valid = isinstance(shape, (tuple, list)) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
            for d in shape)
        if not valid or len(shape) != len(free):
            raise ValueError(
                f"output_shape must be {len(free)} positive ints or None, one per "
                f"output label {list(free)} (the batch axis excluded) of "
                f"equation={self.equation!r}, received output_shape={output_shape!r}")
        for label, size in zip(free, shape):
            if size is None and label not in self._inputs.labels:
                raise ValueError(
                    f"output_shape may be None only for axes whose size comes from "
                    f"the input; label {label!r} of equation={self.equation!r} is "
                    f"not an input label, received output_shape={output_shape!r}")
        return tuple(shape)

    def _standardize_bias_axes(self, bias_axes):
        if bias_axes is None:
            return None
        labels = self._output.labels
        if not isinstance(bias_axes, str) or not bias_axes \
                or len(set(bias_axes)) != len(bias_axes) \
                or any(c not in labels for c in bias_axes):
            raise ValueError(
                f"bias_axes must be None or distinct labels of the output "
                f"{str(self._output)!r} of equation={self.equation!r}, received "
                f"bias_axes={bias_axes!r}")
        return bias_axes

    # ------------------------------------------------------------------
    # Shapes

    def _resolve(self, input_shape, need_kernel=True):
        """Label sizes for `input_shape`: (sizes, ellipsis_dims).

        Args:
            input_shape: full input shape, batch included.
            need_kernel: raise when a kernel axis' size is unknown (None);
                only `build` needs them, shape inference does not.
        """
        shape = tuple(input_shape)
        inputs = self._inputs
        n_before, n_after = len(inputs.before), len(inputs.after)
        fits = len(shape) >= n_before + n_after if inputs.ellipsis \
            else len(shape) == n_before + n_after
        if not fits:
            rank = f"at least {n_before + n_after}" if inputs.ellipsis \
                else f"{n_before + n_after}"
            raise ValueError(
                f"{self.name}: equation={self.equation!r} has {n_before + n_after} "
                f"input labels {str(inputs)!r} and needs inputs of rank {rank}, "
                f"received input shape={shape}")
        sizes = dict(zip(inputs.before, shape[:n_before]))
        sizes.update(zip(inputs.after, shape[len(shape) - n_after:]))
        ellipsis_dims = shape[n_before:len(shape) - n_after]
        for label, size in zip(self._free_output_labels(), self.partial_output_shape):
            if label not in sizes:
                sizes[label] = size
            elif size is not None and sizes[label] is not None and size != sizes[label]:
                raise ValueError(
                    f"{self.name}: output_shape={self.partial_output_shape} gives "
                    f"size {size} to label {label!r}, which the input has with size "
                    f"{sizes[label]} (equation={self.equation!r}, received input "
                    f"shape={shape})")
        if need_kernel:
            unknown = [c for c in self._kernel_term.labels if sizes[c] is None]
            if unknown:
                raise ValueError(
                    f"{self.name}: the kernel needs known sizes for input axes "
                    f"{unknown} of equation={self.equation!r}, received input "
                    f"shape={shape}")
        return sizes, ellipsis_dims

    def _output_axes(self, sizes, ellipsis_dims):
        """The output as a list of (label or None for an ellipsis axis, size)."""
        out = self._output
        return ([(c, sizes[c]) for c in out.before]
                + [(None, d) for d in (ellipsis_dims if out.ellipsis else ())]
                + [(c, sizes[c]) for c in out.after])

    def compute_output_shape(self, input_shape):
        sizes, ellipsis_dims = self._resolve(input_shape, need_kernel=False)
        return tuple(size for _, size in self._output_axes(sizes, ellipsis_dims))

    # ------------------------------------------------------------------
    # Layer

    def _kernel_initializer_with_fans(self):
        initializer = self.kernel_initializer
        if not isinstance(initializer, keras.initializers.VarianceScaling) \
                or initializer.input_axes is not None or initializer.output_axes is not None:
            return initializer
        inputs, outputs = self._inputs.labels, self._output.labels
        kernel = self._kernel_term.labels
        # Contracted axes feed each output unit (fan-in); axes only the output
        # has are the units (fan-out); axes shared with both inputs and output
        # are independent copies of the map and count for neither.
        config = initializer.get_config()
        config.update(
            # The instance's concrete seed, so a seeded run stays reproducible.
            seed=initializer.seed,
            input_axes=[i for i, c in enumerate(kernel) if c in inputs and c not in outputs],
            output_axes=[i for i, c in enumerate(kernel) if c in outputs and c not in inputs],
        )
        return type(initializer).from_config(config)

    def build(self, input_shape):
        sizes, ellipsis_dims = self._resolve(input_shape)
        kernel_shape = tuple(sizes[c] for c in self._kernel_term.labels)
        # What the weights fix for later calls: the sizes of the kernel's and
        # the bias' axes, and the number of `...` axes when the bias spans
        # them (its trailing 1s would broadcast against the wrong axes).
        self._built_sizes = {c: sizes[c] for c in self._kernel_term.labels}
        self._built_ellipsis_rank = None
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self._kernel_initializer_with_fans(),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.bias_axes is not None:
            axes = self._output_axes(sizes, ellipsis_dims)
            first = min(i for i, (c, _) in enumerate(axes) if c is not None and c in self.bias_axes)
            # Trailing-aligned, like keras.layers.EinsumDense, so the bias
            # broadcasts over the leading axes and weights move between the
            # two layers unchanged.
            bias_shape = tuple(size if c is not None and c in self.bias_axes else 1
                               for c, size in axes[first:])
            self._built_sizes.update({c: sizes[c] for c in self.bias_axes})
            if any(c is None for c, _ in axes[first:]):
                self._built_ellipsis_rank = len(ellipsis_dims)
            if None in bias_shape:
                raise ValueError(
                    f"{self.name}: bias_axes={self.bias_axes!r} needs known sizes, "
                    f"received input shape={tuple(input_shape)} "
                    f"(equation={self.equation!r})")
            self.bias = self.add_weight(
                name="bias",
                shape=bias_shape,
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        self._check_built_for(inputs.shape)
        equation = _without_ellipsis(self._inputs, self._kernel_term, self._output,
                                     len(inputs.shape))
        x = keras.ops.einsum(equation, inputs, self.kernel)
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        return x if self.activation is None else keras.activations.get(self.activation)(x)

    def _check_built_for(self, input_shape):
        # The backend's error on a size mismatch names neither the layer nor
        # the axis (and a bias may even broadcast silently).
        sizes, ellipsis_dims = self._resolve(input_shape, need_kernel=False)
        wrong = [c for c, built in self._built_sizes.items()
                 if sizes[c] is not None and sizes[c] != built]
        if wrong or self._built_ellipsis_rank not in (None, len(ellipsis_dims)):
            built = ", ".join(f"{c}={n}" for c, n in self._built_sizes.items())
            if self._built_ellipsis_rank is not None:
                built += f", {self._built_ellipsis_rank} axes for '...'"
            raise ValueError(
                f"{self.name} was built for {built} in equation={self.equation!r} "
                f"(kernel shape {tuple(self.kernel.shape)}), received inputs with "
                f"shape={tuple(input_shape)}")

    def get_config(self):
        return {
            **super().get_config(),
            "equation": self.equation,
            "output_shape": self._output_shape_arg,
            "activation": self.activation,
            "bias_axes": self.bias_axes,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }


# ----------------------------------------------------------------------
# Head <-> Flatten + Dense

# Order in which `keras.layers.Flatten(data_format=...)` visits the three
# stored axes of a feature map: channels_last flattens in memory order;
# channels_first first transposes (c, h, w) to (h, w, c).
_FLATTEN_ORDER = {"channels_last": (0, 1, 2), "channels_first": (1, 2, 0)}


def head_kernel_to_dense(kernel, data_format=None):
    """Converts a `dense_head` kernel to the kernel of `Flatten` + `Dense`.

    The head kernel's first three axes are in the feature map's stored
    order, `(h, w, c)` for a channels_last head and `(c, h, w)` for a
    channels_first one. The returned kernel `W` makes
    `Dense(k)(Flatten(data_format=data_format)(x)) == head(x)` with the same
    bias.

    Args:
        kernel: array or tensor of shape `(d0, d1, d2, k)`: the head's kernel.
        data_format: str or None. The `data_format` of the `Flatten` layer,
            `"channels_last"` or `"channels_first"` (None: the Keras default,
            as `Flatten` does). Keras' `Flatten(data_format="channels_first")`
            moves channels last before flattening, so for the usual pairing
            (`Flatten` built with the head's `data_format`) pass the head's
            `data_format`. A `Flatten()` left at channels_last in front of
            channels_first features flattens them in memory order
            `(c, h, w)`: pass `"channels_last"` for that one.

    Returns:
        NumPy array of shape `(d0 * d1 * d2, k)`.

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
    """Converts a `Flatten` + `Dense` kernel to a `dense_head` kernel.

    The inverse of `head_kernel_to_dense`.

    Args:
        kernel: array or tensor of shape `(d0 * d1 * d2, k)`: the `Dense`
            kernel.
        feature_shape: tuple of 3 ints. The feature map's shape without the
            batch axis, as the head receives it: `(h, w, c)` for a
            channels_last head, `(c, h, w)` for a channels_first one.
        data_format: str or None. The `data_format` of the `Flatten` layer;
            see `head_kernel_to_dense`.

    Returns:
        NumPy array of shape `feature_shape + (k,)`.

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
            f"kernel must be a 2D Dense kernel with {math.prod(feature_shape)} rows "
            f"for feature_shape={tuple(feature_shape)}, received kernel with "
            f"shape={kernel.shape}")
    order = _FLATTEN_ORDER[_validation.data_format(data_format)]
    flattened = tuple(feature_shape[i] for i in order) + (kernel.shape[1],)
    return kernel.reshape(flattened).transpose(tuple(np.argsort(order)) + (3,))
