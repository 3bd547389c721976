"""Mapping tables, and the one function that copies a source's tensors into a zoo model.

Tables work on layer names and variable paths, never on Python attributes.
A source is a `StateDict` (timm, torchvision) or a `KerasWeights`.
"""

import re

import keras
import numpy as np

from zoo import _validation

# State-dict entries that are no weights: BatchNorm's step counter (PyTorch).
IGNORED_SUFFIXES = (".num_batches_tracked",)

# The source tensor's axes in the Keras variable's order (None: the same).
TORCH_LAYOUTS = {
    "conv2d": (2, 3, 1, 0),  # (out, in, kh, kw) -> (kh, kw, in, out)
    "depthwise": (2, 3, 0, 1),  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)
    "dense": (1, 0),  # (out, in) -> (in, out)
    None: None,
}


class Tensor:
    """Where one zoo weight comes from: a source tensor name template, in a layout.

    `minus`: the template of a tensor subtracted from it (keras.applications'
    conv bias folded into the BatchNorm's `moving_mean`).
    """

    def __init__(self, name, layout=None, minus=None):
        self.name, self.layout, self.minus = name, layout, minus

    def __repr__(self):
        return f"Tensor({self.name!r}, layout={self.layout!r}, minus={self.minus!r})"


# Weight path under the zoo layer -> tensor; a `ConvBN` is two source layers (conv, bn).
TORCH_CONV_BN = {
    "conv/kernel": Tensor("{0}.weight", "conv2d"), "bn/gamma": "{1}.weight", "bn/beta": "{1}.bias",
    "bn/moving_mean": "{1}.running_mean", "bn/moving_variance": "{1}.running_var"
}
TORCH_DEPTHWISE_BN = {**TORCH_CONV_BN, "conv/kernel": Tensor("{0}.weight", "depthwise")}
TORCH_DENSE = {"kernel": Tensor("{0}.weight", "dense"), "bias": "{0}.bias"}
KERAS_CONV_BN = {
    "conv/kernel": "{0}/kernel", "bn/gamma": "{1}/gamma", "bn/beta": "{1}/beta",
    "bn/moving_mean": "{1}/moving_mean", "bn/moving_variance": "{1}/moving_variance"
}
KERAS_DENSE = {"kernel": "{0}/kernel", "bias": "{0}/bias"}


def weight_paths(model):
    """The paths of `model`'s weights under the model (`stem_conv/conv/kernel`), in order."""
    return [_relative(model, variable) for variable in model.weights]


def layer_names(model):
    """The top-level layers of `model` that hold weights (`stem_conv`, `classifier`)."""
    return {path.split("/", 1)[0] for path in weight_paths(model)}


def _relative(model, variable):
    return variable.path.removeprefix(model.name + "/")


def check_rgb(model, weights):
    """A ValueError unless `model` takes 3-channel images (ImageNet weights do)."""
    config = model.get_config()
    shape, data_format = config["input_shape"], config["data_format"]
    channels = shape[-1] if data_format == "channels_last" else shape[0]
    if channels != 3:
        raise ValueError(
            f"{model.name} with weights={weights!r} takes RGB images (3 channels), "
            f"received input_shape={shape} (data_format={data_format!r})")


def keras_image_kwargs(keras_model, layers, stem_bn):
    """The `ImageClassifier` arguments of a keras.applications model: head, input, BatchNorm."""
    head = layers.get("predictions")
    pooling = None
    if head is None:
        kinds = {type(x) for x in layers.values()}
        pooling = "avg" if keras.layers.GlobalAveragePooling2D in kinds else \
            "max" if keras.layers.GlobalMaxPooling2D in kinds else None
    return {
        "num_classes": head.units if head is not None else 1000, "include_top": head is not None,
        "pooling": pooling, "input_shape": tuple(keras_model.input_shape[1:]),
        "data_format": "channels_first" if stem_bn.axis in (1, [1]) else "channels_last",
        "classifier_activation": _validation.activation_of(head), "bn_momentum": stem_bn.momentum,
        "bn_epsilon": stem_bn.epsilon
    }


def assign(model, source, table, skip=(), unused=(), strict=True):
    """Copies `source`'s tensors into `model` as `table` maps them: all, or none.

    Args:
        model: a built zoo model.
        source: a `StateDict` or `KerasWeights`.
        table: rows `(pattern, names, weights)`: a regular expression of a
            zoo layer path, the source's names for it (a tuple, or a
            function of the pattern's groups, digits as ints), and weight
            path under the layer -> `Tensor` (or its template).
        skip: zoo layer paths whose weights are left as they are.
        unused: source tensor names deliberately not loaded.
        strict: bool. A source tensor that no weight takes is an error.

    Raises:
        ValueError: naming the source and the first tensor that does not fit.

    Example:
    >>> import zoo
    >>> model = zoo.create_model("resnet20", num_classes=2, input_shape=(8, 8, 3))
    >>> state = StateDict({"fc.weight": np.ones((2, 64)), "fc.bias": np.zeros(2)}, "fc.npz")
    >>> assign(model, state, [(r"classifier", ("fc",), TORCH_DENSE)])
    Traceback (most recent call last):
    ...
    ValueError: weights file 'fc.npz' does not fit resnet20: no row of its mapping table
    takes the weight resnet20/stem_conv/conv/kernel
    >>> assign(model, state, [(r"classifier", ("fc",), TORCH_DENSE)],
    ...        skip=[name for name in layer_names(model) if name != "classifier"])
    >>> float(model.get_layer("classifier").kernel.numpy().sum())
    128.0
    """
    rows = [(re.compile(f"(?:{pattern})/(.+)"), names, weights)
            for pattern, names, weights in table]
    owners = {layer.path: layer
              for layer in model._flatten_layers(include_self=False, recursive=True)}
    skip = tuple(skip)
    values, used = [], set()
    for variable in model.weights:
        path = _relative(model, variable)
        if any(path == s or path.startswith(s + "/") for s in skip):
            continue
        tensor, names = _lookup(rows, path)
        if tensor is None:
            raise ValueError(f"{source.where(model)}: no row of its mapping table takes the "
                             f"weight {variable.path}")
        axes = TORCH_LAYOUTS[tensor.layout]
        # The shape the source must hold: the variable's, in the source's order.
        shape = tuple(variable.shape)
        expected = shape if axes is None else tuple(shape[axes.index(i)]
                                                    for i in range(len(axes)))
        owner = owners.get(variable.path.rpartition("/")[0])
        value = None
        for template, kind_of in ((tensor.name, owner), (tensor.minus, None)):
            if template is None:
                continue
            name = template.format(*names)
            array = source.tensor(name, variable, kind_of, model)
            if tuple(np.shape(array)) != expected:
                raise source.misfit(name, tuple(np.shape(array)), expected, variable, model)
            problem = _value_problem(array, path)
            if problem:
                raise ValueError(f"{source.where(model)}: tensor {name!r} (for "
                                 f"{variable.path}) {problem}")
            used.add(name)
            value = np.asarray(array) if value is None else value - np.asarray(array)
        values.append((variable, value if axes is None else np.transpose(value, axes)))
    if strict:
        unused = set(unused)
        extra = [name for name in source.names() if name not in used and name not in unused]
        if extra:
            raise source.extra(extra, model)
    for variable, value in values:
        variable.assign(value.astype(variable.dtype))


def _value_problem(array, path):
    """Why `array` cannot be the weight at `path` (a wrong model if loaded), or None."""
    dtype = np.asarray(array).dtype
    # A cast would turn ids, masks or a quantized tensor into plausible floats.
    if not (np.issubdtype(dtype, np.floating) or dtype.name == "bfloat16"):
        return f"holds {dtype.name} values, not floats"
    values = np.asarray(array)
    if dtype.name == "bfloat16":  # ml_dtypes' type, which NumPy's ufuncs may not take
        values = values.astype("float32")
    if not np.isfinite(values).all():
        return f"holds non-finite values (NaN or inf), e.g. at {_first(~np.isfinite(values))}"
    if path.endswith("moving_variance") and (values < 0).any():
        return f"holds negative variances, e.g. at {_first(values < 0)}"
    return None


def _first(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _lookup(rows, path):
    """(`Tensor`, source names) for the weight at `path`; (None, None) if no row has it."""
    for pattern, names, weights in rows:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        *groups, weight = match.groups()
        if weight not in weights:
            continue
        groups = [int(g) if g is not None and g.isdigit() else g for g in groups]
        tensor = weights[weight]
        tensor = Tensor(tensor) if isinstance(tensor, str) else tensor
        return tensor, tuple(names(*groups) if callable(names) else names)
    return None, None


class StateDict(dict):
    """A PyTorch-style state dict read from file `path`: name -> NumPy array."""

    def __init__(self, tensors, path):
        super().__init__(tensors)
        self.path = str(path)

    def __repr__(self):
        return f"StateDict({self.path!r}, {len(self)} tensors)"

    def where(self, model):
        return f"weights file {self.path!r} does not fit {model.name}"

    def names(self):
        return [name for name in self if not name.endswith(IGNORED_SUFFIXES)]

    def tensor(self, name, variable, owner, model):
        if name not in self:
            raise ValueError(
                f"{self.where(model)}: it has no tensor {name!r} (for {variable.path}); its "
                f"first tensors are {self.names()[:5]}")
        return self[name]

    def misfit(self, name, shape, expected, variable, model):
        return ValueError(f"{self.where(model)}: tensor {name!r} has shape {shape}, expected "
                          f"{expected} (for {variable.path})")

    def extra(self, names, model):
        return ValueError(f"{self.where(model)}: tensor {names[0]!r} has no place in "
                          f"{model.name} ({len(names)} such tensors: {names[:5]})")


class KerasWeights:
    """A Keras model's weights as a source of `assign`: `"<layer>/<weight>"` -> array.

    Each weight goes into a zoo layer of the same Keras class; `application`
    names what `keras_model` must be, for messages.
    """

    def __init__(self, keras_model, application):
        self.keras_model = keras_model
        self.application = application
        self.layers = {layer.name: layer for layer in getattr(keras_model, "layers", [])}

    def layer(self, name, kind):
        """`keras_model`'s layer `name`, or a ValueError naming it when it is no `kind`."""
        found = self.layers.get(name)
        if not isinstance(found, kind):
            what = "missing" if found is None else f"a {type(found).__name__}"
            raise ValueError(
                f"keras_model must be a keras.applications {self.application}: its layer "
                f"{name!r} is {what}, not a {kind.__name__}; received keras_model="
                f"{_validation.preview(self.keras_model)}")
        return found

    def where(self, model):
        return f"keras_model does not fit {model.name}"

    def names(self):
        return [f"{layer.name}/{weight.name}"
                for layer in self.layers.values() for weight in layer.weights]

    def tensor(self, name, variable, owner, model):
        layer_name, _, weight = name.rpartition("/")
        layer = (self.layer(layer_name, _keras_class(owner)) if owner is not None
                 else self.layer(layer_name, keras.layers.Layer))
        weights = {w.name: w for w in layer.weights}
        if weight not in weights:
            raise ValueError(
                f"keras_model's layer {layer_name!r} has no weight {weight!r} (for "
                f"{variable.path}); its weights are {list(weights)}")
        return keras.ops.convert_to_numpy(weights[weight])

    def misfit(self, name, shape, expected, variable, model):
        layer, _, weight = name.rpartition("/")
        return ValueError(
            f"keras_model's layer {layer!r} has a weight {weight!r} of shape {shape}, which "
            f"does not fit {variable.path!r} ({expected})")

    def extra(self, names, model):
        return ValueError(f"{self.where(model)}: its weight {names[0]!r} has no place in "
                          f"{model.name} ({len(names)} such weights: {names[:5]})")


def _keras_class(layer):
    """The Keras class a zoo layer is (zoo's `Conv2D` and `BatchNorm` subclass Keras')."""
    return next(c for c in type(layer).__mro__ if c.__module__.startswith("keras."))
