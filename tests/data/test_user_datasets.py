"""Tests for `"folder:PATH"` and `"csv:PATH"` datasets (`zoo.data.user_datasets`)
through `zoo.data.info` / `zoo.data.load`, and for every dataset's class names."""

import re

import numpy as np
import pytest
import tensorflow as tf

import zoo.data
from zoo.data import tfds_images

CLASSES = ("ant", "bee", "cat")


def _write_png(path, value, size=(5, 7)):
    """A solid image whose every pixel is `value`: its id after decoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.full((*size, 3), value, np.uint8)).numpy())


def _image_folder(root, per_class=5, first_id=0):
    """Class subfolders of solid images with distinct values; returns ids by class."""
    ids = {}
    value = first_id
    for name in CLASSES:
        for i in range(per_class):
            _write_png(root / name / f"{i}.png", value)
            ids.setdefault(name, []).append(value)
            value += 1
    return ids


def _examples(ds):
    """`[(image id, label)]` of an image dataset of solid images."""
    out = []
    for x, y in ds:
        ids = np.rint(x.numpy().mean(axis=(1, 2, 3)) * 255).astype(int)
        out += list(zip(ids.tolist(), y.numpy().tolist()))
    return out


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "pets"
    return root, _image_folder(root)


def test_folder_info_lists_classes_without_decoding(images):
    root, _ = images
    (root / "bee" / "broken.png").write_bytes(b"not a png")  # info decodes nothing
    (root / ".ipynb_checkpoints").mkdir()  # not a class
    assert zoo.data.info(f"folder:{root}") == {
        "modality": "image", "num_classes": 3, "channels": 3,
        "class_names": ["ant", "bee", "cat"], "splits": ("train", "test"),
        "options": ("image_size", "validation_fraction")}


def test_folder_split_is_stratified_seeded_and_disjoint(images):
    root, ids = images
    name = f"folder:{root}"

    def examples(split, seed=0, **options):
        return _examples(zoo.data.load(name, split=split, batch_size=4, seed=seed,
                                       shuffle=False, image_size=6, **options))

    train, test = examples("train"), examples("test")
    assert len(train) == 12 and len(test) == 3  # round(0.2 * 5) = 1 per class
    assert sorted(label for _, label in test) == [0, 1, 2]
    assert not {i for i, _ in train} & {i for i, _ in test}
    every = sorted(train + test)
    assert every == sorted((i, CLASSES.index(c)) for c, v in ids.items() for i in v)
    assert examples("test") == test
    assert {i for i, _ in examples("test", seed=1)} != {i for i, _ in test}
    assert len(examples("test", validation_fraction=0.4)) == 6
    x, y = next(iter(zoo.data.load(name, split="test", batch_size=2, image_size=9)))
    assert (x.shape, x.dtype, y.dtype) == ((2, 9, 9, 3), tf.float32, tf.int32)


def test_folder_with_train_and_val_folders(tmp_path):
    root = tmp_path / "split"
    train_ids = _image_folder(root / "train", per_class=2)
    val_ids = _image_folder(root / "val", per_class=1, first_id=100)
    name = f"folder:{root}"
    assert zoo.data.info(name)["class_names"] == list(CLASSES)
    test = _examples(zoo.data.load(name, split="test", batch_size=8, shuffle=False))
    assert test == [(val_ids[c][0], CLASSES.index(c)) for c in CLASSES]
    train = _examples(zoo.data.load(name, split="train", batch_size=8, shuffle=False))
    assert sorted(i for i, _ in train) == sorted(sum(train_ids.values(), []))
    (root / "val" / "cat").rename(root / "val" / "dog")
    with pytest.raises(ValueError, match=r"'folder:.*split'.*class folders of '.*train' "
                                         r"and '.*val' differ.*\['cat'\].*\['dog'\]"):
        zoo.data.info(name)


def test_folder_stream_resumes_exactly(images):
    root, _ = images
    name = f"folder:{root}"

    def stream(start_epoch, count):
        ds = zoo.data.load(name, batch_size=5, seed=3, image_size=4,
                           start_epoch=start_epoch)
        return _examples(ds.take(count))

    # 12 train images: 3 batches (5, 5, 2) per epoch.
    whole = stream(0, 12)
    assert stream(2, 6) == whole[24:]
    epochs = [sorted(whole[i * 12:(i + 1) * 12]) for i in range(4)]
    assert all(e == epochs[0] for e in epochs)  # every epoch is the train split
    assert whole[:12] != whole[12:24]  # reshuffled per epoch
    one = zoo.data.load(name, batch_size=5, image_size=4)
    assert int(one.cardinality()) == 3


def test_folder_paths_relative_and_home(images, monkeypatch):
    root, _ = images
    monkeypatch.chdir(root.parent)
    assert zoo.data.info(f"folder:{root.name}")["num_classes"] == 3
    monkeypatch.setenv("HOME", str(root.parent))
    assert zoo.data.info(f"folder:~/{root.name}")["num_classes"] == 3


def test_folder_errors_name_the_dataset_and_the_problem(tmp_path, images):
    root, _ = images

    def fails(name, pattern, call=zoo.data.info):
        with pytest.raises(ValueError) as info:
            call(name)
        assert name in str(info.value) or repr(name) in str(info.value)
        assert info.match(pattern), str(info.value)

    fails(f"folder:{tmp_path / 'nope'}", r"'.*nope' does not exist")
    (tmp_path / "file.csv").write_text("a,b\n")
    fails(f"folder:{tmp_path / 'file.csv'}", r"is a file, not a directory.*'csv:")
    fails("folder:", r"names no path")
    (tmp_path / "empty").mkdir()
    fails(f"folder:{tmp_path / 'empty'}", r"no subfolder")
    (tmp_path / "empty" / "cats").mkdir()
    fails(f"folder:{tmp_path / 'empty'}", r"class folder 'cats' has no image files")
    _write_png(tmp_path / "one" / "cats" / "a.png", 1)
    fails(f"folder:{tmp_path / 'one'}", r"only one class, 'cats'.*at least two")
    _write_png(tmp_path / "tiny" / "a" / "1.png", 1)
    _write_png(tmp_path / "tiny" / "b" / "1.png", 2)
    fails(f"folder:{tmp_path / 'tiny'}", r"leaves the 'test' split empty")
    # A corrupt file: info lists it, load names it before any training.
    (root / "bee" / "zz.png").write_bytes(b"garbage")
    name = f"folder:{root}"
    zoo.data.info(name)
    errors = []
    for split in ("train", "test"):  # the file is in one of them
        try:
            zoo.data.load(name, split=split)
        except ValueError as error:
            errors.append(str(error))
    assert len(errors) == 1
    assert re.search(r"'folder:.*image file '.*zz.png' cannot be read", errors[0])
    with pytest.raises(ValueError, match=r"takes no option channels=1"):
        zoo.data.load(name, channels=1)
    with pytest.raises(ValueError, match=r"image_size=\(8, 8\)"):
        zoo.data.load(name, image_size=(8, 8))
    with pytest.raises(ValueError, match=r"'folder:/no/such' \(a folder"):
        zoo.data.info("/no/such")  # a bare path: the message says what to write


CSV = "".join(f"{'neg' if i % 3 else 'pos'},\"review {i}, quoted\"\n" for i in range(30))


def test_csv_file_info_splits_and_quoting(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("label,text\n" + CSV)
    name = f"csv:{path}"
    assert zoo.data.info(name) == {
        "modality": "text", "num_classes": 2, "class_names": ["neg", "pos"],
        "splits": ("train", "test"), "options": ("validation_fraction",)}

    def rows(split, seed=0):
        ds = zoo.data.load(name, split=split, batch_size=7, seed=seed, shuffle=False)
        return [(t.decode(), int(y)) for x, ys in ds for t, y in zip(x.numpy(), ys.numpy())]

    train, test = rows("train"), rows("test")
    assert len(train) == 24 and len(test) == 6
    assert sorted(y for _, y in test) == [0, 0, 0, 0, 1, 1]
    assert not set(train) & set(test)
    assert ("review 0, quoted", 1) in train + test
    assert rows("test") == test and rows("test", seed=5) != test


def test_csv_directory_maps_test_labels_by_training_names(tmp_path):
    (tmp_path / "train.tsv").write_text("b\tone\na\ttwo\nc\tthree\n")
    (tmp_path / "test.tsv").write_text("c\tonly c here\n")
    name = f"csv:{tmp_path}"
    assert zoo.data.info(name)["class_names"] == ["a", "b", "c"]
    texts, labels = next(iter(zoo.data.load(name, split="test")))
    assert texts.numpy().tolist() == [b"only c here"] and labels.numpy().tolist() == [2]
    (tmp_path / "test.tsv").write_text("c\tok\nd\tunseen\n")
    with pytest.raises(ValueError, match=r"'csv:.*line 2 of path=.*test.tsv.*'d'"):
        zoo.data.load(name, split="test")
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(ValueError, match=r"has no test.csv, validation.csv, val.csv"):
        zoo.data.info(name)


def test_csv_stream_resumes_exactly(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(CSV)
    name = f"csv:{path}"

    def stream(start_epoch, count):
        ds = zoo.data.load(name, batch_size=10, seed=2, start_epoch=start_epoch)
        return [x.numpy().tolist() for x, _ in ds.take(count)]

    whole = stream(0, 9)  # 24 train rows: 3 batches per epoch
    assert stream(2, 3) == whole[6:]
    assert whole[:3] != whole[3:6]
    assert int(zoo.data.load(name, batch_size=10).cardinality()) == 3


def test_csv_errors_name_the_dataset_and_the_file(tmp_path):
    def fails(name, pattern):
        with pytest.raises(ValueError, match=pattern):
            zoo.data.info(name)

    fails(f"csv:{tmp_path / 'missing.csv'}", r"'csv:.*missing.csv'.*does not exist")
    one = tmp_path / "one.csv"
    one.write_text("pos,a\npos,b\n")
    fails(f"csv:{one}", r"'csv:.*one.csv'.*only one class, 'pos'")
    bad = tmp_path / "bad.csv"
    bad.write_text("pos,a\nneg,b\njust text\n")
    fails(f"csv:{bad}", r"'csv:.*line 3 of path=.*bad.csv.*not 'label,text'")
    (tmp_path / "d").mkdir()
    for stem in ("train", "test", "val"):
        (tmp_path / "d" / f"{stem}.csv").write_text("a,x\nb,y\n")
    fails(f"csv:{tmp_path / 'd'}", r"2 held-out splits, \['test.csv', 'val.csv'\]")


def test_registered_class_names():
    names = {name: zoo.data.info(name)["class_names"] for name in zoo.data.DATASETS}
    assert names["digits"] == names["mnist"] == [str(d) for d in range(10)]
    assert names["sentiment"] == ["negative", "positive"]
    assert names["imdb_reviews"] == ["neg", "pos"]
    assert names["fashion_mnist"][0] == "T-shirt/top"
    assert names["fashion_mnist"][9] == "Ankle boot"
    assert names["cifar10"][:2] == ["airplane", "automobile"]
    assert names["cifar100"] == sorted(names["cifar100"])  # TFDS' fine labels
    assert names["cifar100"][0] == "apple" and names["cifar100"][99] == "worm"
    for name, class_names in names.items():
        assert len(class_names) == zoo.data.info(name)["num_classes"], name
        assert len(set(class_names)) == len(class_names)
        assert all(isinstance(c, str) for c in class_names)
    assert tfds_images.DATASETS["cifar10"]["class_names"][3] == "cat"
