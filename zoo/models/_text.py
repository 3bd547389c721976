"""What every text family shares: raw strings in, token ids in between.

`TextVectorization` lives inside the model, so the model owns its
vocabulary. Raw strings need the TensorFlow backend; elsewhere build with
`input_mode="tokens"` and vectorize in the `tf.data` pipeline.
"""

import functools
import numbers
import warnings

import keras
import numpy as np

from zoo import _validation
from zoo.models.base import ZooModel

INPUT_MODES = ("string", "tokens")
STANDARDIZE = (None, "lower_and_strip_punctuation", "lower", "strip_punctuation")

# TextVectorization's vocabulary starts with the padding "" and the OOV "[UNK]".
_RESERVED_TOKENS = 2
_OOV_ID = 1

# Words for example_inputs().
_EXAMPLE_WORDS = ("the", "film", "was", "not", "good", "bad", "but", "acting",
                  "great", "plot", "boring", "and", "very", "at", "all")


def _taking_texts(name, keyword="x"):
    """`keras.Model.<name>`, its inputs (and `validation_data`'s) through `_standardize_inputs`."""
    @functools.wraps(getattr(keras.Model, name))
    def entry_point(self, *args, **kwargs):
        if args:
            args = (self._standardize_inputs(args[0]), *args[1:])
        elif keyword in kwargs:
            kwargs[keyword] = self._standardize_inputs(kwargs[keyword])
        validation = kwargs.get("validation_data")
        if isinstance(validation, (list, tuple)) and validation:
            kwargs["validation_data"] = (self._standardize_inputs(validation[0]),
                                         *validation[1:])
        return getattr(super(TextClassifier, self), name)(*args, **kwargs)

    entry_point.__qualname__ = f"TextClassifier.{name}"
    return entry_point


class TextClassifier(ZooModel):
    """Base class of the text families: tokenizer settings, vocabulary, inputs.

    A family checks its own arguments after `super().__init__(...)`, calls
    `self._create_vectorizer()`, and starts `call` with
    `tokens = self._tokens(inputs)`: int ids `(batch, time)`, 0 = padding,
    1 = out of vocabulary.

    Args:
        num_classes: int. Number of output logits.
        max_tokens: int. Vocabulary size including padding and OOV.
        sequence_length: int or None. Pad/truncate every text to this many
            tokens; None pads each batch to its longest text.
        standardize: `TextVectorization` standardization.
        ngrams: int or None. `TextVectorization(ngrams=...)`.
        vocabulary: list of str or None. Instead of `adapt()`; the learned
            vocabulary is kept here so that it travels in `get_config()`.
        input_mode: `"string"` (raw text, TensorFlow backend only) or
            `"tokens"` (int ids right-padded with 0; out-of-range ids are a
            ValueError when concrete and read as OOV when traced).
        classifier_activation: str or None. Head activation; None = logits.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Example (the shared part of every text family, seen through `text_rnn`):
    >>> import zoo
    >>> model = zoo.create_model("text_rnn", num_classes=2, max_tokens=100)
    >>> model.needs_adapt, model.input_signature.dtype
    (True, 'string')
    >>> model.adapt(["a good film", "not a good film", "bad"])
    >>> model.vocabulary[:4]
    ('', '[UNK]', 'good', 'film')
    """

    modality = "text"
    # String inputs need TensorFlow's string ops; token ids run anywhere.
    info = {"portable": {"input_mode": "tokens"}}

    def __init__(self, num_classes=2, max_tokens=20000, sequence_length=None,
                 standardize="lower_and_strip_punctuation", ngrams=None, vocabulary=None,
                 input_mode="string", classifier_activation=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _validation.positive_int("num_classes", num_classes)
        self.max_tokens = _validation.positive_int("max_tokens", max_tokens)
        if self.max_tokens < 3:
            raise ValueError(
                "max_tokens must leave room for padding, OOV and at least one "
                f"word (>= 3), received max_tokens={max_tokens!r}")
        self.sequence_length = (
            None if sequence_length is None
            else _validation.positive_int("sequence_length", sequence_length))
        self.standardize = _validation.one_of("standardize", standardize, STANDARDIZE)
        self.ngrams = None if ngrams is None else _validation.positive_int("ngrams", ngrams)
        self.input_mode = _validation.one_of("input_mode", input_mode, INPUT_MODES)
        self.classifier_activation = _validation.activation(
            classifier_activation, "classifier_activation")
        self.vocabulary = self._check_vocabulary(vocabulary)
        self.vectorizer = None

    def _create_vectorizer(self):
        """Creates `self.vectorizer` (None in token mode); string mode needs TensorFlow."""
        if self.input_mode == "string" and keras.backend.backend() != "tensorflow":
            raise ValueError(self._string_mode_error())
        if self.input_mode == "string":
            self.vectorizer = keras.layers.TextVectorization(
                max_tokens=self.max_tokens, standardize=self.standardize, ngrams=self.ngrams,
                output_mode="int", output_sequence_length=self.sequence_length,
                vocabulary=None if self.vocabulary is None else list(self.vocabulary),
                name="vectorizer"
            )

    def _string_mode_error(self):
        backend = keras.backend.backend()
        layer_args = f"max_tokens={self.max_tokens}"
        if self.standardize != "lower_and_strip_punctuation":
            layer_args += f", standardize={self.standardize!r}"
        if self.ngrams is not None:
            layer_args += f", ngrams={self.ngrams}"
        if self.sequence_length is not None:
            layer_args += f", output_sequence_length={self.sequence_length}"
        if self.vocabulary is not None:
            layer_args += ", vocabulary=vocabulary"
        return (
            "input_mode='string' needs the TensorFlow backend (the model tokenizes with "
            "keras.layers.TextVectorization, which runs TensorFlow string ops); the Keras backend "
            f"is {backend!r}. Received input_mode={self.input_mode!r}. On {backend}, build the "
            "model with input_mode='tokens' and turn texts into token ids in a tf.data pipeline: "
            f"vectorizer = keras.layers.TextVectorization({layer_args}); "
            + ("" if self.vocabulary is not None else "vectorizer.adapt(texts); ")
            + "dataset = tf.data.Dataset.from_tensor_slices((texts, labels))"
            ".batch(32).map(lambda x, y: (vectorizer(x), y)); "
            f"model = {type(self).__name__}(input_mode='tokens', "
            f"max_tokens={self.max_tokens}, ...)."
        )

    def _check_vocabulary(self, vocabulary):
        """A vocabulary Keras will take, as a tuple (Keras' errors name no argument)."""
        if vocabulary is None:
            return None
        shown = f"vocabulary={_validation.preview(vocabulary, 200)}"
        if isinstance(vocabulary, (str, bytes)) or not isinstance(
                vocabulary, (list, tuple, np.ndarray)) \
                or not all(isinstance(t, str) for t in vocabulary):
            raise ValueError(f"vocabulary must be a list of strings, received {shown}")
        reserved = ("", "[UNK]")
        words = [t for t in vocabulary if t not in reserved]
        if len(words) != len(vocabulary) and (
                tuple(vocabulary[:2]) != reserved or len(words) != len(vocabulary) - 2):
            raise ValueError(
                "vocabulary may start with '' and '[UNK]' (as get_vocabulary() lists "
                f"them) and hold them nowhere else, received {shown}")
        if not words:
            raise ValueError(f"vocabulary must hold at least one word, received {shown}")
        repeated = sorted({t for t in words if words.count(t) > 1})
        if repeated:
            raise ValueError(
                f"vocabulary must not repeat a word, received {shown}, which repeats "
                f"{repeated[:10]}")
        if len(words) + _RESERVED_TOKENS > self.max_tokens:
            raise ValueError(
                f"vocabulary has {len(words)} words, more than max_tokens={self.max_tokens} leaves "
                f"room for (the padding and OOV tokens take 2), received {shown}")
        return tuple(vocabulary)

    def adapt(self, data, batch_size=None, steps=None):
        """Builds the vocabulary from texts: a list, NumPy array or `tf.data.Dataset`
        of strings or `(text, label)` pairs. A failed adapt leaves it as it was."""
        if self.vectorizer is None:
            raise ValueError(
                f"adapt() builds the vocabulary of a string model; this model "
                f"has input_mode={self.input_mode!r} and takes token ids")
        self._check_adapt_data(data)
        if batch_size is not None:
            _validation.positive_int("batch_size", batch_size)
        if steps is not None:
            _validation.positive_int("steps", steps)
        element_spec = getattr(data, "element_spec", None)
        if isinstance(element_spec, tuple):  # (text, label) pairs: keep the text
            data = data.map(lambda text, *_: text)
        elif isinstance(data, (list, tuple)):
            data = np.asarray(data, dtype=object)
        # A fresh twin: Keras keeps the old vocabulary when the data has no words.
        config = {**self.vectorizer.get_config(), "vocabulary": None}
        learner = keras.layers.TextVectorization.from_config(config)
        learner.adapt(data, batch_size=batch_size, steps=steps)
        vocabulary = tuple(str(token) for token in learner.get_vocabulary())
        if len(vocabulary) <= _RESERVED_TOKENS:
            raise ValueError(
                "adapt() found no words in data (every text empty after "
                f"standardize={self.standardize!r}), so every token would be "
                f"[UNK]; received data={_validation.preview(data, 200)}")
        self.vectorizer.set_vocabulary(list(vocabulary))
        self.vocabulary = vocabulary

    @staticmethod
    def _check_adapt_data(data):
        """Refuses what would give a vocabulary of characters or of nothing."""
        if isinstance(data, (str, bytes)):
            raise ValueError(
                "adapt() takes many texts (a list of str, a NumPy array or a "
                f"tf.data.Dataset), received one string data={_validation.preview(data, 200)}; "
                f"pass [data] to learn the words of this one text")
        if data is None or isinstance(data, (dict, set, numbers.Number)):
            raise TypeError(
                "adapt() takes texts: a list of str, a NumPy array or a "
                f"tf.data.Dataset, received data={_validation.preview(data, 200)}")
        if isinstance(data, (list, tuple, np.ndarray)):
            if len(data) == 0:
                raise ValueError("adapt() needs at least one text, received "
                                 f"data={_validation.preview(data, 200)}")
            for index, text in enumerate(np.asarray(data, dtype=object).flat):
                if not isinstance(text, (str, bytes)):
                    raise ValueError(
                        "adapt() takes texts (str), received "
                        f"data={_validation.preview(data, 200)}, whose element {index} is {text!r} "
                        f"of type {type(text).__name__}")
        elif hasattr(data, "cardinality") and int(data.cardinality()) == 0:
            raise ValueError(
                f"adapt() needs at least one text, received data={_validation.preview(data, 200)} "
                "(an empty dataset)")

    def check_savable(self):
        """A string model needs its vocabulary: without one its file cannot load."""
        if self.input_mode == "string" and self.vocabulary is None:
            raise ValueError(
                f"Cannot save {self.name!r}: it has no vocabulary yet (input_mode='string'), and a "
                "model saved without one cannot be loaded. Call model.adapt(texts) or "
                "model.set_vocabulary(...) first, or build it with vocabulary=[...].")

    @property
    def needs_adapt(self):
        """A string model learns its vocabulary from training texts (`adapt`)."""
        return self.input_mode == "string"

    def token_twin(self, sequence_length=None, default_sequence_length=None):
        """The same weights in a token-id model, and the tokenizer's settings (see `ZooModel`)."""
        if self.input_mode != "string":
            return None
        if self.vocabulary is None:
            raise ValueError(
                f"Cannot export {self.name!r} as a token model: it has no vocabulary "
                "yet (call model.adapt(texts) or set_vocabulary first)")
        own = self.sequence_length
        if sequence_length is not None:
            sequence_length = _validation.positive_int("sequence_length", sequence_length)
            if own is not None and own != sequence_length:
                raise ValueError(
                    f"sequence_length={sequence_length!r} conflicts with the model's "
                    f"sequence_length={own}; leave it out to use the model's")
        elif own is not None:
            sequence_length = own
        else:
            sequence_length = default_sequence_length
            warnings.warn(
                f"{self.name} has sequence_length=None; the exported model takes "
                f"sequence_length={sequence_length} tokens per text (longer texts are "
                "truncated): pass sequence_length= to choose", stacklevel=4)
        with warnings.catch_warnings():
            # The user saw the model's construction warnings already.
            warnings.simplefilter("ignore")
            twin = self.rebuilt(input_mode="tokens", vocabulary=None,
                                sequence_length=sequence_length)
        tokenizer = {
            "vocabulary": [str(t) for t in self.vocabulary], "standardize": self.standardize,
            "split": "whitespace", "ngrams": self.ngrams, "max_tokens": self.max_tokens,
            "sequence_length": sequence_length
        }
        return twin, tokenizer

    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary directly (`""` and `"[UNK]"` first, as Keras lists it)."""
        if self.vectorizer is None:
            raise ValueError(
                f"set_vocabulary() needs input_mode='string', this model has "
                f"input_mode={self.input_mode!r}")
        vocabulary = self._check_vocabulary(vocabulary)
        self.vectorizer.set_vocabulary(list(vocabulary))
        self.vocabulary = tuple(str(t) for t in self.vectorizer.get_vocabulary())

    # Keras reads a list as one input per element before any model hook sees it.
    __call__ = _taking_texts("__call__", "inputs")
    predict = _taking_texts("predict")
    predict_on_batch = _taking_texts("predict_on_batch")
    fit = _taking_texts("fit")
    evaluate = _taking_texts("evaluate")
    train_on_batch = _taking_texts("train_on_batch")
    test_on_batch = _taking_texts("test_on_batch")

    def _standardize_inputs(self, inputs):
        """Texts or token ids as users hold them -> one array Keras takes (object array of str)."""
        is_sequence = isinstance(inputs, (list, tuple))
        if not is_sequence and not isinstance(inputs, np.ndarray):
            return inputs
        if self.input_mode == "tokens":
            try:
                array = np.asarray(inputs)
            except ValueError:  # ragged rows
                raise ValueError(
                    f"{self.name} (input_mode='tokens') expects int token ids of "
                    "shape (batch, time), every row right-padded with 0 to one "
                    f"length; received inputs={_validation.preview(inputs, 200)}") from None
            if array.dtype.kind in "US" or (array.dtype.kind == "O" and any(
                    isinstance(value, (str, bytes)) for value in array.flat)):
                raise ValueError(self._token_input_error("string", array.shape))
            return array
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind not in "USO":
            return inputs  # numbers: `call` names the dtype it received
        if is_sequence:
            # One cell per element: np.asarray would nest or fail on ragged lists.
            array = np.empty(len(inputs), dtype=object)
            for index, value in enumerate(inputs):
                array[index] = value
        else:
            array = inputs.astype(object)
        for index, value in enumerate(array.flat):
            if not isinstance(value, (str, bytes)):
                raise ValueError(
                    f"{self.name} (input_mode='string') expects texts: a list or "
                    "tuple of str, a NumPy string array or a string tensor; "
                    f"received inputs={_validation.preview(inputs, 200)}, whose element {index} "
                    f"is {value!r} of type {type(value).__name__}")
            if isinstance(value, str) and not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError as error:  # a lone surrogate: no UTF-8 exists
                    raise ValueError(
                        f"{self.name} takes texts that UTF-8 can encode, received inputs whose "
                        f"element {index} holds {value[error.start]!r} at position "
                        f"{error.start} (a lone surrogate; decode bytes with "
                        f"errors='replace')") from None
        if any(isinstance(value, bytes) for value in array.flat):
            # Keras' adapters take `str` only, and bytes need not be UTF-8.
            return keras.ops.convert_to_tensor(array, dtype="string")
        return array

    def _string_input_error(self, dtype, shape):
        return (
            f"{self.name} (input_mode='string') expects string inputs, received "
            f"inputs with dtype={dtype} and shape={tuple(shape)}; for token ids "
            "build the model with input_mode='tokens'")

    def _token_input_error(self, dtype, shape):
        return (
            f"{self.name} (input_mode='tokens') expects int token ids of shape (batch, time), "
            f"received inputs with dtype={dtype} and shape={tuple(shape)}")

    @property
    def input_signature(self):
        if self.input_mode == "string":
            return keras.InputSpec(shape=(None,), dtype="string", name="text")
        return keras.InputSpec(shape=(None, self.sequence_length), dtype="int32",
                               name="tokens")

    def example_inputs(self, batch_size=2, seed=0, unknown_dim=16):
        """Seeded example texts (or right-padded token ids) of varied length."""
        self._check_example_args(batch_size, seed, unknown_dim)
        rng = np.random.default_rng(seed)
        length = self.sequence_length or unknown_dim
        lengths = rng.integers(1, length + 1, size=batch_size)
        if self.input_mode == "tokens":
            tokens = rng.integers(2, self.max_tokens, size=(batch_size, length))
            tokens[np.arange(length)[None, :] >= lengths[:, None]] = 0
            return tokens.astype("int32")
        return np.array([" ".join(rng.choice(_EXAMPLE_WORDS, size=n)) for n in lengths],
                        dtype=object)

    def check_inputs(self, inputs):
        """The shared checks, then token ids: dtype, length and, when concrete, values."""
        if hasattr(inputs, "dtype") and hasattr(inputs, "shape"):
            # First: these say which input_mode takes it.
            dtype = _validation.dtype_name(inputs.dtype)
            if self.input_mode == "string" and dtype not in ("string", "object"):
                raise ValueError(self._string_input_error(dtype, inputs.shape))
            if self.input_mode == "tokens" and not dtype.startswith(("int", "uint")) \
                    and "complex" not in dtype:
                raise ValueError(self._token_input_error(dtype, inputs.shape))
        super().check_inputs(inputs)
        if self.input_mode != "tokens":
            return
        try:
            shape = tuple(inputs.shape)
        except (TypeError, ValueError):  # traced with an unknown rank
            return
        length = shape[1]
        if self.sequence_length is not None and isinstance(length, (int, np.integer)) \
                and length > self.sequence_length:
            raise ValueError(
                f"{self.name} takes at most sequence_length={self.sequence_length} "
                f"tokens per row, received inputs with shape={shape}")
        values = _concrete_values(inputs)
        if values is None or values.size == 0:
            return
        bad = np.argwhere((values < 0) | (values >= self.max_tokens))
        if bad.size:
            position = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{self.name} takes token ids in [0, {self.max_tokens}) "
                f"(max_tokens={self.max_tokens}), received inputs with the id "
                f"{int(values[position])} at position {position}")

    def _tokens(self, inputs):
        if self.input_mode == "tokens":
            # Traced ids cannot be checked: out-of-range ones become OOV.
            in_range = keras.ops.logical_and(inputs >= 0, inputs < self.max_tokens)
            return keras.ops.where(in_range, inputs, keras.ops.cast(_OOV_ID, inputs.dtype))
        if self.vocabulary is None:
            raise ValueError(
                f"{self.name} has no vocabulary yet: call model.adapt(texts) (or "
                "set_vocabulary) before calling the model, or pass vocabulary=...")
        tokens = self.vectorizer(inputs)
        if inputs.shape[0] is not None and tokens.shape[0] is None:
            # TextVectorization loses the static batch size; XLA wants it.
            time = tokens.shape[1] if tokens.shape[1] is not None else -1
            tokens = keras.ops.reshape(tokens, (inputs.shape[0], time))
        return tokens

    def get_config(self):
        return {
            **super().get_config(), "num_classes": self.num_classes, "max_tokens": self.max_tokens,
            "sequence_length": self.sequence_length, "standardize": self.standardize,
            "ngrams": self.ngrams,
            "vocabulary": None if self.vocabulary is None else list(self.vocabulary),
            "input_mode": self.input_mode, "classifier_activation": self.classifier_activation
        }


def _concrete_values(inputs):
    """The values of `inputs` as a NumPy array, or None while they are traced."""
    if isinstance(inputs, np.ndarray):
        return inputs
    if keras.backend.is_keras_tensor(inputs):
        return None
    try:
        return keras.ops.convert_to_numpy(inputs)
    except Exception:  # noqa: BLE001 -- each backend raises its own type for a traced tensor
        return None

