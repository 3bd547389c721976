"""TensorFlow SavedModel export: one `serving_default` signature, ready to serve.

The writer uses Keras' own `keras.export.ExportArchive` with one endpoint,
`serving_default`, that calls the model with `training=False`. The
endpoint's trace carries the variables; the writer tracks the model's
variable-free layers, which carries the `TextVectorization` lookup table,
so the vocabulary travels inside the SavedModel (see `save` for why not
`track(model)`).

The signature is built from `model.input_signature`, so it needs no
per-model code:

| model | input (name, dtype, shape) | output |
|---|---|---|
| `resnet*` | `images`, `DT_FLOAT`, `(-1, H, W, C)` | `logits` |
| `einsum_mlp` | `images` or `features`, `DT_FLOAT` | `logits` |
| `text_rnn` | `text`, `DT_STRING`, `(-1,)` (or `tokens`, `DT_INT32`) | `logits` |

The output is named after what the model returns: `logits` when its
`classifier_activation` is None or `"linear"`, `probabilities` for
`"softmax"` and `"sigmoid"`, `predictions` otherwise (see `output_name`).
A model whose call returns a dict (`features_only=True`: `{"stage2": ...,
"stage3": ...}`) gets one output per key, named by the key, and
`ServingModel` returns that dict again.

With `version=N` the export goes to `path/N/`, TensorFlow Serving's layout
(`tensorflow_model_server --model_base_path=path` serves the highest N);
`load(path)` does the same.

Example:
>>> import tempfile, pathlib, numpy as np, zoo
>>> model = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,),
...                          hidden_units=(4,))
>>> path = zoo.export.save(model, pathlib.Path(tempfile.mkdtemp()) / "mlp",
...                        format="saved_model", version=1)
>>> path.name
'1'
>>> served = zoo.export.load(path.parent)
>>> served.input_name, served.output_name
('features', 'logits')
>>> x = model.example_inputs(batch_size=2)
>>> bool(np.allclose(served(x), model(x), atol=1e-5))
True
"""

import collections
import pathlib

import keras
import numpy as np
import tensorflow as tf

from zoo import _validation
from zoo.export import _atomic, _files, labels

SIGNATURE_KEY = "serving_default"
_PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
# The names under which a signature serves a single tensor: `output_name`'s,
# and `output_0`, Keras' own (`model.export`). Other output names are the keys
# of a dict the model returned (a features_only model's "stage2", ...), and
# `ServingModel` returns a dict for them, even for a single key.
_TENSOR_OUTPUT_NAMES = ("logits", "probabilities", "predictions", "output_0")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def target_path(path, version=None, **_):
    """Where `save` writes: `path`, or `path/<version>` for TF Serving.

    Args:
        path: str or Path. The export directory.
        version: int >= 1 or None.

    Raises:
        ValueError: `version` is not an int >= 1.
    """
    path = pathlib.Path(path)
    if version is None:
        return path
    return path / str(_check_version(version))


def _check_version(version):
    # TensorFlow Serving reads export_dir/<version>/, numbered from 1.
    return _validation.positive_int("version", version)


def output_name(model):
    """The signature's output key: named after what `model` returns.

    `"logits"` for `classifier_activation` None or `"linear"`,
    `"probabilities"` for `"softmax"` or `"sigmoid"`, `"predictions"`
    for anything else (and for models without a `classifier_activation`).
    """
    if not hasattr(model, "classifier_activation"):
        return "predictions"
    activation = model.classifier_activation
    if activation is not None and not isinstance(activation, str):
        activation = keras.activations.serialize(activation)
    if activation in (None, "linear"):
        return "logits"
    if activation in _PROBABILITY_ACTIVATIONS:
        return "probabilities"
    return "predictions"


def input_spec(model):
    """The `tf.TensorSpec` of the signature's input (batch dimension None).

    From `model.input_signature` (every zoo model), else from the single
    input of a functional Keras model.

    Raises:
        ValueError: the model declares no single input.
    """
    spec = getattr(model, "input_signature", None)
    if spec is not None:
        shape, dtype, name = spec.shape, spec.dtype, spec.name
    elif len(getattr(model, "inputs", None) or []) == 1:
        tensor = model.inputs[0]
        shape, dtype, name = tensor.shape, tensor.dtype, tensor.name
    else:
        raise ValueError(
            f"Cannot build a SavedModel signature for {getattr(model, 'name', model)!r}: "
            "it has no `input_signature` (zoo models) and is not a functional model "
            "with one input")
    shape = (None,) + tuple(shape[1:])  # any batch size
    return tf.TensorSpec(shape=shape, dtype=tf.as_dtype(dtype or "float32"),
                         name=name or "inputs")


def save(model, path, version=None):
    """Writes `model` as a SavedModel into the new directory `path`.

    Called through `zoo.export.save`, which passes the scratch directory that
    it renames into place afterwards (`path` must not exist yet), and the
    model with its BatchNorms folded unless `fold_batchnorm=False`
    (`zoo.export.formats`).

    Args:
        model: a built zoo model (a text model needs its vocabulary).
        path: str or Path. The directory to create.
        version: int >= 1 or None. Only checked here: the dispatcher has
            already put the version into `path` (see `target_path`).

    Raises:
        ValueError: a bad `version`, a model without an input signature.
    """
    if version is not None:
        _check_version(version)
    spec = input_spec(model)
    key = output_name(model)

    def serve(inputs):
        outputs = model(inputs, training=False)
        # A dict's keys (a features_only model's stages) name the outputs.
        return dict(outputs) if isinstance(outputs, dict) else {key: outputs}

    archive = keras.export.ExportArchive()
    endpoint = archive.add_endpoint(SIGNATURE_KEY, serve, input_signature=[spec])
    # Tracing first builds every sublayer (a TextVectorization is built by
    # its first call only), and `track` refuses unbuilt layers.
    endpoint.get_concrete_function()
    # Variables are found from the traced endpoint; lookup tables (the
    # TextVectorization vocabulary) are not, and must be tracked. Only
    # variable-free layers are tracked: tracking a layer with variables
    # stores every variable twice (keras-team/keras#23553), and tracking the
    # model itself makes the archive trace Keras' implicit
    # `_default_save_signature`, which feeds a subclassed model
    # `compute_dtype` (float32) inputs and so fails for text_rnn.
    for layer in _resource_layers(model):
        archive.track(layer)
    archive.write_out(str(path), verbose=False)
    labels.write_saved_model(model, path)


def _resource_layers(model):
    """Built sublayers, at any depth, that own no variables (lookup layers)."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if layer.built and not layer.variables and not isinstance(layer, keras.Model)]


def _is_saved_model_dir(path):
    return any((path / name).is_file() for name in _SAVED_MODEL_FILES)


def check_replaceable(target, found):
    """Refuses to replace `target` (a `found`) unless it is a SavedModel (`is_replaceable`).

    Raises:
        ValueError: a file, or a directory that is not a SavedModel.
    """
    if found != "directory":
        raise ValueError(
            f"Not saving a SavedModel to {str(target)!r}: it is a {found}, not a "
            "SavedModel directory; remove it yourself or choose another path")
    if not is_replaceable(target):
        raise ValueError(
            f"Not saving a SavedModel to {str(target)!r}: it is a directory but not a "
            "SavedModel (nor version subdirectories of one), and overwrite=True only "
            "replaces a SavedModel; nothing was deleted")


def is_replaceable(path):
    """True for a directory `save(..., overwrite=True)` may replace.

    That is a SavedModel directory, or a TensorFlow Serving layout: version
    subdirectories (`1/`, `2/`, ...) holding SavedModels and nothing else
    (hidden scratch of the zoo's own saves aside). Any other directory may
    hold a user's files, which an overwrite must never delete.
    """
    path = pathlib.Path(path)
    if _is_saved_model_dir(path):
        return True
    children = [child for child in path.iterdir() if not child.name.startswith(".")]
    return bool(children) and all(
        child.name.isdigit() and child.is_dir() and _is_saved_model_dir(child)
        for child in children)


def resolve(path):
    """The SavedModel directory at `path`, or its highest version subdirectory.

    Returns:
        `(directory, version)`, version None for an unversioned export.

    Raises:
        ValueError: `path` is neither a SavedModel directory nor holds any
            version subdirectory with one.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ValueError(f"{str(path)!r} is not a SavedModel: a SavedModel is a directory")
    _atomic.recover_versions(path)
    if _is_saved_model_dir(path):
        return path, None
    versions = sorted(
        int(child.name) for child in path.iterdir()
        if child.name.isdigit() and child.is_dir() and _is_saved_model_dir(child))
    if not versions:
        raise ValueError(
            f"{str(path)!r} is not a SavedModel directory: it has no saved_model.pb, "
            "nor version subdirectories (1/, 2/, ...) holding one")
    return path / str(versions[-1]), versions[-1]


def load(path):
    """Loads a SavedModel written by `save` (or any with one-input `serving_default`).

    Args:
        path: str or Path. The export directory, or a directory of version
            subdirectories (the highest version is loaded).

    Returns:
        A `ServingModel`.

    Raises:
        ValueError: not a SavedModel, a truncated or corrupt one, or one
            without a single-input `serving_default` signature (the message
            names the directory).
    """
    directory, version = resolve(path)
    # TensorFlow reads every file under the directory: a FIFO in there would
    # block it, a symlink to /dev/zero would never end.
    _files.check_tree(directory, "SavedModel")
    try:
        loaded = tf.saved_model.load(str(directory))
    except Exception as error:  # noqa: BLE001 -- TF raises many types for bad files
        raise ValueError(
            f"Could not load the SavedModel at {str(directory)!r}: it is truncated or "
            f"corrupt ({type(error).__name__}: {str(error)[:500]})") from error
    signatures = getattr(loaded, "signatures", {})
    if SIGNATURE_KEY not in signatures:
        raise ValueError(
            f"The SavedModel at {str(directory)!r} has no {SIGNATURE_KEY!r} signature; "
            f"it has {sorted(signatures)}")
    return ServingModel(loaded, signatures[SIGNATURE_KEY], directory, version)


class ServingModel:
    """A loaded SavedModel's `serving_default` signature, callable like the model.

    Attributes:
        path: Path. The SavedModel directory loaded.
        version: int or None. Its TF Serving version, when loaded from a
            versioned layout.
        signature: the `serving_default` concrete function (keyword input,
            dict of outputs).
        input_name: str. The signature's input key (e.g. `"images"`).
        input_spec: `tf.TensorSpec` of that input (shape, dtype).
        output_names: tuple of str. The signature's output keys.
        output_name: str or None. The output key when the signature serves
            one tensor (one output named as `output_name(model)` names
            them, or Keras' `output_0`); None when it serves a dict.
        class_names, preprocessing, outputs_logits: the model's, as saved
            beside the graph (`zoo.export.labels`); None where unknown.

    Example: `ServingModel(x)` returns a NumPy array, like `model(x)`.
    """

    def __init__(self, loaded, signature, path, version=None):
        # Holding the loaded object keeps its variables alive: a signature
        # alone does not, and its variables would be freed under it.
        self._loaded = loaded
        self.signature = signature
        self.path = pathlib.Path(path)
        self.version = version
        args, kwargs = signature.structured_input_signature
        if args or len(kwargs) != 1:
            raise ValueError(
                f"The SavedModel at {str(self.path)!r} has a {SIGNATURE_KEY!r} signature "
                f"with inputs {sorted(kwargs)} (and {len(args)} positional); ServingModel "
                "serves one input")
        (self.input_name, self.input_spec), = kwargs.items()
        self.output_names = tuple(sorted(signature.structured_outputs))
        self.output_name = (self.output_names[0] if len(self.output_names) == 1
                            and self.output_names[0] in _TENSOR_OUTPUT_NAMES else None)
        record = labels.read_saved_model(self.path)
        self.class_names = record["class_names"]
        self.preprocessing = record["preprocessing"]
        self.outputs_logits = record["outputs_logits"]

    def __repr__(self):
        return (f"ServingModel(path={str(self.path)!r}, input={self.input_name!r} "
                f"{self.input_spec.dtype.name}{tuple(self.input_spec.shape)}, "
                f"outputs={list(self.output_names)})")

    def op_counts(self):
        """The ops the serving signature runs, by type: a `collections.Counter`.

        Counts the nodes of the signature's graph and of every function in
        its library (the model's body is a function that the signature
        calls), e.g. to see what `fold_batchnorm` removed
        (`zoo.export.fold.batchnorm_ops`).
        """
        graph = self.signature.graph.as_graph_def()
        counts = collections.Counter(node.op for node in graph.node)
        for function in graph.library.function:
            counts.update(node.op for node in function.node_def)
        return counts

    def __call__(self, inputs):
        """Runs the signature.

        Args:
            inputs: array-like or tensor of the input's dtype (strings for
                text models, a lone string is a batch of one; numbers are
                cast to the signature's dtype), or a dict keyed by
                `input_name`.

        Returns:
            A NumPy array, or a dict of them when the signature has several
            outputs.

        Raises:
            ValueError: inputs of the wrong kind or shape.
        """
        _check_inputs(inputs)
        if isinstance(inputs, dict):
            if set(inputs) != {self.input_name}:
                raise ValueError(
                    f"inputs must be keyed by {self.input_name!r}, received keys "
                    f"{sorted(inputs)}")
            inputs = inputs[self.input_name]
        tensor = self._to_tensor(inputs)
        outputs = self.signature(**{self.input_name: tensor})
        if self.output_name is not None:
            return outputs[self.output_name].numpy()
        # The signature's own order is arbitrary; `output_names` is sorted
        # (a features_only model's "stage1", "stage2", ...: the model's order).
        return {name: outputs[name].numpy() for name in self.output_names}

    def _to_tensor(self, inputs):
        spec = self.input_spec
        if spec.dtype == tf.string:
            if isinstance(inputs, (str, bytes)):
                inputs = [inputs]
            if not tf.is_tensor(inputs):
                inputs = np.asarray(inputs, dtype=object)
                if inputs.size and not all(isinstance(s, (str, bytes)) for s in inputs.flat):
                    raise ValueError(
                        f"{self.input_name!r} takes strings, received "
                        f"{type(next(iter(inputs.flat))).__name__} values")
            tensor = tf.convert_to_tensor(inputs, dtype=tf.string)
        else:
            if isinstance(inputs, (str, bytes)):
                raise ValueError(f"{self.input_name!r} takes {spec.dtype.name} values, "
                                 f"received a string inputs={_validation.preview(inputs)}")
            try:
                tensor = tf.convert_to_tensor(inputs)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    f"{self.input_name!r} takes a {spec.dtype.name} array, received "
                    f"inputs={_validation.preview(inputs)} ({str(error)[:200]})") from None
            if tensor.dtype == tf.string:
                raise ValueError(
                    f"{self.input_name!r} takes {spec.dtype.name} values, received strings")
            if tensor.dtype.is_complex or not (tensor.dtype.is_floating or
                                                tensor.dtype.is_integer or
                                                tensor.dtype.is_bool):
                raise ValueError(f"{self.input_name!r} takes real {spec.dtype.name} values, "
                                 f"received dtype={tensor.dtype.name}")
            tensor = tf.cast(tensor, spec.dtype)
        if not spec.shape.is_compatible_with(tensor.shape):
            raise ValueError(
                f"{self.input_name!r} takes shape {_shape_str(spec.shape)}, received "
                f"shape {_shape_str(tensor.shape)}")
        return tensor


def _check_inputs(inputs):
    if inputs is None:
        raise TypeError("inputs must be an array, a tensor or a dict of one, received "
                        "inputs=None")


def _shape_str(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + ")"


__all__ = ["SIGNATURE_KEY", "ServingModel", "check_replaceable", "input_spec", "load",
           "output_name", "resolve", "save", "target_path"]
