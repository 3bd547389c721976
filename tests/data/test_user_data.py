"""Tests for users' own data (`zoo.data.user_data`): tiny files in tmp_path."""

import numpy as np
import pytest
import tensorflow as tf

import zoo.data

COLORS = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}


def _write_png(path, color, size=(6, 10)):
    pixels = np.zeros((*size, 3), np.uint8) + np.array(color, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels).numpy())


@pytest.fixture
def folder(tmp_path):
    """Three classes of solid-colour images, 5 each (one in a subfolder)."""
    root = tmp_path / "images"
    for name, color in COLORS.items():
        for i in range(4):
            _write_png(root / name / f"{i}.png", color)
        _write_png(root / name / "nested" / "4.PNG", color)
    (root / "red" / "notes.txt").write_text("not an image")
    return root


def _collect(ds):
    images, labels = [], []
    for x, y in ds:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_image_folder_shapes_labels_and_class_names(folder):
    ds, class_names = zoo.data.from_image_folder(folder, 8, batch_size=4)
    assert class_names == ["blue", "green", "red"]
    assert tuple(ds.element_spec[0].shape) == (None, 8, 8, 3)
    assert (ds.element_spec[0].dtype, ds.element_spec[1].dtype) == (
        tf.float32, tf.int32)
    images, labels = _collect(ds)
    assert images.shape == (15, 8, 8, 3)
    assert sorted(labels.tolist()) == [0] * 5 + [1] * 5 + [2] * 5
    # Each label's images have its class's colour: labels follow the names.
    for image, label in zip(images, labels):
        expected = np.array(COLORS[class_names[label]]) / 255.0
        np.testing.assert_allclose(image.mean(axis=(0, 1)), expected,
                                   atol=1e-6)


def test_image_folder_split_is_stratified_seeded_and_disjoint(folder):
    def paths_of(split, seed=0):
        ds, _ = zoo.data.from_image_folder(
            folder, (4, 6), batch_size=32, split=split,
            validation_fraction=0.4, seed=seed, shuffle=False)
        return _collect(ds)

    train_x, train_y = paths_of("train")
    val_x, val_y = paths_of("validation")
    assert train_x.shape == (9, 4, 6, 3) and val_x.shape == (6, 4, 6, 3)
    assert np.bincount(val_y).tolist() == [2, 2, 2]
    assert np.bincount(train_y).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(paths_of("validation")[1], val_y)


def test_image_folder_grey_one_hot_and_shuffle(folder):
    ds, names = zoo.data.from_image_folder(folder, 5, batch_size=15,
                                           channels=1, one_hot=True, seed=3)
    assert tuple(ds.element_spec[0].shape) == (None, 5, 5, 1)
    assert tuple(ds.element_spec[1].shape) == (None, len(names))
    first, second = _collect(ds)[1], _collect(ds)[1]
    assert not np.array_equal(first, second)  # reshuffled every epoch
    np.testing.assert_array_equal(first.sum(axis=0), [5, 5, 5])
    cached, _ = zoo.data.from_image_folder(folder, 5, batch_size=15,
                                           cache=True, shuffle=True)
    a, b = _collect(cached)[1], _collect(cached)[1]
    assert not np.array_equal(a, b) and sorted(a) == sorted(b)


def test_image_folder_bad_input(tmp_path, folder):
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match=r"directory=.*missing"):
        zoo.data.from_image_folder(missing, 8)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no subfolder.*directory=.*empty"):
        zoo.data.from_image_folder(empty, 8)
    (empty / "cats").mkdir()
    with pytest.raises(ValueError, match=r"'cats' has no image files"):
        zoo.data.from_image_folder(empty, 8)
    with pytest.raises(ValueError, match=r"leaves the 'validation' split"):
        zoo.data.from_image_folder(folder, 8, split="validation",
                                   validation_fraction=0.01)
    for kwargs in [{"image_size": 0}, {"image_size": (8,)},
                   {"split": "test"}, {"validation_fraction": 1.0},
                   {"channels": 2}, {"batch_size": 0}, {"seed": -1}]:
        (arg, value), = kwargs.items()
        args = {"image_size": 8, **kwargs}
        with pytest.raises(ValueError) as info:
            zoo.data.from_image_folder(folder, **args)
        assert f"{arg}={value!r}" in str(info.value)


TSV = ("pos\tgreat film, loved it\n"
       "neg\tdull\tand long\n"   # a tab inside the text is kept
       "\n"                      # blank lines are skipped
       "pos\t  fine  \r\n"       # CRLF and padding are stripped
       "neutral\tok\n")


def test_text_file_tsv_vocabulary_labels(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text(TSV, newline="")
    ds, class_names = zoo.data.from_text_file(path, batch_size=8,
                                              shuffle=False)
    assert class_names == ["neg", "neutral", "pos"]
    assert ds.element_spec[0].dtype == tf.string
    assert ds.element_spec[1].dtype == tf.int32
    (texts, labels), = list(ds)
    assert [t.decode() for t in texts.numpy()] == [
        "great film, loved it", "dull\tand long", "fine", "ok"]
    assert labels.numpy().tolist() == [2, 0, 2, 1]


def test_text_file_csv_int_labels_header_and_shared_vocabulary(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("label,text\n2,b, with comma\n0,a\n10,c\n")
    ds, class_names = zoo.data.from_text_file(path, batch_size=2,
                                              skip_header=True, seed=1)
    assert class_names == [str(i) for i in range(11)]
    texts, labels = [], []
    for x, y in ds:
        texts += [t.decode() for t in x.numpy()]
        labels += y.numpy().tolist()
    assert sorted(zip(labels, texts)) == [
        (0, "a"), (2, "b, with comma"), (10, "c")]
    # A test file reuses the train vocabulary; an unseen label is an error.
    test = tmp_path / "test.csv"
    test.write_text("10,z\n")
    ds, names = zoo.data.from_text_file(test, class_names=class_names)
    assert names == class_names and next(iter(ds))[1].numpy().tolist() == [10]
    test.write_text("10,z\n11,y\n")
    with pytest.raises(ValueError, match=r"line 2 of path=.*label '11'"):
        zoo.data.from_text_file(test, class_names=class_names)


def test_text_file_shuffles_every_epoch(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("".join(f"{i % 3}\ttext {i}\n" for i in range(40)))
    ds, _ = zoo.data.from_text_file(path, batch_size=40)
    first = next(iter(ds))[0].numpy().tolist()
    second = next(iter(ds))[0].numpy().tolist()
    assert first != second and sorted(first) == sorted(second)


@pytest.mark.parametrize("content, line", [
    ("pos\tok\nno delimiter here\n", 2),
    ("pos\tok\n\n\t empty label\n", 3),
    ("label\ttext\npos\tok\nbad", 3),
])
def test_text_file_malformed_line_is_named(tmp_path, content, line):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"line {line} of path=.*bad.tsv"):
        zoo.data.from_text_file(path, skip_header=content.startswith("label"))


def test_text_file_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"path=.*nope.tsv"):
        zoo.data.from_text_file(tmp_path / "nope.tsv")
    with pytest.raises(ValueError, match=r"path=.*"):
        zoo.data.from_text_file(tmp_path)  # a directory, not a file
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match=r"no labelled lines.*empty.tsv"):
        zoo.data.from_text_file(empty)
    path = tmp_path / "ok.tsv"
    path.write_text("a\tb\n")
    for kwargs in [{"delimiter": ""}, {"class_names": "ab"},
                   {"class_names": ["a", "a"]}, {"shuffle": None},
                   {"batch_size": 0}]:
        (arg, value), = kwargs.items()
        with pytest.raises(ValueError) as info:
            zoo.data.from_text_file(path, **kwargs)
        assert f"{arg}={value!r}" in str(info.value)


def test_from_generator_batches_shuffles_and_checks():
    def examples():
        for i in range(10):
            yield np.full((2,), i, np.float32), i

    signature = (tf.TensorSpec([2], tf.float32), tf.TensorSpec([], tf.int32))
    ds = zoo.data.from_generator(examples, signature, batch_size=4)
    assert [len(y) for _, y in ds] == [4, 4, 2]
    assert tuple(ds.element_spec[0].shape) == (None, 2)
    shuffled = zoo.data.from_generator(examples, signature, batch_size=10,
                                       shuffle=True, drop_remainder=True)
    a = next(iter(shuffled))[1].numpy().tolist()
    b = next(iter(shuffled))[1].numpy().tolist()
    assert a != b and sorted(a) == list(range(10))
    with pytest.raises(ValueError, match=r"generator_fn=3"):
        zoo.data.from_generator(3, signature, batch_size=4)
    with pytest.raises(ValueError, match=r"output_signature=\(2,\)"):
        zoo.data.from_generator(examples, (2,), batch_size=4)
    with pytest.raises(ValueError, match=r"shuffle_buffer=0"):
        zoo.data.from_generator(examples, signature, shuffle_buffer=0)
