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
    # The "label,text" header is detected (header="auto").
    ds, class_names = zoo.data.from_text_file(path, batch_size=2, seed=1)
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
        zoo.data.from_text_file(path)  # line 1 of the third is a header


def test_text_file_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"path=.*nope.tsv"):
        zoo.data.from_text_file(tmp_path / "nope.tsv")
    with pytest.raises(ValueError, match=r"path=.*"):
        zoo.data.from_text_file(tmp_path)  # a directory, not a file
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match=r"no labelled rows.*empty.tsv"):
        zoo.data.from_text_file(empty)
    path = tmp_path / "ok.tsv"
    path.write_text("a\tb\n")
    for kwargs in [{"delimiter": ""}, {"delimiter": ", "}, {"delimiter": '"'},
                   {"class_names": "ab"}, {"class_names": ["a", "a"]},
                   {"shuffle": "yes"}, {"batch_size": 0}, {"header": "yes"},
                   {"header": 1}, {"split": "test"},
                   {"validation_fraction": 0.0}]:
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


# -- from_text_file: CSV quoting, header, split, shared vocabulary ---------------

QUOTED = ('label,text\n'
          'pos,"great, really great"\n'
          'neg,"a ""meh"" film"\n'
          'pos,"two\n'
          'lines"\n'
          'neg,plain, unquoted commas\n')


def _rows(ds):
    texts, labels = [], []
    for x, y in ds:
        texts += [t.decode() for t in x.numpy()]
        labels += y.numpy().tolist()
    return texts, labels


def test_text_file_csv_quoting_follows_the_csv_module(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(QUOTED)
    ds, class_names = zoo.data.from_text_file(path, shuffle=False)
    assert class_names == ["neg", "pos"]
    assert _rows(ds) == (["great, really great", 'a "meh" film', "two\nlines",
                          "plain, unquoted commas"], [1, 0, 1, 0])
    texts, labels, names = zoo.data.user_data.read_text_file(path)
    assert texts[2] == "two\nlines" and labels.tolist() == [1, 0, 1, 0]
    # An unclosed quote is named by the line its row starts on (the 5th,
    # after the two-line row), not swallowed into one text.
    path.write_text(QUOTED + 'pos,"never closed\nneg,x\n')
    with pytest.raises(ValueError, match=r"line 7 of path=.*quoted.csv.* not valid CSV"):
        zoo.data.from_text_file(path)
    path.write_text('pos,ok\nneg,"quoted" then text\n')
    with pytest.raises(ValueError, match=r"line 2 of path=.*quoted.csv"):
        zoo.data.from_text_file(path)


@pytest.mark.parametrize("first, header, expected", [
    ("label,text", "auto", 3),      # a known header name: skipped
    ("Category,review", "auto", 3),
    ("label,text", True, 3),
    ("pos,first", False, 4),        # data kept
    ("pos,first", "auto", 4),       # its label appears again: data
    ("label,text", False, "label"),  # kept: "label" becomes a class
])
def test_text_file_header(tmp_path, first, header, expected):
    path = tmp_path / "h.csv"
    path.write_text(f"{first}\npos,a\nneg,b\npos,c\n")
    if expected == "label":
        # header=False is obeyed: the row is an example, "label" a class.
        _, names = zoo.data.from_text_file(path, header=header)
        assert names == ["label", "neg", "pos"]
    else:
        ds, _ = zoo.data.from_text_file(path, header=header, shuffle=False)
        assert len(_rows(ds)[0]) == expected


def test_text_file_header_detection_rules(tmp_path):
    path = tmp_path / "ints.csv"
    # Integer labels under a word: the word is a header.
    path.write_text("sentiment,review\n1,good\n0,bad\n")
    texts, labels, names = zoo.data.user_data.read_text_file(path)
    assert (texts, labels.tolist(), names) == (["good", "bad"], [1, 0], ["0", "1"])
    # A one-off first label ahead of labels that all repeat: refused, named.
    path.write_text("sentiment,review\npos,a\nneg,b\npos,c\nneg,d\n")
    with pytest.raises(ValueError, match=r"line 1 of path=.*ints.csv.*looks like "
                                         r"a header.*'sentiment'.*header=True"):
        zoo.data.from_text_file(path)
    _, names = zoo.data.from_text_file(path, header=False)
    assert names == ["neg", "pos", "sentiment"]
    texts, _, names = zoo.data.user_data.read_text_file(path, header=True)
    assert names == ["neg", "pos"] and texts == ["a", "b", "c", "d"]
    # With the training vocabulary given, a header-like first row outside it
    # is an error that suggests header=True.
    with pytest.raises(ValueError, match=r"line 1 .*'sentiment'.*header=True"):
        zoo.data.from_text_file(path, class_names=["neg", "pos"])


def test_text_file_validation_file_uses_training_ids(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("neg\ta\npos\tb\nneutral\tc\n")
    val = tmp_path / "val.tsv"
    val.write_text("pos\tonly positives here\npos\tagain\n")
    _, class_names = zoo.data.from_text_file(train)
    ds, names = zoo.data.from_text_file(val, class_names=class_names)
    assert names == ["neg", "neutral", "pos"]
    assert _rows(ds)[1] == [2, 2]  # not 0, as its own vocabulary would say
    # Alone, its one label would be id 0, silently: refused, naming the fix.
    with pytest.raises(ValueError, match=r"single label, 'pos'.*class_names="):
        zoo.data.from_text_file(val)


def test_text_file_split_is_stratified_seeded_and_disjoint(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("".join(f"{'ab'[i % 2]},text {i}\n" for i in range(20)))

    def rows(split, seed=0):
        ds, _ = zoo.data.from_text_file(path, split=split, seed=seed,
                                        validation_fraction=0.3)
        return sorted(zip(*_rows(ds)))

    train, val = rows("train"), rows("validation")
    assert len(train) == 14 and len(val) == 6
    assert [label for _, label in val].count(0) == 3  # 30% of each class
    assert not {t for t, _ in train} & {t for t, _ in val}
    assert len(train) + len(val) == 20
    assert rows("validation") == val and rows("validation", seed=1) != val
    with pytest.raises(ValueError, match=r"leaves the 'validation' split of "
                                         r"path=.*many.csv.* empty"):
        zoo.data.from_text_file(path, split="validation",
                                validation_fraction=0.01)


def test_text_file_encoding(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbflabel,text\npos,caf\xc3\xa9\nneg,x\n")
    texts, _, names = zoo.data.user_data.read_text_file(path)
    assert texts == ["café", "x"] and names == ["neg", "pos"]
    path.write_bytes(b"pos,a\nneg,b\xff\n")
    with pytest.raises(ValueError, match=r"line 2 of path=.*bom.csv.* not UTF-8"):
        zoo.data.from_text_file(path)


# -- zoo.data.images: the one image preprocessing -----------------------------


def test_decode_image_is_what_from_image_folder_yields(folder):
    ds, names = zoo.data.from_image_folder(folder, (4, 6), batch_size=1,
                                           shuffle=False)
    first_path = sorted((folder / names[0]).glob("*.png"))[0]
    expected = zoo.data.images.decode_image(
        tf.io.read_file(str(first_path)), (4, 6), channels=3).numpy()
    np.testing.assert_array_equal(next(iter(ds))[0].numpy()[0], expected)
    array = zoo.data.images.load_image_files([first_path, str(first_path)],
                                             image_size=[4, 6], channels=3)
    assert array.shape == (2, 4, 6, 3) and array.dtype == np.float32
    np.testing.assert_array_equal(array[0], expected)
    grey = zoo.data.images.load_image_files([first_path], 5, channels=1)
    assert grey.shape == (1, 5, 5, 1)


def test_preprocessing_describes_decode_image():
    spec = zoo.data.images.preprocessing(32, 3)
    assert spec == {"image_size": [32, 32], "channels": 3,
                    "interpolation": "bilinear", "scale": 1 / 255,
                    "offset": 0.0, "channel_order": "RGB"}
    assert zoo.data.images.preprocessing((8, 16), 1)["image_size"] == [8, 16]
    assert zoo.data.images.preprocessing(8, 1)["channel_order"] == "L"
    with pytest.raises(ValueError, match=r"channels=2"):
        zoo.data.images.preprocessing(8, 2)


def test_unreadable_images_are_named(tmp_path, folder):
    bad = folder / "green" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"image file '.*broken.png' cannot be read"):
        zoo.data.images.load_image_files([folder / "red" / "0.png", bad], 8)
    with pytest.raises(ValueError, match=r"image file '.*broken.png' cannot be read"):
        zoo.data.from_image_folder(folder, 8)
    with pytest.raises(ValueError, match=r"image file '.*missing.png' cannot be read"):
        zoo.data.images.load_image_files([tmp_path / "missing.png"], 8)
    with pytest.raises(ValueError, match=r"paths="):
        zoo.data.images.load_image_files(str(bad), 8)
