"""Text classifier: raw strings in, logits out, masked LSTM/GRU in between.

The defaults meet every condition of Keras' cuDNN LSTM/GRU kernels.
"""

import warnings

import keras

from zoo import ops
from zoo import _validation
from zoo.blocks import SequencePooling
from zoo.blocks._chain import build_chain
from zoo.models._text import TextClassifier

RNN_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
HEADS = ("last", "avg", "max", "attention")
USE_CUDNN = ("auto", True, False)


@keras.saving.register_keras_serializable(package="zoo")
class TextRNN(TextClassifier):
    """Embedding -> (bidirectional) LSTM/GRU stack -> head -> logits.

    Args:
        num_classes, max_tokens, sequence_length, standardize, ngrams,
            vocabulary, input_mode, classifier_activation: as for
            `zoo.models._text.TextClassifier`.
        embedding_dim: int. Embedding width.
        rnn: str. `"lstm"` or `"gru"`.
        units: int. Units per direction of each recurrent layer.
        bidirectional: bool. Read both directions and concatenate.
        num_layers: int. Stacked recurrent layers.
        dropout: float in [0, 1). Dropout on the embeddings and after every
            recurrent layer (does not affect cuDNN eligibility).
        recurrent_dropout: float in [0, 1). Dropout on the recurrent state;
            any value above 0 rules out the cuDNN kernel (a warning says so).
        head: str. `"last"` (final state; the backward direction's after
            the first token), or `"avg"`, `"max"`, `"attention"` pooling
            over the unmasked steps.
        use_cudnn: `"auto"`, True or False. Passed to the Keras layers.
        unroll: bool. Unroll the recurrence; rules out cuDNN.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Example (token ids, on any backend; the vectorizer can run in a
    `tf.data` pipeline whatever the Keras backend):
    >>> vectorizer = keras.layers.TextVectorization(max_tokens=100)
    >>> vectorizer.adapt(["a good film", "not a good film", "bad"])
    >>> model = TextRNN(num_classes=2, max_tokens=100, input_mode="tokens")
    >>> tokens = vectorizer(["a good film", "bad"])  # right-padded with 0
    >>> tuple(model(tokens).shape)
    (2, 2)
    """

    info = {
        "recipe": {"optimizer": "adamw", "learning_rate": 3e-3, "weight_decay": 1e-4,
                   "epochs": 10},
        # XLA off on GPU: a jit-compiled train step cannot call the cuDNN kernel.
        "xla": {"cpu/onednn": False, "cpu/eigen": False, "gpu": False, "tpu": True},
        "small": {"num_classes": 5, "max_tokens": 100, "units": 8, "embedding_dim": 8},
    }

    def __init__(self, num_classes=2, max_tokens=20000, sequence_length=None,
                 standardize="lower_and_strip_punctuation", ngrams=None, vocabulary=None,
                 input_mode="string", embedding_dim=64, rnn="lstm", units=64, bidirectional=True,
                 num_layers=1, dropout=0.0, recurrent_dropout=0.0, head="last", use_cudnn="auto",
                 unroll=False, classifier_activation=None, **kwargs):
        kwargs.setdefault("name", "text_rnn")
        super().__init__(
            num_classes=num_classes, max_tokens=max_tokens, sequence_length=sequence_length,
            standardize=standardize, ngrams=ngrams, vocabulary=vocabulary,
            input_mode=input_mode, classifier_activation=classifier_activation, **kwargs)
        self.embedding_dim = _validation.positive_int("embedding_dim", embedding_dim)
        self.rnn = _validation.one_of("rnn", rnn, tuple(RNN_LAYERS))
        self.units = _validation.positive_int("units", units)
        self.bidirectional = _validation.boolean("bidirectional", bidirectional)
        self.num_layers = _validation.positive_int("num_layers", num_layers)
        self.dropout = _validation.fraction("dropout", dropout)
        self.recurrent_dropout = _validation.fraction("recurrent_dropout",
                                                      recurrent_dropout)
        self.head = _validation.one_of("head", head, HEADS)
        self.use_cudnn = _validation.one_of("use_cudnn", use_cudnn, USE_CUDNN)
        self.unroll = _validation.boolean("unroll", unroll)
        _validation.weight_fits("max_tokens", self.max_tokens,
                                self.max_tokens * self.embedding_dim, self.dtype_policy,
                                "embedding")
        features = self.units * (2 if self.bidirectional else 1)
        _validation.weight_fits("num_classes", self.num_classes,
                                (features + 1) * self.num_classes, self.dtype_policy,
                                "classifier")
        self._create_vectorizer()
        if self.use_cudnn is True:
            self._check_cudnn_can_run()

        self.embedding = keras.layers.Embedding(
            self.max_tokens, self.embedding_dim, mask_zero=True, name="embedding",
            dtype=self.dtype_policy)
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, name="embedding_dropout", dtype=self.dtype_policy)
        self.rnn_layers, self.rnn_dropouts = [], []
        for index in range(1, self.num_layers + 1):
            self.rnn_layers.append(self._recurrent_layer(index))
            self.rnn_dropouts.append(keras.layers.Dropout(
                self.dropout, name=f"rnn{index}_dropout", dtype=self.dtype_policy))
        self.pool = (None if self.head == "last"
                     else SequencePooling(self.head, name=f"{self.head}_pool",
                                          dtype=self.dtype_policy))
        self.classifier = keras.layers.Dense(
            self.num_classes, name="classifier", dtype=self.dtype_policy)
        self.predictions = self._predictions_layer(self.classifier_activation)

        for blocker in self.cudnn_blockers:
            if not blocker.startswith("use_cudnn"):  # asked for explicitly: no news
                warnings.warn(
                    f"{self.name}: {blocker} rules out the cuDNN "
                    f"{self.rnn.upper()} kernel; training on a GPU will use the "
                    "slower generic kernel.", stacklevel=2)
        self.build(self.input_signature.shape)

    def _check_cudnn_can_run(self):
        # Keras would find out at the first call, deep inside the layer.
        problems = [b for b in self.cudnn_blockers if not b.startswith("use_cudnn")]
        device = ops.accelerator_type()
        if device != "gpu":
            problems.append(f"no GPU (Keras' {keras.backend.backend()} backend sees "
                            f"{device} only)")
        if problems:
            raise ValueError(
                "use_cudnn=True asks for the cuDNN kernel, which cannot run here: "
                f"{'; '.join(problems)}. Received use_cudnn=True; pass use_cudnn='auto' (cuDNN "
                "wherever it can run, the generic kernel elsewhere) or use_cudnn=False.")

    def _recurrent_layer(self, index):
        return_sequences = index < self.num_layers or self.head != "last"
        layer = RNN_LAYERS[self.rnn](
            self.units, return_sequences=return_sequences,
            recurrent_dropout=self.recurrent_dropout, use_cudnn=self.use_cudnn, unroll=self.unroll,
            name=f"rnn{index}" if not self.bidirectional else f"{self.rnn}",
            dtype=self.dtype_policy
        )
        if self.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"rnn{index}",
                                               dtype=self.dtype_policy)
        return layer

    @property
    def cudnn_blockers(self):
        """Settings that rule out the cuDNN kernel, e.g. `["recurrent_dropout=0.1 (cuDNN needs 0)"]`."""
        blockers = []
        if self.recurrent_dropout:
            blockers.append(f"recurrent_dropout={self.recurrent_dropout} (cuDNN needs 0)")
        if self.unroll:
            blockers.append("unroll=True (cuDNN needs False)")
        if self.use_cudnn is False:
            blockers.append("use_cudnn=False")
        return blockers

    @property
    def cudnn_eligible(self):
        """True when the configuration can take the cuDNN kernel on a GPU (right-padded inputs)."""
        return not self.cudnn_blockers

    def build(self, input_shape):
        recurrent = [layer for pair in zip(self.rnn_layers, self.rnn_dropouts) for layer in pair]
        build_chain([self.embedding, self.embedding_dropout, *recurrent, self.pool,
                     self.classifier, self.predictions], (None, self.sequence_length))

    def call(self, inputs, training=None):
        tokens = self._tokens(inputs)
        mask = self.embedding.compute_mask(tokens)
        x = self.embedding_dropout(self.embedding(tokens), training=training)
        for rnn, dropout in zip(self.rnn_layers, self.rnn_dropouts):
            x = dropout(rnn(x, mask=mask, training=training), training=training)
        if self.pool is not None:
            x = self.pool(x, mask=mask)
        return self.predictions(self.classifier(x))

    def get_config(self):
        return {
            **super().get_config(), "embedding_dim": self.embedding_dim, "rnn": self.rnn,
            "units": self.units, "bidirectional": self.bidirectional,
            "num_layers": self.num_layers, "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout, "head": self.head,
            "use_cudnn": self.use_cudnn, "unroll": self.unroll
        }


@TextRNN.register
def text_rnn(**kwargs):
    """Bidirectional LSTM text classifier over raw strings (see `TextRNN`)."""
    return TextRNN(**kwargs)
