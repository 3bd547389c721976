"""Tests for the epoch streams of `zoo.data.load(..., start_epoch=...)` (`zoo.data.epochs`).

With `start_epoch` set, a loader yields the endless stream of epochs
`start_epoch, start_epoch + 1, ...`, each a permutation of the split batched
on its own and shuffled (and augmented) by `(seed, epoch)` alone: a run
resumed at epoch e reads exactly what an uninterrupted run read from e on.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import zoo.data
from zoo.data import epochs as epochs_lib

# name -> the loader's arguments: small, so each epoch is a handful of batches.
CASES = {
    "digits": {"batch_size": 64, "image_size": 8},
    "sentiment": {"batch_size": 32, "num_examples": 200},
}
NUM_EPOCHS = 3


def _numpy(batch):
    features, labels = batch
    return features.numpy(), labels.numpy()


def _read(ds, num_batches):
    """The first `num_batches` batches of `ds`, as numpy `(features, labels)`."""
    iterator = iter(ds)
    return [_numpy(next(iterator)) for _ in range(num_batches)]


def _finite(name, **kwargs):
    return zoo.data.load(name, split="train", **CASES[name], **kwargs)


def _stream(name, start_epoch, **kwargs):
    return zoo.data.load(name, split="train", start_epoch=start_epoch, **CASES[name],
                         **kwargs)


def _epochs(name, start_epoch, num_epochs, **kwargs):
    """`num_epochs` epochs of the stream from `start_epoch`: a list of lists of batches."""
    steps = int(_finite(name).cardinality())
    batches = _read(_stream(name, start_epoch, **kwargs), steps * num_epochs)
    return [batches[i * steps:(i + 1) * steps] for i in range(num_epochs)]


def _examples(batches):
    features = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    return features, labels


def _content_key(name, features):
    """A sortable per-example key of the features: image sums or the texts."""
    if name == "digits":
        return np.sort(features.reshape(len(features), -1).sum(axis=1))
    return np.sort(features)


def _assert_same_batches(left, right):
    assert len(left) == len(right)
    for (x1, y1), (x2, y2) in zip(left, right):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def _same_batches(left, right):
    return len(left) == len(right) and all(
        np.array_equal(x1, x2) and np.array_equal(y1, y2)
        for (x1, y1), (x2, y2) in zip(left, right))


@pytest.fixture(scope="module", params=sorted(CASES))
def epochs_from_0(request):
    """(name, the finite split's batches, 3 epochs of the start_epoch=0 stream)."""
    name = request.param
    finite = [_numpy(batch) for batch in _finite(request.param, shuffle=False)]
    return name, finite, _epochs(name, 0, NUM_EPOCHS)


def test_the_stream_has_no_end_and_the_split_has_one():
    # flat_map hides that the stream is infinite: TF reports it unknown, and
    # training passes steps_per_epoch. Either way it is never a finite count.
    for name in CASES:
        assert int(_stream(name, 0).cardinality()) in (tf.data.INFINITE_CARDINALITY,
                                                       tf.data.UNKNOWN_CARDINALITY)
        assert int(_finite(name).cardinality()) > 0


def test_each_epoch_is_a_permutation_of_the_split(epochs_from_0):
    name, finite, epochs = epochs_from_0
    features, labels = _examples(finite)
    for epoch, batches in enumerate(epochs):
        got_features, got_labels = _examples(batches)
        assert len(got_labels) == len(labels), epoch
        np.testing.assert_array_equal(np.sort(got_labels), np.sort(labels))
        np.testing.assert_array_equal(_content_key(name, got_features),
                                      _content_key(name, features))


def test_no_batch_spans_two_epochs(epochs_from_0):
    _, finite, epochs = epochs_from_0
    sizes = [len(y) for _, y in finite]
    assert sizes[-1] < sizes[0]  # a short last batch: a spanning batch would show
    for batches in epochs:
        assert [len(y) for _, y in batches] == sizes


def test_consecutive_epochs_are_in_different_orders(epochs_from_0):
    _, _, epochs = epochs_from_0
    labels = [_examples(batches)[1] for batches in epochs]
    features = [_examples(batches)[0] for batches in epochs]
    for a, b in zip(range(NUM_EPOCHS - 1), range(1, NUM_EPOCHS)):
        assert not np.array_equal(features[a], features[b]), (a, b)
        assert not np.array_equal(labels[a], labels[b]), (a, b)


def test_start_epoch_2_reads_epoch_2_of_the_unbroken_stream(epochs_from_0):
    name, _, epochs = epochs_from_0
    resumed, = _epochs(name, 2, 1)
    _assert_same_batches(resumed, epochs[2])


def test_rebuilding_the_stream_gives_the_same_epochs(epochs_from_0):
    name, _, epochs = epochs_from_0
    again = _epochs(name, 0, 2)
    for epoch in range(2):
        _assert_same_batches(again[epoch], epochs[epoch])


@pytest.mark.parametrize("name", sorted(CASES))
def test_order_ignores_the_global_seed_but_follows_seed(name):
    steps = int(_finite(name).cardinality())
    tf.random.set_seed(0)
    with_0 = _read(_stream(name, 1), steps)
    tf.random.set_seed(123)
    with_123 = _read(_stream(name, 1), steps)
    tf.random.set_seed(None)
    unset = _read(_stream(name, 1), steps)
    _assert_same_batches(with_0, with_123)
    _assert_same_batches(with_0, unset)
    other_seed = _read(_stream(name, 1, seed=1), steps)
    assert not _same_batches(other_seed, with_0)


def test_seed_alone_changes_the_order_of_the_same_examples():
    # The loaders' seed also picks the split (digits) or the sentences
    # (sentiment); here the examples are fixed and only the shuffle seed moves.
    examples = tf.data.Dataset.range(50)

    def stream(seed):
        def one_epoch(epoch):
            return epochs_lib.shuffle(examples, 50, seed=seed, epoch=epoch).batch(50)
        return [batch.numpy().tolist() for batch in
                epochs_lib.epoch_stream(one_epoch, start_epoch=0).take(2)]

    seed0, seed1 = stream(0), stream(1)
    assert stream(0) == seed0
    for a, b in zip(seed0, seed1):
        assert sorted(a) == sorted(b) == list(range(50))
        assert a != b
    assert seed0[0] != seed0[1]


def test_epoch_seeds_are_distinct_per_seed_and_epoch():
    seeds = {int(epochs_lib.epoch_seed(seed, epoch))
             for seed in range(5) for epoch in range(100)}
    assert len(seeds) == 500


def test_building_a_stream_leaves_the_global_seed_alone():
    # The stream fixes the graph seed of each epoch's dataset function only.
    tf.random.set_seed(5)
    expected = tf.random.uniform([4]).numpy()
    tf.random.set_seed(5)
    _read(_stream("digits", 0), 2)
    np.testing.assert_array_equal(tf.random.uniform([4]).numpy(), expected)


def test_augmented_cifar_epochs_resume_exactly():
    with tfds.testing.mock_data(num_examples=12):
        finite = zoo.data.load("cifar10", split="train", batch_size=5)
        steps = int(finite.cardinality())
        assert steps == 3
        unbroken = _read(zoo.data.load("cifar10", split="train", batch_size=5,
                                       start_epoch=0), 2 * steps)
        resumed = _read(zoo.data.load("cifar10", split="train", batch_size=5,
                                      start_epoch=1), steps)
        # Unshuffled: the epochs differ by the augmentation alone.
        plain = _read(zoo.data.load("cifar10", split="train", batch_size=5,
                                    shuffle=False, start_epoch=0), 2 * steps)
        plain_resumed = _read(zoo.data.load("cifar10", split="train", batch_size=5,
                                            shuffle=False, start_epoch=1), steps)
        raw = _examples([_numpy(b) for b in zoo.data.load(
            "cifar10", split="train", batch_size=5, shuffle=False, augment=False)])
    epoch0, epoch1 = unbroken[:steps], unbroken[steps:]
    assert [len(y) for _, y in epoch0] == [len(y) for _, y in epoch1] == [5, 5, 2]
    _assert_same_batches(resumed, epoch1)  # crops and flips included
    assert not _same_batches(epoch0, epoch1)
    np.testing.assert_array_equal(np.sort(_examples(epoch1)[1]), np.sort(raw[1]))

    _assert_same_batches(plain_resumed, plain[steps:])
    (images0, labels0), (images1, labels1) = _examples(plain[:steps]), _examples(plain[steps:])
    np.testing.assert_array_equal(labels0, raw[1])
    np.testing.assert_array_equal(labels1, raw[1])
    assert not np.array_equal(images0, images1)  # new crops and flips each epoch
    assert not np.array_equal(images0, raw[0])


@pytest.mark.parametrize("value", [-1, "2", True, 1.5, np.float32(2.0)],
                         ids=repr)
def test_bad_start_epoch_names_argument_and_value(value):
    with pytest.raises(ValueError) as info:
        zoo.data.load("digits", split="train", batch_size=8, image_size=8,
                      start_epoch=value)
    assert f"start_epoch={value!r}" in str(info.value)


@pytest.mark.parametrize("value", [0, 3, np.int64(2)], ids=repr)
def test_integer_start_epochs_are_accepted(value):
    ds = zoo.data.load("digits", split="train", batch_size=8, image_size=8,
                       start_epoch=value)
    images, labels = next(iter(ds))
    assert tuple(images.shape) == (8, 8, 8, 1) and tuple(labels.shape) == (8,)
