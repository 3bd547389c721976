"""Transformer text classifier: raw strings in, logits out, self-attention between.

An encoder-only Transformer (Vaswani et al. 2017,
https://arxiv.org/abs/1706.03762) with pre-LayerNorm blocks (Xiong et al.
2020, https://arxiv.org/abs/2002.04745): token embedding plus a learned
position embedding, `num_layers` `TransformerEncoderBlock`s (causal
self-attention by default, see below) whose attention and feed-forward
projections are the zoo's `EinsumDense`, a final
LayerNorm, pooling over the real tokens, a dense classifier. Padding is
masked in every attention's scores and in the pooling, so a sentence gets
the same logits however much padding its batch carries and whoever its
neighbours are. The texts are tokenized inside the model, as in `text_rnn`
(`zoo.models._text`): the vocabulary is saved with it.

There is no recurrent loop: every position is computed at once, and in
token mode (`input_mode="tokens"`) the model is einsums, LayerNorms and a
softmax that compile whole with XLA. In string mode Keras refuses XLA (the
tokenizer's string ops), so it trains in graph mode (`xla_defaults`).

Causal by default: on the `sentiment` data, whose word counts carry no
information, a bidirectional encoder memorized the training set and a
causal one generalized (benchmarks/results/recipes.md).

Example:
>>> from zoo.models import transformer
>>> model = transformer.transformer(num_classes=2, max_tokens=100, sequence_length=16,
...                                 embedding_dim=8, num_heads=2, ff_dim=16)
>>> model.adapt(["a good film", "not a good film", "bad"])
>>> tuple(model(["a good film", "bad"]).shape)
(2, 2)
"""

import keras

from zoo import _validation
from zoo.blocks import PositionEmbedding, SequencePooling, TransformerEncoderBlock
from zoo.blocks._chain import build_chain
from zoo.models._text import TextClassifier

POOLING = ("avg", "max", "attention")


# Keras refuses XLA for TextVectorization's string ops: graph mode everywhere.
_STRING_MODE_XLA = {"cpu/onednn": False, "cpu/eigen": False, "gpu": False, "tpu": False}


@keras.saving.register_keras_serializable(package="zoo")
class Transformer(TextClassifier):
    """Token + position embedding -> pre-LN encoder blocks -> LayerNorm -> pool -> logits.

    Args:
        num_classes: int. Number of output logits.
        max_tokens: int. Vocabulary size including the padding (0) and OOV
            (1) tokens; also the token embedding's input size.
        sequence_length: int. Tokens per text (texts are padded or cut to
            it): the position embedding learns one vector per position, so
            it must be fixed (None is a ValueError). The default covers
            every text of the `sentiment` data (at most 40 words).
        standardize: str or None. `TextVectorization` standardization:
            `"lower_and_strip_punctuation"`, `"lower"`, `"strip_punctuation"`
            or None.
        ngrams: int or None. Append n-grams up to this size to the token
            sequence (`TextVectorization(ngrams=...)`).
        vocabulary: list of str or None. A vocabulary to start from instead
            of `adapt()`; after `adapt()` the learned vocabulary is kept here
            so that it travels in `get_config()`.
        input_mode: str. `"string"`: raw text in (the model tokenizes;
            TensorFlow backend only); `"tokens"`: int token ids in,
            right-padded with 0, at most `sequence_length` per row.
        embedding_dim: int. Width of the embeddings and of every block.
        num_heads: int. Attention heads per block.
        key_dim: int or None. Size of each head; None means
            `embedding_dim // num_heads` (`num_heads` must divide
            `embedding_dim`).
        num_layers: int. Encoder blocks.
        ff_dim: int. Hidden width of each block's feed-forward network.
        dropout: float in [0, 1). Dropout on the embeddings, on each
            sublayer's output before its residual add, and before the
            classifier.
        attention_dropout: float in [0, 1). Dropout on the attention weights.
        causal: bool. Each token attends only to itself and the tokens
            before it (a left-to-right reader, as GPT's decoder); False
            gives the bidirectional encoder of BERT. See "Why causal" in
            the module docstring.
        layer_norm_epsilon: float > 0. Epsilon of every LayerNorm.
        activation: str, callable or None. Of the feed-forward hidden layers.
        pooling: str. How the sequence becomes one vector: `"attention"`
            (a learned score per token, softmax over the real tokens),
            `"avg"` or `"max"` over the real (unmasked) tokens.
        classifier_activation: str or None. Head activation; None = logits.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Input shape:
        `input_mode="string"`: `(batch,)` strings (a list or tuple of `str`,
            a NumPy string or object array, or a string tensor).
        `input_mode="tokens"`: `(batch, time)` int token ids in
            `[0, max_tokens)`, 0 = padding, `time <= sequence_length`.
        An empty batch gives an empty `(0, num_classes)` output.

    Output shape:
        `(batch, num_classes)`.

    Example (token ids, on any backend):
    >>> model = Transformer(num_classes=3, max_tokens=50, sequence_length=8,
    ...                     embedding_dim=8, num_heads=2, ff_dim=16, input_mode="tokens")
    >>> tuple(model(keras.ops.convert_to_tensor([[5, 7, 9, 0], [3, 0, 0, 0]])).shape)
    (2, 3)
    >>> tuple(model.encoders[0].attention.query.kernel.shape)
    (8, 2, 4)
    """

    small_overrides = {"num_classes": 5, "max_tokens": 100, "sequence_length": 16,
                       "embedding_dim": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16}
    # `zoo.model_info`: the defaults of the default (string) input mode.
    variant_info = {"transformer": {"xla": _STRING_MODE_XLA}}
    # Weight decay 0.05 against memorizing the 4,000 sentiment sentences
    # (benchmarks/results/recipes.md).
    training_defaults = {"optimizer": "adamw", "learning_rate": 3e-3,
                         "weight_decay": 0.05, "epochs": 30}

    @property
    def xla_defaults(self):
        """Whether XLA trains faster, per platform (see `ZooModel`): never in
        string mode, where Keras refuses XLA (TextVectorization's string ops);
        the base defaults in token mode (benchmarks/results/recipes.md)."""
        if self.input_mode == "string":
            return _STRING_MODE_XLA
        return TextClassifier.xla_defaults

    def __init__(
        self,
        num_classes=2,
        max_tokens=20000,
        sequence_length=64,
        standardize="lower_and_strip_punctuation",
        ngrams=None,
        vocabulary=None,
        input_mode="string",
        embedding_dim=64,
        num_heads=4,
        key_dim=None,
        num_layers=2,
        ff_dim=128,
        dropout=0.3,
        attention_dropout=0.0,
        causal=True,
        layer_norm_epsilon=1e-5,
        activation="gelu",
        pooling="attention",
        classifier_activation=None,
        **kwargs,
    ):
        kwargs.setdefault("name", "transformer")
        super().__init__(
            num_classes=num_classes, max_tokens=max_tokens, sequence_length=sequence_length,
            standardize=standardize, ngrams=ngrams, vocabulary=vocabulary,
            input_mode=input_mode, classifier_activation=classifier_activation, **kwargs)
        if self.sequence_length is None:
            raise ValueError(
                "sequence_length must be a positive integer for the transformer: its "
                "learned position embedding has one vector per position, so the "
                "number of positions must be fixed; received sequence_length=None")
        self.embedding_dim = _validation.positive_int("embedding_dim", embedding_dim)
        self.num_heads = _validation.positive_int("num_heads", num_heads)
        self.key_dim = _validation.positive_int("key_dim", key_dim, optional=True)
        if self.key_dim is None and self.embedding_dim % self.num_heads:
            raise ValueError(
                "num_heads must divide embedding_dim when key_dim=None (each head "
                f"is embedding_dim // num_heads wide), received num_heads={num_heads!r} "
                f"and embedding_dim={embedding_dim!r}; pass key_dim= for heads of "
                "another size")
        self.num_layers = _validation.positive_int("num_layers", num_layers)
        self.ff_dim = _validation.positive_int("ff_dim", ff_dim)
        self.dropout = _validation.fraction("dropout", dropout)
        self.attention_dropout = _validation.fraction("attention_dropout", attention_dropout)
        self.causal = _validation.boolean("causal", causal)
        self.layer_norm_epsilon = _validation.finite_float(
            "layer_norm_epsilon", layer_norm_epsilon, 0, low_open=True)
        self.activation = _validation.activation(activation)
        self.pooling = _validation.one_of("pooling", pooling, POOLING)
        policy = self.dtype_policy
        for name, value, parameters, weight in (
                ("max_tokens", self.max_tokens, self.max_tokens * self.embedding_dim,
                 "token embedding"),
                ("sequence_length", self.sequence_length,
                 self.sequence_length * self.embedding_dim, "position embedding"),
                ("num_classes", self.num_classes, (self.embedding_dim + 1) * self.num_classes,
                 "classifier")):
            _validation.weight_fits(name, value, parameters, policy, weight)
        self._create_vectorizer()

        self.embedding = keras.layers.Embedding(
            self.max_tokens, self.embedding_dim, mask_zero=True, name="embedding",
            dtype=policy)
        self.position_embedding = PositionEmbedding(
            self.sequence_length, name="position_embedding", dtype=policy)
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, name="embedding_dropout", dtype=policy)
        self.encoders = [
            TransformerEncoderBlock(
                self.num_heads, self.ff_dim, key_dim=self.key_dim, dropout=self.dropout,
                attention_dropout=self.attention_dropout, causal=self.causal,
                layer_norm_epsilon=self.layer_norm_epsilon, activation=self.activation,
                name=f"encoder{index}", dtype=policy)
            for index in range(1, self.num_layers + 1)]
        # Pre-LN blocks leave the residual stream unnormalized.
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="final_norm", dtype=policy)
        self.pool = SequencePooling(self.pooling, name=f"{self.pooling}_pool", dtype=policy)
        self.head_dropout = keras.layers.Dropout(self.dropout, name="head_dropout",
                                                 dtype=policy)
        self.classifier = keras.layers.Dense(self.num_classes, name="classifier", dtype=policy)
        self.predictions = self._predictions_layer(self.classifier_activation)
        self.build(self.input_signature.shape)

    def build(self, input_shape):
        build_chain([self.embedding, self.position_embedding, self.embedding_dropout,
                     *self.encoders, self.final_norm, self.pool, self.head_dropout,
                     self.classifier, self.predictions], (None, self.sequence_length))

    def call(self, inputs, training=None):
        tokens = self._tokens(inputs)
        # Computed once and passed explicitly (rather than relying on Keras'
        # implicit propagation) so every consumer visibly gets the same mask.
        mask = self.embedding.compute_mask(tokens)
        x = self.position_embedding(self.embedding(tokens))
        x = self.embedding_dropout(x, training=training)
        for encoder in self.encoders:
            x = encoder(x, mask=mask, training=training)
        x = self.pool(self.final_norm(x), mask=mask)
        x = self.head_dropout(x, training=training)
        return self.predictions(self.classifier(x))

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "num_layers": self.num_layers,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "causal": self.causal,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
            "pooling": self.pooling,
        }


@Transformer.register
def transformer(**kwargs):
    """Pre-LN Transformer encoder text classifier over raw strings (see `Transformer`)."""
    return Transformer(**kwargs)
