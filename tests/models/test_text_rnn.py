"""text_rnn: strings in, logits out; masking, cuDNN eligibility, vocabulary."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
import zoo
from zoo.models.text_rnn import TextRNN

TEXTS = [
    "the film was good",
    "the film was not good",
    "not bad at all , the acting was great",
    "boring plot but very good acting",
    "bad",
    "the plot was good , but the acting was not great and the film was too long",
]


def adapted(**kwargs):
    kwargs.setdefault("max_tokens", 60)
    kwargs.setdefault("units", 8)
    kwargs.setdefault("embedding_dim", 8)
    model = TextRNN(**kwargs)
    if model.input_mode == "string":
        model.adapt(TEXTS)
    return model


def right_padded_tokens(lengths, width, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    tokens = np.zeros((len(lengths), width), "int32")
    for row, length in enumerate(lengths):
        tokens[row, :length] = rng.integers(2, vocab, length)
    return tokens


# --------------------------------------------------------------------------
# The model battery over the configuration space


@pytest.mark.parametrize("kwargs", [
    {},
    {"rnn": "gru"},
    {"bidirectional": False, "head": "avg"},
    {"num_layers": 2, "head": "attention", "dropout": 0.2},
    {"rnn": "gru", "head": "max", "sequence_length": 12},
    {"input_mode": "tokens", "sequence_length": 10},
    {"input_mode": "tokens", "head": "attention", "rnn": "gru", "num_layers": 2},
    {"ngrams": 2, "standardize": "lower"},
    {"classifier_activation": "softmax", "num_classes": 3},
])
def test_model_battery(kwargs):
    model = helpers.run_model_test(lambda: adapted(**kwargs), batch_size=3)
    y = model(model.example_inputs(batch_size=3))
    assert tuple(y.shape) == (3, kwargs.get("num_classes", 2))
    if kwargs.get("classifier_activation") == "softmax":
        np.testing.assert_allclose(helpers.to_numpy(y).sum(1), 1.0, atol=1e-5)


def test_registered_constructor():
    model = zoo.create_model("text_rnn", num_classes=4, max_tokens=100)
    assert isinstance(model, TextRNN)
    assert (model.name, model.num_classes, model.max_tokens) == ("text_rnn", 4, 100)


# --------------------------------------------------------------------------
# Masking: padding and neighbours never change a sentence's logits


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("head", ["last", "avg", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_16_vs_64_and_neighbours_do_not_change_logits(rnn, head, bidirectional):
    model = adapted(input_mode="tokens", rnn=rnn, head=head, bidirectional=bidirectional,
                    num_layers=2, units=16, embedding_dim=16)
    tokens = right_padded_tokens([5, 16, 1, 11], width=64)
    padded_16 = helpers.to_numpy(model(tokens[:, :16]))
    padded_64 = helpers.to_numpy(model(tokens))
    np.testing.assert_allclose(padded_64, padded_16, atol=1e-5, rtol=0)
    # The first sentence alone, in a batch padded only to its own length.
    alone = helpers.to_numpy(model(tokens[:1, :5]))
    np.testing.assert_allclose(alone[0], padded_64[0], atol=1e-5, rtol=0)
    # ...and next to a long neighbour instead of short ones.
    long_neighbour = right_padded_tokens([64], width=64, seed=9)
    pair = np.concatenate([tokens[:1], long_neighbour])
    np.testing.assert_allclose(helpers.to_numpy(model(pair))[0], padded_64[0], atol=1e-5, rtol=0)


def test_string_model_same_logits_at_sequence_length_16_and_64():
    short = adapted(sequence_length=16, head="attention")
    long = TextRNN.from_config({**short.get_config(), "sequence_length": 64})
    long.set_weights(short.get_weights())
    texts = np.array(TEXTS, dtype=object)
    assert tuple(short.vectorizer(texts).shape) == (len(TEXTS), 16)
    assert tuple(long.vectorizer(texts).shape) == (len(TEXTS), 64)
    np.testing.assert_allclose(helpers.to_numpy(long(texts)), helpers.to_numpy(short(texts)),
                               atol=1e-5, rtol=0)
    # Pad-to-longest (sequence_length=None): alone vs next to the longest text.
    dynamic = TextRNN.from_config({**short.get_config(), "sequence_length": None})
    dynamic.set_weights(short.get_weights())
    alone = helpers.to_numpy(dynamic(texts[:1]))
    with_long = helpers.to_numpy(dynamic(texts[[0, 5]]))
    np.testing.assert_allclose(with_long[0], alone[0], atol=1e-5, rtol=0)


def test_mask_reaches_every_recurrent_layer():
    model = adapted(input_mode="tokens", num_layers=2, head="last")
    tokens = right_padded_tokens([3], width=8)
    garbage_after_padding = tokens.copy()
    # Without masking, steps after the real tokens (zeros, embedded to a
    # learned vector) would feed the last state; with it they are skipped.
    np.testing.assert_allclose(helpers.to_numpy(model(garbage_after_padding)),
                               helpers.to_numpy(model(tokens[:, :3])), atol=1e-6)


# --------------------------------------------------------------------------
# cuDNN eligibility


def test_defaults_are_cudnn_eligible_and_configured_for_it():
    for rnn in ("lstm", "gru"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the defaults warn about nothing
            model = adapted(rnn=rnn, num_layers=2)
        assert model.cudnn_eligible and model.cudnn_blockers == []
        for wrapper in model.rnn_layers:
            for layer in (wrapper.forward_layer, wrapper.backward_layer):
                cell = layer.cell
                assert cell.activation is keras.activations.tanh
                assert cell.recurrent_activation is keras.activations.sigmoid
                assert cell.use_bias and not layer.unroll
                assert cell.recurrent_dropout == 0
                assert layer.use_cudnn == "auto"
                if rnn == "gru":
                    assert cell.reset_after


@pytest.mark.parametrize("kwargs, argument", [
    ({"recurrent_dropout": 0.1}, "recurrent_dropout=0.1"),
    ({"unroll": True, "sequence_length": 8}, "unroll=True"),
])
def test_settings_that_rule_out_cudnn_warn_naming_the_argument(kwargs, argument):
    with pytest.warns(UserWarning, match=argument) as record:
        model = adapted(**kwargs)
    assert len(record) == 1  # once per model, not once per layer or call
    assert not model.cudnn_eligible
    assert any(argument in blocker for blocker in model.cudnn_blockers)


def test_use_cudnn_false_is_reported_but_not_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = adapted(use_cudnn=False)
    assert not model.cudnn_eligible
    assert model.cudnn_blockers == ["use_cudnn=False"]


# --------------------------------------------------------------------------
# Vocabulary


def test_adapt_from_dataset_of_pairs_equals_adapt_from_list():
    from_list = adapted()
    pairs = tf.data.Dataset.from_tensor_slices((TEXTS, [0] * len(TEXTS))).batch(2)
    from_pairs = TextRNN(max_tokens=60, units=8, embedding_dim=8)
    from_pairs.adapt(pairs)
    assert from_pairs.vocabulary == from_list.vocabulary
    assert from_list.vocabulary[:2] == ("", "[UNK]")
    assert "good" in from_list.vocabulary


def test_vocabulary_travels_in_the_config():
    model = adapted()
    config = json.loads(json.dumps(model.get_config()))
    assert config["vocabulary"] == list(model.vocabulary)
    clone = TextRNN.from_config(config)
    clone.set_weights(model.get_weights())
    texts = np.array(TEXTS, dtype=object)
    np.testing.assert_array_equal(helpers.to_numpy(clone.vectorizer(texts)),
                                  helpers.to_numpy(model.vectorizer(texts)))
    np.testing.assert_allclose(helpers.to_numpy(clone(texts)), helpers.to_numpy(model(texts)),
                               atol=1e-6)


def test_set_vocabulary():
    model = TextRNN(max_tokens=10, units=4, embedding_dim=4)
    model.set_vocabulary(["good", "bad"])
    assert model.vocabulary == ("", "[UNK]", "good", "bad")
    tokens = helpers.to_numpy(model.vectorizer(np.array(["good bad ugly"], dtype=object)))
    np.testing.assert_array_equal(tokens, [[2, 3, 1]])


def test_keras_file_round_trip_keeps_vocabulary_in_fresh_process(tmp_path):
    model = adapted(head="attention", num_layers=2)
    texts = np.array(TEXTS + ["words never seen before"], dtype=object)
    expected = helpers.to_numpy(model(texts))
    path = tmp_path / "text_rnn.keras"
    model.save(path)
    np.save(tmp_path / "texts.npy", texts, allow_pickle=True)
    out = helpers.run_in_fresh_process(f"""
import json, numpy as np, keras
import zoo  # registers the zoo classes
model = keras.saving.load_model({str(path)!r})
texts = np.load({str(tmp_path / "texts.npy")!r}, allow_pickle=True)
print(json.dumps({{"logits": keras.ops.convert_to_numpy(model(texts)).tolist(),
                  "vocabulary": list(model.vocabulary),
                  "layer_vocabulary": [str(t) for t in model.vectorizer.get_vocabulary()]}}))
""")
    result = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(np.array(result["logits"]), expected, atol=1e-5, rtol=0)
    assert result["vocabulary"] == list(model.vocabulary)
    assert result["layer_vocabulary"] == list(model.vocabulary)


# --------------------------------------------------------------------------
# Summary with string input


def test_summary_with_string_input():
    model = adapted(head="attention", sequence_length=12)
    lines = helpers.summary_lines(model)
    rows = {row["name"]: row for row in model.layer_table()}
    assert rows["vectorizer"]["shape"] == (None, 12)
    assert rows["embedding"]["shape"] == (None, 12, 8)
    assert rows["rnn1"]["shape"] == (None, 12, 16)
    assert rows["forward_lstm"]["shape"] == (None, 12, 8)
    assert rows["forward_lstm"]["depth"] == 1
    assert rows["attention_pool"]["shape"] == (None, 16)
    assert rows["predictions"]["shape"] == (None, 2)
    assert "lstm_cell" not in rows  # Keras internals stay closed
    assert not any("?" in line for line in lines)
    assert helpers.summary_totals(lines)["Total"] == model.count_params()


# --------------------------------------------------------------------------
# Mixed precision


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    model = adapted(dtype=policy, head="attention")
    y = model(model.example_inputs(batch_size=2))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"  # logits stay float32
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in model.weights)
    embedded = model.embedding(np.array([[2, 3]]))
    assert keras.backend.standardize_dtype(embedded.dtype) == policy.split("_")[1]


# --------------------------------------------------------------------------
# Bad input


def test_calling_before_adapt_is_a_clear_error():
    model = TextRNN(max_tokens=20)
    with pytest.raises(ValueError, match="no vocabulary yet.*adapt"):
        model(np.array(["a good film"], dtype=object))


def test_non_string_input_to_string_model():
    model = adapted()
    with pytest.raises(ValueError, match=r"expects string inputs.*dtype=float32.*\(2, 3\)"):
        model(np.ones((2, 3), "float32"))


def test_string_input_to_token_model():
    model = adapted(input_mode="tokens")
    with pytest.raises(ValueError, match="expects int token ids.*dtype=string"):
        model(np.array(["good"], dtype=object))


def test_adapt_on_token_model():
    with pytest.raises(ValueError, match="input_mode='tokens'"):
        TextRNN(input_mode="tokens").adapt(TEXTS)


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"rnn": "transformer"}, "rnn", "transformer"),
    ({"head": "cls"}, "head", "cls"),
    ({"input_mode": "bytes"}, "input_mode", "bytes"),
    ({"max_tokens": 2}, "max_tokens", "2"),
    ({"units": 0}, "units", "0"),
    ({"num_layers": 1.5}, "num_layers", "1.5"),
    ({"dropout": 1.0}, "dropout", "1.0"),
    ({"recurrent_dropout": -0.1}, "recurrent_dropout", "-0.1"),
    ({"sequence_length": 0}, "sequence_length", "0"),
    ({"standardize": "upper"}, "standardize", "upper"),
    ({"use_cudnn": "yes"}, "use_cudnn", "yes"),
    ({"vocabulary": "good bad"}, "vocabulary", "good bad"),
    ({"classifier_activation": "nope"}, "classifier_activation", "nope"),
])
def test_bad_arguments(kwargs, argument, value):
    with pytest.raises(ValueError) as info:
        TextRNN(**kwargs)
    message = str(info.value)
    assert argument in message and value in message, message


# --------------------------------------------------------------------------
# imdb_reviews through the same path (offline, mocked TFDS)


def test_text_rnn_adapts_and_trains_on_mocked_imdb_reviews():
    import tensorflow_datasets as tfds

    import zoo.data

    with tfds.testing.mock_data(num_examples=16):
        train = zoo.data.load("imdb_reviews", split="train", batch_size=8)
        model = TextRNN(max_tokens=200, units=8, embedding_dim=8, sequence_length=32)
        model.adapt(train)
        assert len(model.vocabulary) > 10  # mock reviews are random words
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(train, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
