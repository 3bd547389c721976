"""Tests for the generated sentiment dataset (`zoo.data.sentiment`).

Besides the pipeline contract (shapes, dtypes, seeding, arguments), these
tests show what the dataset is for: a bag-of-words classifier stays at
chance, while reading the words in order solves it exactly.
"""

import collections
import doctest
import hashlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo.data
from zoo.data import sentiment, text, tfds_text

POLARITY = {**{word: 1 for word in sentiment.POSITIVE},
            **{word: 0 for word in sentiment.NEGATIVE}}


def _words(sentence):
    """The words of a sentence, punctuation stripped (as TextVectorization)."""
    return re.sub(r"[^\w\s]", " ", sentence).split()


def read_left_to_right(sentence):
    """The label, computed by one pass over the words with three variables.

    The latest adjective decides, flipped by a negation (or the "than" of
    "rather than") before it; "although", "though" or "while" after a main
    clause freezes the decision. No parse tree, no look-ahead.
    """
    decision, frozen, flip = None, False, False
    for word in _words(sentence):
        if word in ("not", "never", "hardly", "than"):
            flip = True
        elif word in POLARITY:
            if not frozen:
                decision = POLARITY[word] ^ flip
            flip = False
        elif word in ("although", "though", "while") and decision is not None:
            frozen = True
    return decision


def _collect(ds):
    texts, labels = [], []
    for x, y in ds:
        texts += [t.decode() for t in x.numpy()]
        labels += y.numpy().tolist()
    return texts, labels


def _both_splits(seed=0):
    train = sentiment.generate(4000, seed=seed, stream=0)
    test = sentiment.generate(1000, seed=seed, stream=1)
    return train, test


# --------------------------------------------------------------------------
# Pipeline contract


def test_batches_are_strings_and_int32_labels():
    ds = zoo.data.load("sentiment", split="train", batch_size=32)
    assert ds.element_spec[0].dtype.name == "string"
    assert ds.element_spec[1].dtype.name == "int32"
    texts, labels = next(iter(ds))
    assert tuple(texts.shape) == (32,) and tuple(labels.shape) == (32,)
    assert set(labels.numpy().tolist()) <= {0, 1}
    assert all(isinstance(t, bytes) and t for t in texts.numpy())


@pytest.mark.parametrize("split, size", [("train", 4000), ("test", 1000)])
def test_split_sizes_and_content(split, size):
    texts, labels = _collect(zoo.data.load(
        "sentiment", split=split, batch_size=300, shuffle=False))
    assert len(texts) == len(labels) == size
    expected_texts, expected_labels = sentiment.load_arrays(split)
    assert texts == expected_texts.tolist()
    assert labels == expected_labels.tolist()
    assert (texts, labels) == sentiment.generate(
        size, seed=0, stream=sentiment.STREAMS[split])


def test_generate_returns_python_lists():
    texts, labels = sentiment.generate(5, seed=3)
    assert isinstance(texts, list) and isinstance(labels, list)
    assert all(type(t) is str for t in texts)
    assert all(type(y) is int and y in (0, 1) for y in labels)


def test_num_examples_override_is_a_prefix_of_the_default():
    texts, labels = _collect(zoo.data.load(
        "sentiment", split="test", batch_size=64, num_examples=100))
    assert len(texts) == 100
    full_texts, full_labels = sentiment.load_arrays("test")
    assert texts == full_texts[:100].tolist()
    assert labels == full_labels[:100].tolist()
    big, _ = sentiment.load_arrays("train", num_examples=6000)
    assert big.shape == (6000,)


def test_drop_remainder():
    kept = [int(y.shape[0]) for _, y in zoo.data.load(
        "sentiment", split="test", batch_size=300)]
    dropped = [int(y.shape[0]) for _, y in zoo.data.load(
        "sentiment", split="test", batch_size=300, drop_remainder=True)]
    assert kept == [300, 300, 300, 100]
    assert dropped == [300, 300, 300]


def test_train_reshuffles_each_epoch_and_test_is_stable():
    train = zoo.data.load("sentiment", split="train", batch_size=4000)
    epoch1, epoch2 = (_collect(train)[0] for _ in range(2))
    generation_order = sentiment.load_arrays("train")[0].tolist()
    assert epoch1 != epoch2 and epoch1 != generation_order
    assert sorted(epoch1) == sorted(epoch2) == sorted(generation_order)

    test = zoo.data.load("sentiment", split="test", batch_size=64)
    assert _collect(test) == _collect(test)


def test_shuffle_flag_overrides_default():
    train = zoo.data.load("sentiment", split="train", batch_size=4000,
                          shuffle=False)
    assert _collect(train)[0] == sentiment.load_arrays("train")[0].tolist()
    test = zoo.data.load("sentiment", split="test", batch_size=1000,
                         shuffle=True)
    assert _collect(test)[0] != sentiment.load_arrays("test")[0].tolist()


def test_same_pipeline_as_the_tfds_text_datasets():
    assert sentiment.text_pipeline is tfds_text.text_pipeline
    assert sentiment.text_pipeline is text.text_pipeline


# --------------------------------------------------------------------------
# Seeding


def test_same_seed_same_data_different_seed_different():
    assert sentiment.generate(50, seed=4) == sentiment.generate(50, seed=4)
    assert sentiment.generate(50, seed=4) != sentiment.generate(50, seed=5)
    assert (sentiment.generate(50, seed=4, stream=0)
            != sentiment.generate(50, seed=4, stream=1))


def test_data_and_shuffle_identical_across_processes():
    code = (
        "import hashlib, zoo.data\n"
        "from zoo.data import sentiment\n"
        "texts, labels = sentiment.load_arrays('test', seed=3)\n"
        "ds = zoo.data.load('sentiment', batch_size=5000, seed=3)\n"
        "order = b'|'.join(next(iter(ds))[0].numpy())\n"
        "print(hashlib.sha256(repr((texts.tolist(), labels.tolist()))"
        ".encode()).hexdigest(), hashlib.sha256(order).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, timeout=120)
    texts, labels = sentiment.load_arrays("test", seed=3)
    ds = zoo.data.load("sentiment", batch_size=5000, seed=3)
    order = b"|".join(next(iter(ds))[0].numpy())
    assert out.stdout.split() == [
        hashlib.sha256(repr((texts.tolist(), labels.tolist())).encode())
        .hexdigest(),
        hashlib.sha256(order).hexdigest()]


def test_test_sentences_rarely_occur_in_train():
    (train_texts, _), (test_texts, _) = _both_splits()
    overlap = set(test_texts) & set(train_texts)
    # Measured: 1 of the 1,000 test sentences (a short one) is also in train.
    assert len(overlap) <= 10
    assert len(set(test_texts)) >= 990 and len(set(train_texts)) >= 3960


# --------------------------------------------------------------------------
# Statistics


@pytest.mark.parametrize("seed", [0, 1])
def test_classes_are_balanced(seed):
    for texts, labels in _both_splits(seed):
        assert 0.45 <= np.mean(labels) <= 0.55


def test_lengths_vary():
    (texts, _), _ = _both_splits()
    lengths = np.array([len(t.split()) for t in texts])
    # Measured on seed 0: 4 / 15 / 36 words (min / median / max).
    assert lengths.min() == 4 and lengths.max() <= sentiment.MAX_WORDS
    assert lengths.max() >= 30
    assert 12 <= np.median(lengths) <= 18
    assert len(set(lengths.tolist())) >= 25


def test_vocabulary_is_small_lowercase_with_punctuation():
    (train_texts, _), (test_texts, _) = _both_splits()
    texts = train_texts + test_texts
    vocabulary = {word for t in texts for word in _words(t)}
    assert 200 <= len(vocabulary) <= 400  # measured: 295
    assert all(t == t.lower() for t in texts)
    assert all(t[-1] in ".!" for t in texts)
    assert sum("," in t for t in texts) > len(texts) / 2


def test_fillers_hold_no_sentiment_negation_or_contrast_words():
    special = set(POLARITY) | set(sentiment.NEGATIONS) | {
        "than", "but", "yet", "however", "although", "though", "while"}
    fillers = (sentiment.SUBJECTS + sentiment.NOUNS + sentiment.MODIFIERS
               + sentiment.VERBS + sentiment.INTENSIFIERS + sentiment.PREFIXES
               + sentiment.LEAD_INS + sentiment.SUFFIXES + sentiment.ASIDES)
    assert not {w for phrase in fillers for w in phrase.split()} & special
    assert len(sentiment.POSITIVE) == len(sentiment.NEGATIVE)
    assert not set(sentiment.POSITIVE) & set(sentiment.NEGATIVE)


# --------------------------------------------------------------------------
# Word order decides: labels are a function of the word sequence, not of
# the words


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_left_to_right_reader_is_exact(seed):
    for texts, labels in _both_splits(seed):
        predictions = [read_left_to_right(t) for t in texts]
        assert predictions == labels


def test_reader_on_hand_written_pairs():
    # The same words, the opposite label.
    assert read_left_to_right(
        "the plot was not good, but the acting was great.") == 1
    assert read_left_to_right(
        "the plot was good, but the acting was not great.") == 0
    assert read_left_to_right("it was not bad.") == 1
    assert read_left_to_right("it was bad.") == 0
    assert read_left_to_right(
        "although the plot was dull, the cast was superb.") == 1
    assert read_left_to_right(
        "the plot was dull, although the cast was superb.") == 0


def test_same_text_never_has_two_labels():
    (train_texts, train_labels), (test_texts, test_labels) = _both_splits()
    labels_of = collections.defaultdict(set)
    for t, y in zip(train_texts + test_texts, train_labels + test_labels):
        labels_of[t].add(y)
    assert all(len(labels) == 1 for labels in labels_of.values())


def test_bag_of_words_twins_with_opposite_labels_exist():
    (train_texts, train_labels), (test_texts, test_labels) = _both_splits()
    labels_of_bag = collections.defaultdict(set)
    for t, y in zip(train_texts + test_texts, train_labels + test_labels):
        labels_of_bag[tuple(sorted(_words(t)))].add(y)
    twins = [bag for bag, labels in labels_of_bag.items() if len(labels) == 2]
    # Every sentence has a twin in the distribution; with this many possible
    # sentences few twins land in the same 5,000 (measured: 4).
    assert len(twins) >= 2


def test_no_word_predicts_the_label():
    (train_texts, train_labels), (test_texts, test_labels) = _both_splits()
    sentences = collections.Counter()
    positive = collections.Counter()
    for t, y in zip(train_texts + test_texts, train_labels + test_labels):
        for word in set(_words(t)):
            sentences[word] += 1
            positive[word] += y
    z_scores = {word: (positive[word] / n - 0.5) / (0.5 / np.sqrt(n))
                for word, n in sentences.items() if n >= 30}
    assert len(z_scores) > 150
    # Each word's positive share is 0.5 up to sampling noise (measured max
    # |z| = 3.1 over 290 words) even for "good", "bad" and "not".
    assert max(abs(z) for z in z_scores.values()) < 4.5
    for word in ("good", "bad", "not", "never", "but", "although"):
        assert abs(positive[word] / sentences[word] - 0.5) < 0.1, word


def _bag_of_words_accuracy(output_mode, hidden_units, epochs):
    keras.utils.set_random_seed(0)
    train_texts, train_labels = sentiment.load_arrays("train")
    test_texts, test_labels = sentiment.load_arrays("test")
    vectorize = keras.layers.TextVectorization(output_mode=output_mode)
    vectorize.adapt(train_texts.astype(str))
    x_train = np.asarray(vectorize(train_texts.astype(str)), "float32")
    x_test = np.asarray(vectorize(test_texts.astype(str)), "float32")
    layers = [keras.Input((x_train.shape[1],))]
    if hidden_units:
        layers.append(keras.layers.Dense(hidden_units, activation="relu"))
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-2 if not hidden_units else 3e-3),
                  loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, train_labels, epochs=epochs, batch_size=32,
                        verbose=0)
    _, test_accuracy = model.evaluate(x_test, test_labels, verbose=0)
    return history.history["accuracy"][-1], test_accuracy


@pytest.mark.parametrize("output_mode, hidden_units", [
    ("multi_hot", 0),    # logistic regression on word presence
    ("count", 0),        # ... on word counts
    ("multi_hot", 64),   # one hidden layer: can fit XOR-like word pairs
])
def test_bag_of_words_classifier_stays_at_chance(output_mode, hidden_units):
    train_accuracy, test_accuracy = _bag_of_words_accuracy(
        output_mode, hidden_units, epochs=10)
    # Measured: test accuracy 0.49 to 0.51 (chance is 0.5); the hidden-layer
    # model memorizes the train split (about 0.95) and still gets nothing
    # that carries over.
    assert test_accuracy <= 0.6
    if hidden_units:
        assert train_accuracy >= 0.8


def test_masked_lstm_reads_word_order():
    keras.utils.set_random_seed(0)
    vectorize = keras.layers.TextVectorization()
    vectorize.adapt(sentiment.load_arrays("train")[0].astype(str))

    def tokens(texts, labels):
        return vectorize(texts), labels

    train = zoo.data.load("sentiment", split="train", batch_size=32).map(tokens)
    test = zoo.data.load("sentiment", split="test", batch_size=256).map(tokens)
    model = keras.Sequential([
        keras.Input((None,), dtype="int64"),
        keras.layers.Embedding(vectorize.vocabulary_size(), 32, mask_zero=True),
        keras.layers.LSTM(32),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(train, epochs=8, shuffle=False, verbose=0)
    _, test_accuracy = model.evaluate(test, verbose=0)
    # Measured: 0.99+ after 6 epochs, where bag-of-words stays at 0.5.
    assert test_accuracy >= 0.95


# --------------------------------------------------------------------------
# Arguments


def test_unknown_option_names_option_dataset_and_options():
    with pytest.raises(ValueError) as info:
        zoo.data.load("sentiment", image_size=32)
    assert str(info.value) == (
        "dataset 'sentiment' takes no option image_size=32; its options are "
        "['num_examples']")
    with pytest.raises(ValueError, match=r"takes no options data_dir=None, "
                                         r"test_fraction=0\.2"):
        zoo.data.load("sentiment", data_dir=None, test_fraction=0.2)
    with pytest.raises(ValueError, match=r"'digits' takes no option "
                                         r"num_examples=10; its options are "
                                         r"\['image_size', 'test_fraction'\]"):
        zoo.data.load("digits", num_examples=10)


@pytest.mark.parametrize("kwargs", [
    {"split": "validation"},
    {"split": None},
    {"batch_size": 0},
    {"batch_size": 2.0},
    {"batch_size": True},
    {"num_examples": 0},
    {"num_examples": -5},
    {"num_examples": 2.5},
    {"num_examples": True},
    {"num_examples": "100"},
    {"seed": -1},
    {"seed": 0.5},
    {"shuffle": "yes"},
    {"drop_remainder": None},
], ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()))
def test_bad_input_names_argument_and_value(kwargs):
    (arg, value), = kwargs.items()
    with pytest.raises(ValueError) as info:
        zoo.data.load("sentiment", **kwargs)
    assert f"{arg}={value!r}" in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n=0"),
    ({"n": 3, "seed": -2}, "seed=-2"),
    ({"n": 3, "stream": -1}, "stream=-1"),
    ({"n": 3, "stream": 1.0}, "stream=1.0"),
])
def test_generate_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sentiment.generate(**kwargs)


def test_info():
    assert zoo.data.info("sentiment") == {
        "modality": "text", "num_classes": 2, "splits": ("train", "test"),
        "class_names": ["negative", "positive"], "options": ("num_examples",)}
    assert zoo.data.info("digits") == {
        "modality": "image", "num_classes": 10, "channels": 1,
        "splits": ("train", "test"), "options": ("image_size", "test_fraction"),
        "class_names": [str(digit) for digit in range(10)]}
    for name in zoo.data.DATASETS:
        description = zoo.data.info(name)
        assert description["modality"] in ("image", "text")
        assert ("channels" in description) == (description["modality"] == "image")


@pytest.mark.parametrize("module", [zoo.data, sentiment, text, tfds_text])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
