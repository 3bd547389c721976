"""Users' own data under a dataset name: `"folder:PATH"` and `"csv:PATH"`.

`zoo.data.info` and `zoo.data.load` (and so `python -m zoo.train
--dataset=folder:PATH`) take these names besides the registered ones. PATH
is absolute, relative to the working directory, or starts with `~`.

- `folder:PATH` (images): PATH holds one subfolder of images per class
  (`PATH/cat/1.png`, `PATH/dog/2.jpg`; see
  `zoo.data.user_data.list_image_folder`), or a `train/` folder and one
  `test/`, `validation/` or `val/` folder next to it, each with the same
  class subfolders. Images are RGB, decoded and resized to `image_size`
  by `zoo.data.images.decode_image`. Every file of a split is decoded once
  when the split is loaded, so a bad file fails then, by name, and not
  during training.
- `csv:PATH` (text): PATH is a file of `label,text` rows (`.csv`: commas;
  `.tsv`, `.txt` or anything else: tabs; quoting and header as in
  `zoo.data.user_data.read_text_file`), or a directory holding `train.csv`
  and one of `test.csv`, `validation.csv`, `val.csv` (or `.tsv`, `.txt`).
  The test file's labels are mapped by the training file's class names.

The splits are `"train"` and `"test"`, as for every dataset. With one
folder or one file, `"test"` is a stratified, seeded share of every class
(`validation_fraction`, default 0.2; `zoo.data.user_data.stratified_split`)
and `"train"` the rest, the same for the same `seed` in every process.
`load(..., start_epoch=e)` is the exactly resumable stream of epochs of
`zoo.data.epochs`, as for the registered datasets.

Every problem is a `ValueError` naming the dataset and what is wrong: a
missing path, a file where a directory is expected, no class subfolder, a
class without examples, a single class, an empty split, an unreadable image
or a malformed row (by file and line).
"""

import functools
import os

import tensorflow as tf

from zoo import _validation
from zoo.data import epochs, images, user_data
from zoo.data.text import text_pipeline

KINDS = ("folder", "csv")
SPLITS = ("train", "test")
HELD_OUT_NAMES = ("test", "validation", "val")
CHANNELS = 3
DEFAULT_IMAGE_SIZE = 32
DEFAULT_VALIDATION_FRACTION = 0.2

__all__ = ["KINDS", "info", "is_user_dataset", "load_csv", "load_folder", "loader"]


def is_user_dataset(name):
    """Whether `name` is a `"folder:..."` or `"csv:..."` dataset name."""
    return (isinstance(name, str) and ":" in name
            and name.partition(":")[0] in KINDS)


def _path(name):
    """`(kind, expanded path)` of a user dataset name."""
    kind, _, path = name.partition(":")
    if not path.strip():
        raise ValueError(
            f"dataset {name!r} names no path: use {kind}:PATH, received "
            f"name={name!r}")
    if "\0" in path:
        raise ValueError(f"dataset {name!r}: the path contains a NUL character")
    return kind, os.path.expanduser(path)


def _fail(name, problem):
    return ValueError(f"dataset {name!r}: {problem}")


def _existing(name, path, want_dir, what):
    if not os.path.exists(path):
        raise _fail(name, f"{path!r} does not exist "
                          f"(working directory {os.getcwd()!r})")
    if want_dir is True and not os.path.isdir(path):
        raise _fail(name, f"{path!r} is a file, not a directory of {what}")


def _held_out(name, path, candidates):
    """The one held-out split among `candidates` present, or None."""
    found = [c for c in candidates if os.path.exists(os.path.join(path, c))]
    if len(found) > 1:
        raise _fail(name, f"{path!r} has {len(found)} held-out splits, "
                          f"{found}: keep one")
    return found[0] if found else None


def _check_classes(name, class_names, where):
    if len(class_names) < 2:
        hint = (" (separate splits: put a test/, validation/ or val/ folder "
                "next to train/)" if class_names[0] == "train" else "")
        raise _fail(name, f"only one class, {class_names[0]!r}, in {where}: "
                          f"a classifier needs at least two{hint}")


# -- folder: --------------------------------------------------------------------


def _folder_layout(name):
    """`(class_names, {"train": (paths, labels), "test": ... or None})`.

    `"test"` is None when the held-out share must be split off `"train"`.
    """
    _, path = _path(name)
    _existing(name, path, True, "class subfolders (for a CSV file use "
                                f"'csv:{name.partition(':')[2]}')")
    held = None
    if os.path.isdir(os.path.join(path, "train")):
        held = _held_out(name, path, [d for d in HELD_OUT_NAMES
                                      if os.path.isdir(os.path.join(path, d))])
    if held is not None:
        dirs = {"train": os.path.join(path, "train"),
                "test": os.path.join(path, held)}
    else:
        dirs = {"train": path}
    splits, classes = {}, {}
    for split, directory in dirs.items():
        where = f"in dataset {name!r} (directory {directory!r})"
        class_names, files = user_data.list_image_folder(directory, where)
        classes[split] = class_names
        splits[split] = ([p for group in files for p in group],
                         [label for label, group in enumerate(files)
                          for _ in group])
    if "test" in dirs and classes["train"] != classes["test"]:
        only_train = sorted(set(classes["train"]) - set(classes["test"]))
        only_test = sorted(set(classes["test"]) - set(classes["train"]))
        raise _fail(name, f"the class folders of {dirs['train']!r} and "
                          f"{dirs['test']!r} differ: only in train "
                          f"{only_train}, only in {held} {only_test}")
    _check_classes(name, classes["train"], repr(dirs["train"]))
    return classes["train"], {"train": splits["train"],
                              "test": splits.get("test")}


def _split(name, class_names, layout, split, validation_fraction, seed):
    """`(examples, labels)` of `split`: its own, or a stratified share."""
    if layout["test"] is not None:
        return layout[split]
    examples, labels = layout["train"]
    kept, held = user_data.stratified_split(labels, len(class_names),
                                            validation_fraction, seed)
    rows = kept if split == "train" else held
    if not len(rows):
        raise _fail(name, f"validation_fraction={validation_fraction!r} "
                          f"leaves the {split!r} split empty (each class "
                          "gives round(validation_fraction * its size) "
                          "examples to 'test'): add examples, or give the "
                          "test split its own folder or file")
    return [examples[i] for i in rows], [labels[i] for i in rows]


def _folder_info(name):
    class_names, layout = _folder_layout(name)
    _split(name, class_names, layout, "test", DEFAULT_VALIDATION_FRACTION, 0)
    return {"modality": "image", "num_classes": len(class_names),
            "channels": CHANNELS, "class_names": list(class_names),
            "splits": SPLITS}


def _check_common(split, batch_size, shuffle, seed, drop_remainder,
                  start_epoch, validation_fraction):
    _validation.loader_arguments(split, SPLITS, batch_size, shuffle, seed, drop_remainder,
                                 start_epoch)
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)


def load_folder(name, split="train", batch_size=32, shuffle=None, seed=0,
                drop_remainder=False, start_epoch=None,
                image_size=DEFAULT_IMAGE_SIZE,
                validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"folder:PATH"` dataset (module docstring).

    Args:
        name: str. `"folder:PATH"`.
        split, batch_size, shuffle, seed, drop_remainder, start_epoch: as
            for `zoo.data.load`; `seed` also seeds the held-out split.
        image_size: int >= 1. Height and width of the output images.
        validation_fraction: float in (0, 1). Share of each class held out
            as `"test"` when there is no test folder.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: float32 `(batch,
        image_size, image_size, 3)` in [0, 1] and int32 `(batch,)`.

    Raises:
        ValueError: for a bad argument, a bad folder or an image file that
            cannot be decoded (named).
    """
    _check_common(split, batch_size, shuffle, seed, drop_remainder,
                  start_epoch, validation_fraction)
    _validation.positive_int("image_size", image_size)
    _validation.images_fit(image_size, batch_size, CHANNELS)
    class_names, layout = _folder_layout(name)
    paths, labels = _split(name, class_names, layout, split,
                           validation_fraction, seed)
    try:
        images.check_image_files(paths, CHANNELS)
    except ValueError as error:
        raise _fail(name, str(error)) from None
    if shuffle is None:
        shuffle = split == "train"
    size = (int(image_size), int(image_size))

    def to_example(path, label):
        return images.decode_image(tf.io.read_file(path), size, CHANNELS), label

    ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))

    def one_epoch(epoch):
        # Shuffle the paths, not the images: the buffer then costs bytes.
        examples = epochs.shuffle(ds, len(paths), seed, epoch) if shuffle else ds
        examples = examples.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        return examples.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    return epochs.epoch_stream(one_epoch, start_epoch)


# -- csv: -------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _read_cached(path, size, mtime_ns, class_names):
    # Keyed by size and modification time: an edited file is read again.
    del size, mtime_ns
    texts, labels, names = user_data.read_text_file(
        path, class_names=None if class_names is None else list(class_names))
    labels.setflags(write=False)
    return tuple(texts), labels, tuple(names)


def _read(name, path, class_names=None):
    stat = os.stat(path)
    try:
        return _read_cached(os.path.abspath(path), stat.st_size, stat.st_mtime_ns, class_names)
    except ValueError as error:
        raise _fail(name, str(error)) from None


def _csv_layout(name):
    """`(class_names, {"train": (texts, labels), "test": ... or None})`."""
    _, path = _path(name)
    _existing(name, path, None, None)
    if not os.path.isdir(path):
        texts, labels, class_names = _read(name, path)
        _check_classes(name, class_names, repr(path))
        return class_names, {"train": (texts, labels), "test": None}
    files = {}
    for split, stems in (("train", ("train",)), ("test", HELD_OUT_NAMES)):
        found = _held_out(name, path, [
            stem + ext for stem in stems for ext in user_data.TEXT_EXTENSIONS
            if os.path.isfile(os.path.join(path, stem + ext))])
        if found is None:
            wanted = ", ".join(f"{stem}.csv" for stem in stems)
            raise _fail(name, f"the directory {path!r} has no {wanted} (or "
                              ".tsv, .txt): csv: takes a file, or a directory "
                              "with train.csv and test.csv")
        files[split] = os.path.join(path, found)
    train_texts, train_labels, class_names = _read(name, files["train"])
    _check_classes(name, class_names, repr(files["train"]))
    # The test file's labels take the training file's ids, always.
    test_texts, test_labels, _ = _read(name, files["test"], class_names)
    return class_names, {"train": (train_texts, train_labels),
                         "test": (test_texts, test_labels)}


def _csv_info(name):
    class_names, layout = _csv_layout(name)
    _split(name, class_names, layout, "test", DEFAULT_VALIDATION_FRACTION, 0)
    return {"modality": "text", "num_classes": len(class_names),
            "class_names": list(class_names), "splits": SPLITS}


def load_csv(name, split="train", batch_size=32, shuffle=None, seed=0,
             drop_remainder=False, start_epoch=None,
             validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"csv:PATH"` dataset (module docstring).

    Args:
        name: str. `"csv:PATH"`.
        split, batch_size, shuffle, seed, drop_remainder, start_epoch: as
            for `zoo.data.load`; `seed` also seeds the held-out split.
        validation_fraction: float in (0, 1). Share of each class held out
            as `"test"` when there is no test file.

    Returns:
        A `tf.data.Dataset` of `(text, label)`: string `(batch,)`, raw, and
        int32 `(batch,)`.

    Raises:
        ValueError: for a bad argument, a bad path or a malformed row (named
            by file and line).
    """
    _check_common(split, batch_size, shuffle, seed, drop_remainder,
                  start_epoch, validation_fraction)
    class_names, layout = _csv_layout(name)
    texts, labels = _split(name, class_names, layout, split,
                           validation_fraction, seed)
    if shuffle is None:
        shuffle = split == "train"
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int32)))
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_remainder=drop_remainder, start_epoch=start_epoch)


# -- dispatch ---------------------------------------------------------------------


def info(name):
    """`zoo.data.info` of a user dataset (without decoding any image)."""
    kind, _ = _path(name)
    return _folder_info(name) if kind == "folder" else _csv_info(name)


def loader(name):
    """`load`'s function for a user dataset, its name bound."""
    kind, _ = _path(name)
    return functools.partial(load_folder if kind == "folder" else load_csv, name)
