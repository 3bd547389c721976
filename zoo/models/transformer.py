"""Transformer text classifier: raw strings in, logits out, self-attention between.

An encoder-only Transformer (https://arxiv.org/abs/1706.03762) with pre-LN
blocks (https://arxiv.org/abs/2002.04745). Causal by default: on the
`sentiment` data a bidirectional encoder memorized the training set
(benchmarks/results/recipes.md).
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
        num_classes, max_tokens, standardize, ngrams, vocabulary, input_mode,
            classifier_activation: as for `zoo.models._text.TextClassifier`.
        sequence_length: int. Tokens per text; fixed (the position
            embedding learns one vector per position).
        embedding_dim: int. Width of the embeddings and of every block.
        num_heads: int. Attention heads per block.
        key_dim: int or None. Size of each head; None: `embedding_dim // num_heads`.
        num_layers: int. Encoder blocks.
        ff_dim: int. Hidden width of each block's feed-forward network.
        dropout: float in [0, 1). On the embeddings, each sublayer's output
            and before the classifier.
        attention_dropout: float in [0, 1). On the attention weights.
        causal: bool. Each token attends only to itself and earlier ones.
        layer_norm_epsilon: float > 0. Epsilon of every LayerNorm.
        activation: str, callable or None. Of the feed-forward hidden layers.
        pooling: str. `"attention"`, `"avg"` or `"max"` over the real tokens.
        **kwargs: base `keras.Model` arguments (`name`, `dtype`, ...).

    Example (token ids, on any backend):
    >>> model = Transformer(num_classes=3, max_tokens=50, sequence_length=8,
    ...                     embedding_dim=8, num_heads=2, ff_dim=16, input_mode="tokens")
    >>> tuple(model(keras.ops.convert_to_tensor([[5, 7, 9, 0], [3, 0, 0, 0]])).shape)
    (2, 3)
    >>> tuple(model.encoders[0].attention.query.kernel.shape)
    (8, 2, 4)
    """

    info = {
        # Weight decay 0.05 against memorizing the sentiment data.
        "recipe": {"optimizer": "adamw", "learning_rate": 3e-3, "weight_decay": 0.05,
                   "epochs": 30},
        "small": {"num_classes": 5, "max_tokens": 100, "sequence_length": 16,
                  "embedding_dim": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16},
        # The registered model takes strings (its default input_mode).
        "variants": {"transformer": {"xla": _STRING_MODE_XLA}},
    }

    @property
    def xla_defaults(self):
        """Whether XLA trains faster, per platform: never in string mode (Keras refuses it)."""
        if self.input_mode == "string":
            return _STRING_MODE_XLA
        return super().xla_defaults

    def __init__(self, num_classes=2, max_tokens=20000, sequence_length=64,
                 standardize="lower_and_strip_punctuation", ngrams=None, vocabulary=None,
                 input_mode="string", embedding_dim=64, num_heads=4, key_dim=None, num_layers=2,
                 ff_dim=128, dropout=0.3, attention_dropout=0.0, causal=True,
                 layer_norm_epsilon=1e-5, activation="gelu", pooling="attention",
                 classifier_activation=None, **kwargs):
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
        self.num_layers = _validation.positive_int("num_layers", num_layers)
        # The blocks check their own arguments; the model keeps the checked values.
        encoders = [
            TransformerEncoderBlock(
                num_heads, ff_dim, key_dim=key_dim, dropout=dropout,
                attention_dropout=attention_dropout, causal=causal,
                layer_norm_epsilon=layer_norm_epsilon, activation=activation,
                name=f"encoder{index}", dtype=self.dtype_policy)
            for index in range(1, self.num_layers + 1)]
        for name in ("num_heads", "key_dim", "ff_dim", "dropout", "attention_dropout",
                     "causal", "layer_norm_epsilon", "activation"):
            setattr(self, name, getattr(encoders[0], name))
        if self.key_dim is None and self.embedding_dim % self.num_heads:
            raise ValueError(
                "num_heads must divide embedding_dim when key_dim=None (each head is embedding_dim "
                f"// num_heads wide), received num_heads={num_heads!r} and "
                f"embedding_dim={embedding_dim!r}; pass key_dim= for heads of another size")
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
        self.encoders = encoders
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
            **super().get_config(), "embedding_dim": self.embedding_dim,
            "num_heads": self.num_heads, "key_dim": self.key_dim, "num_layers": self.num_layers,
            "ff_dim": self.ff_dim, "dropout": self.dropout,
            "attention_dropout": self.attention_dropout, "causal": self.causal,
            "layer_norm_epsilon": self.layer_norm_epsilon, "activation": self.activation,
            "pooling": self.pooling
        }


@Transformer.register
def transformer(**kwargs):
    """Pre-LN Transformer encoder text classifier over raw strings (see `Transformer`)."""
    return Transformer(**kwargs)
