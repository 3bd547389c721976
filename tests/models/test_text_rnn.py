"""text_rnn: strings in, logits out; masking, cuDNN eligibility, vocabulary.

Tests about the recurrent part take the string model where the backend runs
it (TensorFlow) and the token-mode twin elsewhere (`DEFAULT_MODE`); tests of
the strings themselves are `tensorflow_only`.
"""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
import zoo
from zoo.models.text_rnn import TextRNN

ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
DEFAULT_MODE = "string" if ON_TENSORFLOW else "tokens"
strings_need_tensorflow = pytest.mark.tensorflow_only(
    "string-mode text_rnn tokenizes with TextVectorization (TensorFlow string ops)")

TEXTS = [
    "the film was good",
    "the film was not good",
    "not bad at all , the acting was great",
    "boring plot but very good acting",
    "bad",
    "the plot was good , but the acting was not great and the film was too long",
]


def adapted(**kwargs):
    """A small TextRNN, in `DEFAULT_MODE` unless told; adapted to TEXTS if string."""
    kwargs.setdefault("input_mode", DEFAULT_MODE)
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
    pytest.param({"ngrams": 2, "standardize": "lower"}, marks=strings_need_tensorflow),
    {"classifier_activation": "softmax", "num_classes": 3},
])
def test_model_battery(kwargs):
    model = helpers.run_model_test(lambda: adapted(**kwargs), batch_size=3)
    y = model(model.example_inputs(batch_size=3))
    assert tuple(y.shape) == (3, kwargs.get("num_classes", 2))
    if kwargs.get("classifier_activation") == "softmax":
        np.testing.assert_allclose(helpers.to_numpy(y).sum(1), 1.0, atol=1e-5)


def test_registered_constructor():
    model = zoo.create_model("text_rnn", num_classes=4, max_tokens=100,
                             input_mode=DEFAULT_MODE)
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


@strings_need_tensorflow
def test_string_model_same_logits_at_sequence_length_16_and_64():
    short = adapted(input_mode="string", sequence_length=16, head="attention")
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


@strings_need_tensorflow
def test_adapt_from_dataset_of_pairs_equals_adapt_from_list():
    from_list = adapted(input_mode="string")
    pairs = tf.data.Dataset.from_tensor_slices((TEXTS, [0] * len(TEXTS))).batch(2)
    from_pairs = TextRNN(max_tokens=60, units=8, embedding_dim=8)
    from_pairs.adapt(pairs)
    assert from_pairs.vocabulary == from_list.vocabulary
    assert from_list.vocabulary[:2] == ("", "[UNK]")
    assert "good" in from_list.vocabulary


@strings_need_tensorflow
def test_vocabulary_travels_in_the_config():
    model = adapted(input_mode="string")
    config = json.loads(json.dumps(model.get_config()))
    assert config["vocabulary"] == list(model.vocabulary)
    clone = TextRNN.from_config(config)
    clone.set_weights(model.get_weights())
    texts = np.array(TEXTS, dtype=object)
    np.testing.assert_array_equal(helpers.to_numpy(clone.vectorizer(texts)),
                                  helpers.to_numpy(model.vectorizer(texts)))
    np.testing.assert_allclose(helpers.to_numpy(clone(texts)), helpers.to_numpy(model(texts)),
                               atol=1e-6)


@strings_need_tensorflow
def test_set_vocabulary():
    model = TextRNN(max_tokens=10, units=4, embedding_dim=4)
    model.set_vocabulary(["good", "bad"])
    assert model.vocabulary == ("", "[UNK]", "good", "bad")
    tokens = helpers.to_numpy(model.vectorizer(np.array(["good bad ugly"], dtype=object)))
    np.testing.assert_array_equal(tokens, [[2, 3, 1]])


@strings_need_tensorflow
def test_keras_file_round_trip_keeps_vocabulary_in_fresh_process(tmp_path):
    model = adapted(input_mode="string", head="attention", num_layers=2)
    texts = np.array(TEXTS + ["words never seen before"], dtype=object)
    report = helpers.run_export_test(
        model, tmp_path, formats=("keras",), inputs=texts,
        probe="[str(t) for t in model.vectorizer.get_vocabulary()]")
    assert report["keras"]["vocabulary"] == list(model.vocabulary)
    assert report["keras"]["probe"] == list(model.vocabulary)


# --------------------------------------------------------------------------
# Summary with string input


@strings_need_tensorflow
def test_summary_with_string_input():
    model = adapted(input_mode="string", head="attention", sequence_length=12)
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


@strings_need_tensorflow
def test_calling_before_adapt_is_a_clear_error():
    model = TextRNN(max_tokens=20)
    with pytest.raises(ValueError, match="no vocabulary yet.*adapt"):
        model(np.array(["a good film"], dtype=object))


@strings_need_tensorflow
def test_non_string_input_to_string_model():
    model = adapted(input_mode="string")
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
    # A wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError)) as info:
        TextRNN(**kwargs)
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("kwargs, named", [
    ({}, "no GPU"),  # this machine has none
    ({"recurrent_dropout": 0.1}, "recurrent_dropout=0.1"),
    ({"unroll": True}, "unroll=True"),
])
def test_use_cudnn_true_where_cudnn_cannot_run_fails_when_built(kwargs, named):
    # Keras would fail at the first call, naming its LSTM; the zoo names the
    # argument, why, and the way out.
    if zoo.ops.accelerator_type() == "gpu" and not kwargs:
        pytest.skip("a GPU is visible: cuDNN can run")
    with pytest.raises(ValueError) as info:
        TextRNN(input_mode="tokens", max_tokens=20, use_cudnn=True, **kwargs)
    message = str(info.value)
    assert "use_cudnn=True" in message and named in message, message
    assert "use_cudnn='auto'" in message


# --------------------------------------------------------------------------
# Inputs as users hold them


@strings_need_tensorflow
def test_every_kind_of_string_input_gives_the_same_logits():
    model = adapted(input_mode="string", head="attention")
    texts = ["not bad at all", "good, not great", "the film was too long"]
    expected = helpers.to_numpy(model(np.array(texts, dtype=object)))
    kinds = {
        "list": texts,
        "tuple": tuple(texts),
        "numpy str_": np.array(texts),
        "numpy object": np.array(texts, dtype=object),
        "numpy bytes_": np.array([t.encode() for t in texts]),
        "numpy object of bytes": np.array([t.encode() for t in texts], dtype=object),
        "string tensor": tf.constant(texts),
    }
    for kind, inputs in kinds.items():
        for how, run in [("model(...)", lambda x: model(x)),
                         ("model(inputs=...)", lambda x: model(inputs=x, training=False)),
                         ("predict", lambda x: model.predict(x, verbose=0)),
                         ("predict_on_batch", model.predict_on_batch)]:
            np.testing.assert_allclose(helpers.to_numpy(run(inputs)), expected, atol=1e-6,
                                       rtol=0, err_msg=f"{how} on a {kind}")


@strings_need_tensorflow
def test_fit_and_evaluate_take_a_list_of_texts():
    model = adapted(input_mode="string")
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = np.array([1, 0, 1, 1, 0, 0])
    history = model.fit(TEXTS, labels, validation_data=(TEXTS, labels), epochs=1,
                        batch_size=3, verbose=0)
    assert np.isfinite(history.history["val_loss"][0])
    assert np.isfinite(model.evaluate(TEXTS, labels, verbose=0))
    assert np.isfinite(float(model.train_on_batch(TEXTS, labels)))


@strings_need_tensorflow
@pytest.mark.parametrize("inputs, element", [
    (["a good film", 3], "element 1 is 3 of type int"),
    (("a good film", None), "element 1 is None of type NoneType"),
    ([["a good film"], ["bad"]], "element 0 is ['a good film'] of type list"),
    (np.array(["a good film", 2.5], dtype=object), "element 1 is 2.5 of type float"),
])
def test_non_string_elements_are_a_clear_error(inputs, element):
    model = adapted(input_mode="string")
    for run in (model, model.predict, model.predict_on_batch):
        with pytest.raises(ValueError) as info:
            run(inputs)
        message = str(info.value)
        assert "text_rnn" in message and "inputs=" in message and element in message, message


def test_token_model_takes_nested_lists():
    model = adapted(input_mode="tokens")
    tokens = right_padded_tokens([3, 1], width=4)
    expected = helpers.to_numpy(model(tokens))
    np.testing.assert_allclose(helpers.to_numpy(model(tokens.tolist())), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(tokens.tolist(), verbose=0), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"right-padded.*inputs=\[\[2, 3\], \[4\]\]"):
        model([[2, 3], [4]])


# --------------------------------------------------------------------------
# Other backends: token ids in, texts vectorized in the tf.data pipeline


def test_string_mode_off_tensorflow_is_a_clear_error(non_tensorflow_backend):
    with pytest.raises(ValueError) as info:
        TextRNN(max_tokens=100, sequence_length=20)
    message = str(info.value)
    for part in ("input_mode='string'", repr(non_tensorflow_backend), "input_mode='tokens'",
                 "TextVectorization(max_tokens=100, output_sequence_length=20)",
                 "vectorizer.adapt(texts)", "tf.data", "map(lambda x, y: (vectorizer(x), y))"):
        assert part in message, (part, message)
    with pytest.raises(ValueError, match="input_mode='string'"):
        zoo.create_model("text_rnn")
    # Argument errors still name their own argument first.
    with pytest.raises(ValueError, match="rnn='transformer'"):
        TextRNN(rnn="transformer")


def test_the_recipe_of_that_error_trains_a_token_model():
    # What the message tells JAX users to do, on whichever backend runs.
    vectorizer = keras.layers.TextVectorization(max_tokens=60)
    vectorizer.adapt(TEXTS)
    labels = [1, 0, 1, 1, 0, 0]
    dataset = tf.data.Dataset.from_tensor_slices((TEXTS, labels)).batch(3).map(
        lambda x, y: (vectorizer(x), y))
    model = TextRNN(input_mode="tokens", max_tokens=60, units=8, embedding_dim=8)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    logits = model.predict(dataset.map(lambda x, y: x), verbose=0)
    assert logits.shape == (len(TEXTS), 2) and np.isfinite(logits).all()


# --------------------------------------------------------------------------
# imdb_reviews through the same path (offline, mocked TFDS)


@strings_need_tensorflow
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
