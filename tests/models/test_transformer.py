"""transformer: padding and neighbours never change a sentence's logits; the
vocabulary, the family contract.

Token-mode tests run on every backend; string-mode ones are `tensorflow_only`
(TextVectorization runs TensorFlow string ops). The shared text machinery
(inputs as users hold them, adapt's checks) is tested through text_rnn.
"""

import json

import keras
import numpy as np
import pytest

import helpers
import zoo
from zoo.models.transformer import Transformer

strings_need_tensorflow = pytest.mark.tensorflow_only(
    "string-mode transformer tokenizes with TextVectorization (TensorFlow string ops)")

TEXTS = [
    "the film was good",
    "the film was not good",
    "not bad at all , the acting was great",
    "boring plot but very good acting",
    "bad",
    "the plot was good , but the acting was not great and the film was too long",
]
SMALL = {"max_tokens": 60, "embedding_dim": 8, "num_heads": 2, "ff_dim": 16, "num_layers": 2}


def right_padded_tokens(lengths, width, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    tokens = np.zeros((len(lengths), width), "int32")
    for row, length in enumerate(lengths):
        tokens[row, :length] = rng.integers(2, vocab, length)
    return tokens


@pytest.fixture(scope="module", params=[("attention", True), ("avg", False), ("max", True)],
                ids=lambda p: f"{p[0]}-{'causal' if p[1] else 'bidirectional'}")
def token_model(request):
    keras.utils.set_random_seed(0)
    pooling, causal = request.param
    return Transformer(input_mode="tokens", sequence_length=64, pooling=pooling,
                       causal=causal, dropout=0.1, attention_dropout=0.1, **SMALL)


@pytest.fixture(scope="module")
def string_model():
    keras.utils.set_random_seed(1)
    model = Transformer(sequence_length=24, **SMALL)
    model.adapt(TEXTS)
    return model


# --------------------------------------------------------------------------
# Padding and neighbours


def test_padding_16_vs_64_and_neighbours_do_not_change_logits(token_model):
    tokens = right_padded_tokens([5, 16, 1, 11], width=64)
    padded_64 = helpers.to_numpy(token_model(tokens))
    np.testing.assert_allclose(helpers.to_numpy(token_model(tokens[:, :16])), padded_64,
                               atol=1e-5, rtol=0)
    # The first sentence alone, in a batch padded only to its own length...
    alone = helpers.to_numpy(token_model(tokens[:1, :5]))
    np.testing.assert_allclose(alone[0], padded_64[0], atol=1e-5, rtol=0)
    # ...and next to a neighbour that fills every position.
    pair = np.concatenate([tokens[:1], right_padded_tokens([64], width=64, seed=9)])
    np.testing.assert_allclose(helpers.to_numpy(token_model(pair))[0], padded_64[0],
                               atol=1e-5, rtol=0)
    # In a traced call too (predict), where nothing is known of the values.
    np.testing.assert_allclose(token_model.predict(tokens[:, :16], verbose=0), padded_64,
                               atol=1e-5, rtol=0)


def test_padding_ids_never_reach_real_tokens(token_model):
    # Token 0 is padding: a sentence's logits stay put when the ids after it
    # change from one padding length to another, but change with its words.
    tokens = right_padded_tokens([6], width=10)
    other_words = tokens.copy()
    other_words[0, 2] = (other_words[0, 2] + 1) % 48 + 2
    assert not np.allclose(helpers.to_numpy(token_model(other_words)),
                           helpers.to_numpy(token_model(tokens)), atol=1e-6)


@strings_need_tensorflow
def test_string_logits_equal_the_tokens_alone_and_with_any_neighbours(string_model):
    texts = np.array(TEXTS, dtype=object)
    together = helpers.to_numpy(string_model(texts))
    ids = helpers.to_numpy(string_model.vectorizer(texts)).astype("int32")
    twin, _ = string_model.token_twin()
    for row, text in enumerate(TEXTS):
        alone = helpers.to_numpy(string_model(np.array([text], dtype=object)))
        np.testing.assert_allclose(alone[0], together[row], atol=1e-5, rtol=0)
        # The twin takes the ids padded only to the text's own length.
        length = int((ids[row] != 0).sum())
        own = helpers.to_numpy(twin(ids[row:row + 1, :length]))
        np.testing.assert_allclose(own[0], together[row], atol=1e-5, rtol=0)
    # Next to only the longest text.
    pair = helpers.to_numpy(string_model(texts[[0, 5]]))
    np.testing.assert_allclose(pair, together[[0, 5]], atol=1e-5, rtol=0)


# --------------------------------------------------------------------------
# Vocabulary


@strings_need_tensorflow
def test_calling_before_adapt_is_a_clear_error():
    model = Transformer(**SMALL)
    helpers.assert_rejects(lambda: model(["a good film"]), ValueError,
                           "transformer", "no vocabulary yet", "adapt")
    helpers.assert_rejects(lambda: model.save("never.keras"), ValueError, "no vocabulary")


@strings_need_tensorflow
def test_vocabulary_travels_in_the_config(string_model):
    config = json.loads(json.dumps(string_model.get_config()))
    assert config["vocabulary"] == list(string_model.vocabulary)
    assert config["vocabulary"][:2] == ["", "[UNK]"] and "good" in config["vocabulary"]
    clone = Transformer.from_config(config)
    clone.set_weights(string_model.get_weights())
    texts = np.array(TEXTS, dtype=object)
    np.testing.assert_allclose(helpers.to_numpy(clone(texts)),
                               helpers.to_numpy(string_model(texts)), atol=1e-6)


@strings_need_tensorflow
def test_token_twin_settings(string_model):
    twin, tokenizer = string_model.token_twin()
    assert (twin.input_mode, twin.sequence_length) == ("tokens", 24)
    assert tokenizer["vocabulary"] == list(string_model.vocabulary)
    assert tokenizer["sequence_length"] == 24


def test_config_mirrors_init(token_model):
    config = helpers.assert_config_mirrors_init(token_model)
    assert (config["num_heads"], config["key_dim"], config["num_layers"]) == (2, None, 2)


# --------------------------------------------------------------------------
# Structure


def test_layers_and_weight_names(token_model):
    rows = {row["path"]: row for row in token_model.layer_table()}
    assert rows["encoder2/attention/query"]["shape"] == (None, 64, 2, 4)
    assert rows["encoder1/ffn_intermediate"]["shape"] == (None, 64, 16)
    assert rows["final_norm"]["shape"] == (None, 64, 8)
    assert rows[f"{token_model.pooling}_pool"]["shape"] == (None, 8)
    keys = [w.path.split("/", 1)[1] for w in token_model.weights]
    assert keys[:3] == ["embedding/embeddings", "position_embedding/embeddings",
                        "encoder1/attention_norm/gamma"]
    assert "encoder2/attention/attention_output/kernel" in keys


def test_key_dim_other_than_width_over_heads():
    model = Transformer(input_mode="tokens", sequence_length=8,
                        **{**SMALL, "key_dim": 3, "num_heads": 3, "num_layers": 1})
    assert tuple(model.encoders[0].attention.query.kernel.shape) == (8, 3, 3)
    assert tuple(model(right_padded_tokens([3, 8], width=8)).shape) == (2, 2)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    model = Transformer(input_mode="tokens", sequence_length=16, dtype=policy, **SMALL)
    tokens = right_padded_tokens([16, 3], width=16)
    y = model(tokens)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"  # logits stay float32
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in model.weights)
    reference = Transformer.from_config({**model.get_config(), "dtype": "float32"})
    reference.set_weights(model.get_weights())
    expected = helpers.to_numpy(reference(tokens))
    error = np.abs(helpers.to_numpy(y) - expected).max() / np.abs(expected).max()
    assert error < helpers.MIXED_TOLERANCE[policy], error


# --------------------------------------------------------------------------
# The family contract


def test_registered_once_with_its_contract():
    assert zoo.list_models("transformer*") == ["transformer"]
    family = zoo.registry.model_family("transformer")
    assert family is Transformer and family.modality == "text"
    info = zoo.model_info("transformer")
    assert info.portable == {"input_mode": "tokens"}
    assert isinstance(family.xla_defaults, property)  # per input mode, tested below
    assert set(info.recipe) == {"optimizer", "learning_rate", "weight_decay", "epochs"}
    small = zoo.create_model("transformer", **info.small, **info.portable)
    assert small.name == "transformer" and small.count_params() < 10_000
    assert tuple(small(small.example_inputs(batch_size=3)).shape) == (3, 5)


def test_xla_defaults_follow_the_measurement_per_input_mode():
    # String mode: Keras cannot compile TextVectorization, so graph mode
    # everywhere; token mode: the base defaults (benchmarks.xla, probe).
    strings = zoo.create_model("transformer", **SMALL)
    tokens = zoo.create_model("transformer", **SMALL, input_mode="tokens")
    assert strings.xla_defaults == {"cpu/onednn": False, "cpu/eigen": False,
                                    "gpu": False, "tpu": False}
    assert tokens.xla_defaults == {"cpu/onednn": False, "cpu/eigen": False,
                                   "gpu": True, "tpu": True}
    assert strings.preferred_jit_compile("gpu") is False
    assert tokens.preferred_jit_compile("gpu") is True
