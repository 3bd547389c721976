"""TensorFlow Lite export: one self-contained `.tflite` flatbuffer per model.

Converted from a `keras.export.ExportArchive` with builtin ops only (no
Flex delegate). Models with recurrent loops get a static batch of 1 (a
masked RNN with a dynamic batch does not lower to builtin ops), others a
dynamic one; `TFLiteModel(x)` takes any batch size either way.

A text model is exported as its `token_twin` (TFLite cannot run
`TextVectorization`); the vocabulary travels in the file's JSON metadata
(`read_metadata(path)["text"]`), so `TFLiteModel(["some text"])` works.
`quantization="int8"` calibrates on `representative_data` (else random
`example_inputs()`, with a warning) and is refused for recurrent loops.
The metadata carries a SHA-256 of the file, which `load` checks.

Example:
>>> import tempfile, pathlib, numpy as np, zoo
>>> model = zoo.create_model("einsum_mlp", num_classes=3, input_shape=(8,),
...                          hidden_units=(4,))
>>> path = zoo.export.save(model, pathlib.Path(tempfile.mkdtemp()) / "mlp.tflite")
>>> lite = zoo.export.load(path)
>>> lite.quantization is None, lite.input_details[0]["dtype"].__name__
(True, 'float32')
>>> x = model.example_inputs(batch_size=3)
>>> bool(np.allclose(lite(x), model(x), atol=1e-5))
True
"""

import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import warnings

import flatbuffers
import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from zoo import _validation
from zoo.export import _files, _tflite_converter, labels, saved_model

QUANTIZATIONS = (None, "float16", "int8")
METADATA_NAME = "zoo_export"
FILE_IDENTIFIER = b"TFL3"
DEFAULT_SEQUENCE_LENGTH = 64
DEFAULT_REPRESENTATIVE_SAMPLES = 500

_FORMAT_TAG = "zoo.tflite"
_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
                  if not name.startswith("_")}
_DIGEST_KEY = "sha256"
_ZERO_DIGEST = "0" * 64
_TAKES = "an array or a tensor (strings for a text model)"


def save(model, path, quantization=None, representative_data=None, sequence_length=None,
         input_shape=None, int8_io=False,
         representative_samples=DEFAULT_REPRESENTATIVE_SAMPLES):
    """Writes `model` as a `.tflite` flatbuffer at `path` (see the module doc).

    Args:
        representative_data: int8 calibration inputs: an array, or an
            iterable of batches or of `(inputs, labels)` batches.
        sequence_length: int or None. Text models: tokens per text.
        input_shape: tuple or None. The input shape without the batch, for
            models whose signature leaves spatial dimensions as None.
        int8_io: bool. With `quantization="int8"`, int8 inputs and outputs.
        representative_samples: int. The most calibration examples used.
    """
    _validation.one_of("quantization", quantization, QUANTIZATIONS)
    int8_io = _validation.boolean("int8_io", int8_io)
    for given, name in ((int8_io, "int8_io=True"),
                        (representative_data is not None, "representative_data")):
        if given and quantization != "int8":  # else given and silently unused
            raise ValueError(f"{name} needs quantization='int8' (nothing else uses it), "
                             f"received quantization={quantization!r}")
    representative_samples = _validation.positive_int("representative_samples",
                                                      representative_samples)

    text, source = None, model
    twin = model.token_twin(sequence_length, DEFAULT_SEQUENCE_LENGTH) \
        if hasattr(model, "token_twin") else None  # a plain Keras model has no hook
    if twin is not None:
        model, text = twin
    elif sequence_length is not None:
        raise ValueError(
            f"sequence_length applies to text models only; {model.name!r} takes "
            f"{saved_model.input_spec(model).dtype.name} inputs, received "
            f"sequence_length={sequence_length!r}")
    spec = saved_model.input_spec(model)
    shape = _concrete_shape(model, spec, input_shape)
    dtype = spec.dtype.name
    loops = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
             if isinstance(layer, keras.layers.RNN) and not layer.unroll]
    if quantization == "int8" and loops:
        raise ValueError(
            f"quantization='int8' is not available for {model.name!r}: its recurrent "
            f"layers {[layer.name for layer in loops]} run as a loop, which TensorFlow's "
            "int8 calibrator crashes on (and unrolled, int8 loses accuracy). Use "
            "quantization='float16' or None")
    # The data first: checking it needs no trace of the model (seconds for a DenseNet).
    calibration = _calibration_examples(source, text, representative_data, shape, dtype,
                                        representative_samples) if quantization == "int8" else None
    _check_single_output(model, shape, dtype)
    # A masked RNN with a dynamic batch does not lower to builtin ops.
    batches = [1] if loops else [None, 1]
    errors = []
    for batch in batches:
        try:
            flatbuffer = _convert(model, (batch,) + shape, dtype, spec.name, quantization,
                                  calibration, int8_io)
            break  # `batch` is what the file holds
        except _ConversionError as error:
            errors.append(f"batch={batch}: {error}")
    else:
        raise ValueError(f"TFLite cannot convert {model.name!r} with builtin ops "
                         f"(quantization={quantization!r}): " + " | ".join(errors))
    floats = _float_constants(flatbuffer) if quantization == "int8" else []
    if floats:  # never a file labelled int8 that is float inside
        raise ValueError(
            f"int8 conversion of {model.name!r} left {len(floats)} float32 weight tensors "
            f"(e.g. {floats[:3]}): calibration found no usable ranges in "
            "representative_data; pass real inputs, preprocessed as for the model")

    metadata = {
        "format": _FORMAT_TAG, "version": 1, "model_class": type(model).__name__,
        "model_name": model.name, "quantization": quantization, "int8_io": bool(int8_io),
        "input": {"name": spec.name, "dtype": str(dtype), "shape": [batch, *shape]},
        "text": text, **labels.of_model(source)}
    pathlib.Path(path).write_bytes(_with_metadata(flatbuffer, metadata))
    return pathlib.Path(path)


class _ConversionError(Exception):
    pass


def _concrete_shape(model, spec, input_shape):
    """The input shape without the batch, every dimension an int."""
    declared = tuple(spec.shape[1:])
    if input_shape is not None:
        given = tuple(input_shape)
        if len(given) != len(declared) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in given) \
                or any(d is not None and d != g for d, g in zip(declared, given)):
            raise ValueError(
                f"input_shape must be {len(declared)} positive ints fitting the "
                f"model's input {(None,) + declared} (batch excluded), received "
                f"input_shape={input_shape!r}")
        return given
    if any(d is None for d in declared):
        raise ValueError(
            f"TFLite needs a fixed input shape, but {model.name!r} takes inputs of "
            f"shape {(None,) + declared}: pass input_shape=(...) without the batch, "
            "e.g. zoo.export.save(model, 'm.tflite', input_shape=(224, 224, 3))")
    return declared


def _check_single_output(model, shape, dtype):
    """Refuses several outputs: the converter would order them its own way."""
    outputs = model.compute_output_spec(keras.KerasTensor((None,) + shape, dtype=dtype))
    if keras.tree.is_nested(outputs):
        what = (f"a dict of {list(outputs)}" if isinstance(outputs, dict)
                else f"{len(keras.tree.flatten(outputs))} tensors")
        raise ValueError(
            f"TFLite export takes models with a single output; {model.name!r} returns "
            f"{what} (a features_only=True model's feature maps). Export it with "
            "format='saved_model', whose signature has one named output per key, or "
            "export a functional model of the one map you need, e.g. "
            "keras.Model(x, model(x)['stage4']) for x = keras.Input(...)")


def _vectorizer(text):
    return keras.layers.TextVectorization(
        output_mode="int", output_sequence_length=text["sequence_length"],
        vocabulary=list(text["vocabulary"]),
        **{key: text[key] for key in ("max_tokens", "standardize", "split", "ngrams")})


def _float_constants(flatbuffer):
    """The names of the float32 constant tensors of a flatbuffer (none in a true int8 file)."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    return [tensor.name.decode() for graph in model.subgraphs for tensor in graph.tensors
            if tensor.type == schema.TensorType.FLOAT32
            and model.buffers[tensor.buffer].data is not None
            and len(model.buffers[tensor.buffer].data)]


# Where no preprocessing is recorded: no image preprocessing gives larger
# values, and int8 ranges that wide quantize every ordinary input to zero.
_CALIBRATION_LIMIT = 1e4


def _input_range(model):
    """`(low, high, why)`: the values the model's inputs can take."""
    spec = getattr(model, "preprocessing", None) or {}
    if "scale" in spec and "offset" in spec:  # input = pixel * scale + offset
        ends = sorted((spec["offset"], 255 * spec["scale"] + spec["offset"]))
        slack = 1e-3 * (ends[1] - ends[0])
        return (ends[0] - slack, ends[1] + slack,
                f"pixels in [0, 255] * scale {spec['scale']:.6g} + offset {spec['offset']:.6g}")
    return -_CALIBRATION_LIMIT, _CALIBRATION_LIMIT, f"|x| <= {_CALIBRATION_LIMIT:g}"


def _calibration_problem(batch, model):
    """Why a float model's calibration batch would make a wrong int8 model, or None."""
    if batch.dtype.kind != "f":  # a cast would turn 0.5 into 0, a mask into 1.0
        return (f"holds {batch.dtype} values; the model takes floats, so pass its inputs "
                "as floats, preprocessed as for the model")
    finite = np.isfinite(batch)
    if not finite.all():
        at = tuple(int(i) for i in np.argwhere(~finite)[0])
        return f"holds non-finite values (NaN or inf), e.g. at {at}"
    low, high, why = _input_range(model)
    if batch.size and (batch.min() < low or batch.max() > high):
        return (f"holds values from {batch.min():.6g} to {batch.max():.6g}, outside the "
                f"model's input range ({why})")
    return None


def _calibration_examples(model, text, data, shape, dtype, limit):
    """Up to `limit` single examples `(1,) + shape`; `model` is the model as given."""
    if data is None:
        count = min(limit, 100)
        warnings.warn(
            f"quantization='int8' without representative_data: calibrating "
            f"{model.name} on {count} random example_inputs(); pass real inputs as "
            "representative_data= for useful int8 ranges", stacklevel=4)
        data = [model.example_inputs(batch_size=count)]
    elif isinstance(data, np.ndarray) or _is_tensor(data) or _is_strings(data):
        data = [data]
    elif isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise ValueError(
            "representative_data must be an array, a tensor, or an iterable of batches "
            f"(or of (inputs, labels) batches), received representative_data="
            f"{_validation.preview(data)}")
    vectorizer = _vectorizer(text) if text is not None else None
    examples = []
    for index, batch in enumerate(data):
        if isinstance(batch, (tuple, list)) and len(batch) == 2 and not _is_strings(batch):
            batch = batch[0]  # (inputs, labels)
        try:
            batch = _numpy(batch)
            if vectorizer is not None:
                batch = _tokens(vectorizer, batch, text["sequence_length"], text["max_tokens"])
        except ValueError as error:
            raise ValueError(f"representative_data batch {index}: {error}") from None
        problem = None if vectorizer is not None else _calibration_problem(batch, model)
        if problem:
            raise ValueError(f"representative_data batch {index} {problem}")
        batch = np.asarray(batch).astype(dtype)
        if batch.shape[1:] != shape:
            raise ValueError(
                f"representative_data must hold inputs of shape (batch, "
                f"{', '.join(map(str, shape))}), received a batch of shape {batch.shape}")
        for example in batch:
            examples.append(example[None])
            if len(examples) == limit:
                return examples
    if not examples:
        raise ValueError("representative_data is empty")
    return examples


def _is_tensor(x):
    return hasattr(x, "numpy") and hasattr(x, "dtype") and hasattr(x, "shape")


def _is_strings(x):
    return isinstance(x, (tuple, list)) and all(isinstance(t, (str, bytes)) for t in x)


def _numpy(x):
    if _is_tensor(x):
        x = x.numpy()
    if _is_strings(x) and x:
        return np.array(x, dtype=object)
    return np.asarray(x)


def _tokens(vectorizer, batch, sequence_length, max_tokens=None):
    """Token ids `(n, sequence_length)` int32 for strings, or ids padded/cut."""
    batch = np.asarray(batch)
    if batch.dtype.kind in "OUS":
        if batch.ndim != 1:
            raise ValueError(
                f"a text model takes a 1-D batch of strings, received shape {batch.shape}")
        if batch.size == 0:
            return np.zeros((0, sequence_length), "int32")
        return np.asarray(vectorizer(batch.astype(object))).astype("int32")
    if batch.dtype.kind in "iu" and batch.ndim == 2:
        if max_tokens is not None and batch.size and (batch.min() < 0 or
                                                       batch.max() >= max_tokens):
            raise ValueError(
                f"token ids must be in [0, {max_tokens}) (max_tokens={max_tokens}), received "
                f"ids from {batch.min()} to {batch.max()}")
        ids = np.zeros((batch.shape[0], sequence_length), "int32")
        width = min(sequence_length, batch.shape[1])
        ids[:, :width] = batch[:, :width]
        return ids
    raise ValueError(
        "a text model takes strings (batch,) or int token ids (batch, time), "
        f"received dtype={batch.dtype} and shape={batch.shape}")


def _convert(model, shape, dtype, name, quantization, calibration, int8_io):
    # Through a SavedModel: a converted concrete function leaves Keras' variables uninitialized.
    with tempfile.TemporaryDirectory(prefix="zoo-tflite-") as scratch:
        archive = keras.export.ExportArchive()
        # Not `track(model)`: it traces a float32 default signature that a
        # token model rejects; the endpoint's trace finds every variable.
        archive.add_endpoint(
            "serve", lambda inputs: model(inputs, training=False),
            input_signature=[tf.TensorSpec(shape, dtype, name=name)])
        saved = str(pathlib.Path(scratch) / "saved_model")
        archive.write_out(saved, verbose=False)
        float_input = str(dtype).startswith("float")
        if quantization == "int8":
            return _calibrated_in_child(model, scratch, saved, calibration, float_input,
                                        int8_io)
        try:
            return _tflite_converter.convert(saved, quantization, float_input, int8_io)
        except Exception as error:  # ConverterError and friends
            raise _ConversionError(_first_lines(str(error))) from error


def _calibrated_in_child(model, scratch, saved, calibration, float_input, int8_io):
    """int8 conversion in a child process: a calibrator crash cannot end this one."""
    examples, output = pathlib.Path(scratch) / "calibration.npy", pathlib.Path(scratch) / "out"
    np.save(examples, np.stack(calibration))
    child = subprocess.run(
        [sys.executable, _tflite_converter.__file__, saved, str(examples), str(output),
         str(int(float_input)), str(int(int8_io))],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    # TensorFlow's start-up logging first; what the converter said last.
    said = [line for line in child.stderr.splitlines()
            if line.strip() and not re.match(r"[IWE]\d{4} |WARNING: All log", line)]
    if child.returncode == _tflite_converter.REFUSED:
        raise _ConversionError(_first_lines("\n".join(said)))
    if child.returncode != 0:
        how = (f"was killed by signal {-child.returncode}" if child.returncode < 0
               else f"exited with status {child.returncode}")
        raise ValueError(
            f"TFLite's int8 converter {how} calibrating {model.name!r} on "
            f"representative_data (run apart, so this process lives on; nothing was "
            f"written){': ' + ' '.join(said[-2:])[:300] if said else ''}")
    return output.read_bytes()


def _first_lines(message, count=3):
    lines = [line for line in message.splitlines() if line.strip()]
    return " ".join(lines[:count])[:600]


def _with_metadata(flatbuffer, metadata):
    """`flatbuffer` with `metadata` as JSON, carrying the file's SHA-256."""
    payload = json.dumps({**metadata, _DIGEST_KEY: _ZERO_DIGEST}, ensure_ascii=True,
                         sort_keys=True).encode("ascii")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME.encode("ascii")
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or [])
                      if m.name != entry.name] + [entry]
    builder = flatbuffers.Builder(len(flatbuffer) + len(payload) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    data = bytearray(builder.Output())
    start = _digest_offset(data, payload)
    data[start:start + 64] = _digest(data, start).encode("ascii")
    return bytes(data)


def _digest_offset(data, payload):
    """Where the digest inside `payload` (found once in `data`) starts."""
    at = data.find(payload)
    if at < 0 or data.find(payload, at + 1) >= 0:
        raise RuntimeError("zoo metadata not found exactly once in the flatbuffer")
    marker = f'"{_DIGEST_KEY}": "'.encode("ascii")
    return at + payload.index(marker) + len(marker)


def _digest(data, start):
    """The SHA-256 of `data` with the 64 digest characters at `start` zeroed."""
    zeroed = bytearray(data)
    zeroed[start:start + 64] = _ZERO_DIGEST.encode("ascii")
    return _files.sha256(zeroed)


def _metadata(path, data):
    """The zoo metadata of a flatbuffer (None if none), its SHA-256 checked."""
    try:
        model = schema.Model.GetRootAs(data, 0)
        entries = [model.Metadata(i) for i in range(model.MetadataLength())]
        payload = next((bytes(model.Buffers(entry.Buffer()).DataAsNumpy())
                        for entry in entries
                        if entry.Name() == METADATA_NAME.encode("ascii")), None)
        if payload is None:
            return None
        metadata = json.loads(payload.decode("ascii"))
        start = _digest_offset(data, payload)
        intact = metadata.get(_DIGEST_KEY) == _digest(data, start)
    except Exception as error:
        why = f"its zoo metadata cannot be read ({error})"
        raise _invalid(path, why) from error
    if not intact:
        raise _invalid(path, "its bytes do not match the SHA-256 written with "
                       "it (corrupted since it was saved)")
    return metadata


def read_metadata(path):
    """The zoo metadata of a `.tflite` (dict), or None for a foreign file.

    For a text model, `["text"]` holds the vocabulary and tokenizer settings.

    Raises:
        ValueError: the file is not a valid, intact TFLite flatbuffer.
    """
    path = pathlib.Path(path)
    data = _read_checked(path)
    _interpreter(path, data)  # runs the flatbuffer verifier
    return _metadata(path, data)


def _invalid(path, why):
    return ValueError(f"{str(path)!r} is not a valid TFLite model: {why}")


def _read_checked(path):
    data = _files.read_bounded(path, "TFLite model")
    if len(data) < 8:
        raise _invalid(path, f"it holds only {len(data)} bytes (truncated?)")
    if data[4:8] != FILE_IDENTIFIER:
        raise _invalid(
            path, f"it lacks the TFLite flatbuffer identifier {FILE_IDENTIFIER!r} at "
            f"bytes 4..8 (found {data[4:8]!r}; another format, or a corrupt file)")
    return data


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
        return Interpreter, "ai_edge_litert"
    except ImportError:
        return tf.lite.Interpreter, "tf.lite"


def _interpreter(path, data, num_threads=None, delegates=True):
    """An allocated interpreter of `data`; constructing it runs the flatbuffer verifier."""
    interpreter_class, _ = _interpreter_class()
    kwargs = {"model_content": data, "num_threads": num_threads}
    if not delegates:
        module = __import__(interpreter_class.__module__, fromlist=["OpResolverType"])
        kwargs["experimental_op_resolver_type"] = \
            module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with warnings.catch_warnings():
            # tf.lite.Interpreter warns on every construction: a fallback chosen knowingly.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            interpreter = interpreter_class(**kwargs)
            interpreter.allocate_tensors()
    except Exception as error:
        raise _invalid(path, f"the interpreter rejects it ({_first_lines(str(error))})") \
            from error
    return interpreter


def load(path, num_threads=None):
    """Loads a `.tflite` file as a `TFLiteModel`; ValueError names a bad file."""
    return TFLiteModel(path, num_threads=num_threads)


class TFLiteModel:
    """A `.tflite` file behind a Keras-like call: batches in, float32 out.

    Attributes:
        quantization: None, `"float16"` or `"int8"`.
        metadata: the zoo metadata dict, or None for a foreign file.
        class_names, preprocessing, outputs_logits: from the metadata.
        vocabulary, sequence_length: a text model's, else None.
        runtime: `"ai_edge_litert"` or `"tf.lite"`.
        delegate: `"xnnpack"`, or None where XNNPACK refused the model.
    """

    def __init__(self, path, num_threads=None):
        self.path = _files.check_path("path", path)
        if num_threads is not None:
            num_threads = _validation.positive_int("num_threads", num_threads)
        data = _read_checked(self.path)
        self._data, self._num_threads = data, num_threads
        self._lock = threading.RLock()  # an interpreter is not thread-safe
        self.runtime = _interpreter_class()[1]
        # Construction runs the flatbuffer verifier before anything reads the model.
        interpreter = self._new_interpreter(delegates=True)
        metadata = _metadata(self.path, data)
        if len(interpreter.get_input_details()) != 1:
            raise _invalid(self.path, "TFLiteModel runs models with exactly one input, "
                           f"this one has {len(interpreter.get_input_details())}")
        self._interpreter, self.delegate = interpreter, "xnnpack"
        detail = interpreter.get_input_details()[0]
        signature = detail.get("shape_signature", detail["shape"])
        self._dynamic_batch = int(signature[0]) == -1
        self._batch = int(detail["shape"][0])
        try:  # a model the runtime cannot execute fails here, naming the file
            self._run(np.zeros(detail["shape"], detail["dtype"]))
        except RuntimeError as error:
            raise _invalid(self.path, "the interpreter cannot run it "
                           f"({_first_lines(str(error))})") from error
        self.metadata = metadata
        self.quantization = (metadata or {}).get("quantization")
        self._text = (metadata or {}).get("text")
        self.vocabulary = None if self._text is None else list(self._text["vocabulary"])
        self.sequence_length = None if self._text is None else self._text["sequence_length"]
        try:
            vars(self).update(labels.from_record(metadata, str(self.path)))  # class_names, ...
        except ValueError as error:
            raise _invalid(self.path, str(error)) from None
        self._vectorizer = None if self._text is None else _vectorizer(self._text)

    def _new_interpreter(self, delegates):
        return _interpreter(self.path, self._data, self._num_threads, delegates)

    def __repr__(self):
        return (f"TFLiteModel({str(self.path)!r}, quantization={self.quantization!r}, "
                f"runtime={self.runtime!r})")

    def op_counts(self):
        """The file's operators by name (`"CONV_2D"`, ...): a `collections.Counter`."""
        model = schema.Model.GetRootAs(self._data, 0)
        names = []
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            # Codes above 127 are only in BuiltinCode, older files fill only the other.
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            names.append(code.CustomCode().decode() if builtin == schema.BuiltinOperator.CUSTOM
                         else _BUILTIN_NAMES.get(builtin, str(builtin)))
        counts = collections.Counter()
        for g in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(g)
            counts.update(names[subgraph.Operators(i).OpcodeIndex()]
                          for i in range(subgraph.OperatorsLength()))
        return counts

    @property
    def input_details(self):
        with self._lock:
            return self._interpreter.get_input_details()

    @property
    def output_details(self):
        with self._lock:
            return self._interpreter.get_output_details()

    def tokenize(self, texts):
        """Token ids `(batch, sequence_length)` int32, as the Keras model makes them."""
        if self._vectorizer is None:
            raise ValueError(f"{str(self.path)!r} is not a text model: nothing to tokenize")
        saved_model.check_inputs(texts, _TAKES)
        with self._lock:
            return _tokens(self._vectorizer, _numpy(texts), self.sequence_length,
                           self._text["max_tokens"] or len(self.vocabulary))

    def __call__(self, inputs):
        """Runs a batch of any size (strings or token ids for a text model); float32 out."""
        saved_model.check_inputs(inputs, _TAKES)
        with self._lock:
            return self._call(inputs)

    def _call(self, inputs):
        x = _numpy(inputs)
        if self._vectorizer is not None:
            x = self.tokenize(x)
        elif x.dtype.kind in "OUSV":
            raise ValueError(f"{self.path.name} takes numbers, received "
                             f"inputs={_validation.preview(inputs)} (dtype {x.dtype})")
        if x.dtype.kind == "c":
            raise ValueError(f"{self.path.name} takes real numbers, received complex "
                             f"inputs of dtype {x.dtype}")
        detail = self.input_details[0]
        expected = tuple(int(d) for d in detail.get("shape_signature", detail["shape"])[1:])
        if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{self.path.name} takes inputs of shape (batch, "
                f"{', '.join(map(str, expected))}), received shape={tuple(x.shape)}")
        x = _to_input(x, detail)
        if len(x) == 0:
            outputs = [np.zeros((0, *map(int, o["shape"][1:])), "float32")
                       for o in self.output_details]
        elif self._dynamic_batch:
            outputs = self._run(x)
        else:  # a static batch: chunks of it, the last one padded
            pad = np.repeat(x[-1:], -len(x) % self._batch, axis=0)
            padded = np.concatenate([x, pad])
            chunks = [self._run(padded[start:start + self._batch])
                      for start in range(0, len(padded), self._batch)]
            outputs = [np.concatenate(parts)[:len(x)] for parts in zip(*chunks)]
        return outputs[0] if len(outputs) == 1 else outputs

    def _run(self, x):
        try:
            return self._run_once(x)
        except RuntimeError as error:
            # XNNPACK can refuse a resized shape; a concurrency error is not its fault.
            if self.delegate is None or "reference to internal data" in str(error):
                raise
            self._interpreter, self.delegate = self._new_interpreter(delegates=False), None
            return self._run_once(x)

    def _run_once(self, x):
        interpreter = self._interpreter
        index = interpreter.get_input_details()[0]["index"]
        if self._dynamic_batch and int(interpreter.get_input_details()[0]["shape"][0]) != len(x):
            interpreter.resize_tensor_input(index, list(x.shape))
            interpreter.allocate_tensors()
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return [_from_output(interpreter.get_tensor(o["index"]), o)
                for o in interpreter.get_output_details()]


def _quant(detail):
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero_point)


def _to_input(x, detail):
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = _quant(detail)
    if dtype.kind in "iu" and scale and x.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)
    return x.astype(dtype, copy=False)


def _from_output(y, detail):
    scale, zero_point = _quant(detail)
    if np.dtype(detail["dtype"]).kind in "iu" and scale:
        return ((y.astype("float32") - zero_point) * scale).astype("float32")
    return np.array(y, dtype="float32")


__all__ = ["QUANTIZATIONS", "TFLiteModel", "load", "read_metadata", "save"]
