"""TensorFlow SavedModel export: one `serving_default` signature, ready to serve.

Written with `keras.export.ExportArchive` from `model.input_signature`;
the output is named by `output_name`, and a model returning a dict
(`features_only=True`) gets one output per key. `version=N` writes
TensorFlow Serving's layout `path/N/`; `load(path)` takes the highest N.

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
# The output key of each classifier activation; any other is "predictions".
_OUTPUT_NAMES = {None: "logits", "linear": "logits", "softmax": "probabilities",
                 "sigmoid": "probabilities"}
# Output names of a single tensor (`output_name`'s and Keras' own); any other
# name is a key of a dict the model returned, and `ServingModel` returns a dict.
_TENSOR_OUTPUT_NAMES = ("logits", "probabilities", "predictions", "output_0")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def target_path(path, version=None, **_):
    """Where `save` writes: `path`, or `path/<version>` for TF Serving."""
    path = pathlib.Path(path)
    if version is None:
        return path
    return path / str(_validation.positive_int("version", version))


def output_name(model):
    """The signature's output key: `"logits"`, `"probabilities"` or `"predictions"`."""
    if not hasattr(model, "classifier_activation"):
        return "predictions"
    activation = model.classifier_activation
    if activation is not None and not isinstance(activation, str):
        activation = keras.activations.serialize(activation)
    return _OUTPUT_NAMES.get(activation, "predictions")


def input_spec(model):
    """The `tf.TensorSpec` of the signature's input, any batch size.

    From `model.input_signature`, else a functional model's single input.
    """
    spec = getattr(model, "input_signature", None)
    if spec is None and len(getattr(model, "inputs", None) or []) == 1:
        spec = model.inputs[0]
    if spec is None:
        raise ValueError(
            f"Cannot build a SavedModel signature for {getattr(model, 'name', model)!r}: "
            "it has no `input_signature` (zoo models) and is not a functional model "
            "with one input")
    return tf.TensorSpec(shape=(None, *spec.shape[1:]),  # any batch size
                         dtype=tf.as_dtype(spec.dtype or "float32"),
                         name=spec.name or "inputs")


def save(model, path, version=None):
    """Writes `model` as a SavedModel into the new directory `path`.

    `version` is already in `path` (`target_path`, checked there).
    """
    spec = input_spec(model)
    key = output_name(model)

    def serve(inputs):
        outputs = model(inputs, training=False)
        # A dict's keys (a features_only model's stages) name the outputs.
        return dict(outputs) if isinstance(outputs, dict) else {key: outputs}

    archive = keras.export.ExportArchive()
    endpoint = archive.add_endpoint(SIGNATURE_KEY, serve, input_signature=[spec])
    endpoint.get_concrete_function()  # builds every sublayer: `track` refuses unbuilt ones
    # Lookup tables are not found from the trace and must be tracked; a layer
    # with variables would store them twice (keras-team/keras#23553), and the
    # model itself would trace a float32 default signature text_rnn rejects.
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.built and not layer.variables and not isinstance(layer, keras.Model):
            archive.track(layer)
    archive.write_out(str(path), verbose=False)
    labels.write_saved_model(model, path)


def _is_saved_model_dir(path):
    return any((path / name).is_file() for name in _SAVED_MODEL_FILES)


def _versions(path):
    """The version numbers of `path`'s SavedModel subdirectories, sorted."""
    return sorted(int(child.name) for child in path.iterdir()
                  if child.name.isdigit() and _is_saved_model_dir(child))


def check_replaceable(target, found):
    """Refuses to replace `target` (a `found`) unless it holds SavedModels only.

    Any other directory may hold a user's files, which overwrite must never delete.
    """
    if found != "directory":
        raise ValueError(f"Not saving a SavedModel to {str(target)!r}: it is a {found}, not "
                         "a SavedModel directory; remove it yourself or choose another path")
    visible = [c for c in target.iterdir() if not c.name.startswith(".")]
    if not (_is_saved_model_dir(target) or 0 < len(visible) == len(_versions(target))):
        raise ValueError(
            f"Not saving a SavedModel to {str(target)!r}: it is a directory but not a "
            "SavedModel (nor version subdirectories of one), and overwrite=True only "
            "replaces a SavedModel; nothing was deleted")


def resolve(path):
    """`(directory, version)`: `path`, or its highest version subdirectory (version None)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ValueError(f"{str(path)!r} is not a SavedModel: a SavedModel is a directory")
    _atomic.recover_versions(path)
    if _is_saved_model_dir(path):
        return path, None
    versions = _versions(path)
    if not versions:
        raise ValueError(f"{str(path)!r} is not a SavedModel directory: it has no "
                         "saved_model.pb, nor version subdirectories (1/, 2/, ...) holding one")
    return path / str(versions[-1]), versions[-1]


def load(path):
    """Loads a SavedModel (the highest version of a versioned one) as a `ServingModel`."""
    directory, version = resolve(path)
    # TensorFlow reads every file under it: a FIFO there would block it.
    _files.check_tree(directory, "SavedModel")
    try:
        loaded = tf.saved_model.load(str(directory))
    except Exception as error:  # noqa: BLE001 -- TF raises many types for bad files
        raise ValueError(
            f"Could not load the SavedModel at {str(directory)!r}: it is truncated or "
            f"corrupt ({type(error).__name__}: {str(error)[:500]})") from error
    signatures = getattr(loaded, "signatures", {})
    if SIGNATURE_KEY not in signatures:
        raise ValueError(f"The SavedModel at {str(directory)!r} has no {SIGNATURE_KEY!r} "
                         f"signature; it has {sorted(signatures)}")
    return ServingModel(loaded, signatures[SIGNATURE_KEY], directory, version)


class ServingModel:
    """A loaded SavedModel's `serving_default` signature, callable like the model.

    Attributes:
        input_name, input_spec: the signature's input key and `tf.TensorSpec`.
        output_names: tuple of str. The signature's output keys, sorted.
        output_name: the key of a single-tensor output, else None (a dict).
        class_names, preprocessing, outputs_logits: from `zoo.export.labels`.
    """

    def __init__(self, loaded, signature, path, version=None):
        # A signature alone does not keep its variables alive.
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
        vars(self).update(labels.read_saved_model(self.path))  # class_names, ...

    def __repr__(self):
        return (f"ServingModel(path={str(self.path)!r}, input={self.input_name!r} "
                f"{self.input_spec.dtype.name}{tuple(self.input_spec.shape)}, "
                f"outputs={list(self.output_names)})")

    def op_counts(self):
        """The ops of the signature's graph and its functions: a `collections.Counter`."""
        graph = self.signature.graph.as_graph_def()
        counts = collections.Counter(node.op for node in graph.node)
        for function in graph.library.function:
            counts.update(node.op for node in function.node_def)
        return counts

    def __call__(self, inputs):
        """Runs the signature on an array, strings or `{input_name: ...}`; NumPy out."""
        check_inputs(inputs, "an array, a tensor or a dict of one")
        if isinstance(inputs, dict):
            if set(inputs) != {self.input_name}:
                raise ValueError(f"inputs must be keyed by {self.input_name!r}, received "
                                 f"keys {sorted(inputs)}")
            inputs = inputs[self.input_name]
        tensor = self._to_tensor(inputs)
        outputs = self.signature(**{self.input_name: tensor})
        if self.output_name is not None:
            return outputs[self.output_name].numpy()
        # Sorted: a features_only model's "stage1", "stage2", ... in the model's order.
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
            try:
                tensor = tf.convert_to_tensor(inputs)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    f"{self.input_name!r} takes a {spec.dtype.name} array, received "
                    f"inputs={_validation.preview(inputs)} ({str(error)[:200]})") from None
            if tensor.dtype == tf.string:
                raise ValueError(
                    f"{self.input_name!r} takes {spec.dtype.name} values, received "
                    f"strings: inputs={_validation.preview(inputs)}")
            if not (tensor.dtype.is_floating or tensor.dtype.is_integer or tensor.dtype.is_bool):
                raise ValueError(f"{self.input_name!r} takes real {spec.dtype.name} values, "
                                 f"received dtype={tensor.dtype.name}")
            tensor = tf.cast(tensor, spec.dtype)
        if not spec.shape.is_compatible_with(tensor.shape):
            raise ValueError(f"{self.input_name!r} takes shape {_shape_str(spec.shape)}, "
                             f"received shape {_shape_str(tensor.shape)}")
        return tensor


def check_inputs(inputs, takes):
    """TypeError for `inputs=None`, naming what the model `takes`."""
    if inputs is None:
        raise TypeError(f"inputs must be {takes}, received inputs=None")


def _shape_str(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + ")"


__all__ = ["SIGNATURE_KEY", "ServingModel", "check_replaceable", "input_spec", "load",
           "output_name", "resolve", "save", "target_path"]
