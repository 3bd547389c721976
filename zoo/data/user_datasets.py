"""Users' own data under a dataset name: `"folder:PATH"` and `"csv:PATH"`.

- `folder:PATH` (RGB images): one subfolder of images per class, or a
  `train/` folder and one `test/`, `validation/` or `val/` folder beside it.
- `csv:PATH` (text): a file of `label,text` rows (`.csv`: commas, else
  tabs), or a directory with `train.csv` and one of `test.csv`,
  `validation.csv`, `val.csv` (or `.tsv`, `.txt`); the test file's labels
  take the training file's ids.

With one folder or file, `"test"` is a seeded, stratified share of every
class (`validation_fraction`). Every problem is a `ValueError` naming the
dataset and what is wrong.
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
        raise ValueError(f"dataset {name!r} names no path: use {kind}:PATH, received name={name!r}")
    if "\0" in path:
        raise ValueError(f"dataset {name!r}: the path contains a NUL character")
    return kind, os.path.expanduser(path)


def _fail(name, problem):
    return ValueError(f"dataset {name!r}: {problem}")


def _existing(name, path, want_dir, what):
    if not os.path.exists(path):
        raise _fail(name, f"{path!r} does not exist (working directory {os.getcwd()!r})")
    if want_dir is True and not os.path.isdir(path):
        raise _fail(name, f"{path!r} is a file, not a directory of {what}")


def _held_out(name, path, candidates):
    """The one held-out split among `candidates` present, or None."""
    found = [c for c in candidates if os.path.exists(os.path.join(path, c))]
    if len(found) > 1:
        raise _fail(name, f"{path!r} has {len(found)} held-out splits, {found}: keep one")
    return found[0] if found else None


def _check_classes(name, class_names, where):
    if len(class_names) < 2:
        hint = (" (separate splits: put a test/, validation/ or val/ folder next to train/)"
                if class_names[0] == "train" else "")
        raise _fail(name, f"only one class, {class_names[0]!r}, in {where}: "
                          f"a classifier needs at least two{hint}")


def _folder_layout(name):
    """`(class_names, {"train": (paths, labels), "test": ... or None: split off train})`."""
    _, path = _path(name)
    _existing(name, path, True, "class subfolders (for a CSV file use "
                                f"'csv:{name.partition(':')[2]}')")
    held = None
    if os.path.isdir(os.path.join(path, "train")):
        held = _held_out(name, path, [d for d in HELD_OUT_NAMES
                                      if os.path.isdir(os.path.join(path, d))])
    dirs = ({"train": os.path.join(path, "train"), "test": os.path.join(path, held)}
            if held is not None else {"train": path})
    splits, classes = {}, {}
    for split, directory in dirs.items():
        where = f"in dataset {name!r} (directory {directory!r})"
        classes[split], files = user_data.list_image_folder(directory, where)
        splits[split] = user_data.examples_of(files)
    if "test" in dirs and classes["train"] != classes["test"]:
        only_train = sorted(set(classes["train"]) - set(classes["test"]))
        only_test = sorted(set(classes["test"]) - set(classes["train"]))
        raise _fail(name, f"the class folders of {dirs['train']!r} and {dirs['test']!r} "
                          f"differ: only in train {only_train}, only in {held} {only_test}")
    _check_classes(name, classes["train"], repr(dirs["train"]))
    return classes["train"], {"train": splits["train"], "test": splits.get("test")}


def _split(name, class_names, layout, split, validation_fraction, seed):
    """`(examples, labels)` of `split`: its own, or a stratified share."""
    if layout["test"] is not None:
        return layout[split]
    examples, labels = layout["train"]
    kept, held = user_data.stratified_split(labels, len(class_names), validation_fraction, seed)
    rows = kept if split == "train" else held
    if not len(rows):
        raise _fail(name, f"validation_fraction={validation_fraction!r} leaves the {split!r} "
                          "split empty (each class gives round(validation_fraction * its "
                          "size) examples to 'test'): add examples, or give the test split "
                          "its own folder or file")
    return [examples[i] for i in rows], [labels[i] for i in rows]


def _check_common(split, batch_size, shuffle, seed, drop_remainder, start_epoch,
                  validation_fraction):
    _validation.loader_arguments(split, SPLITS, batch_size, shuffle, seed, drop_remainder,
                                 start_epoch)
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)


def load_folder(name, split="train", batch_size=32, shuffle=None, seed=0,
                drop_remainder=False, start_epoch=None,
                image_size=DEFAULT_IMAGE_SIZE,
                validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"folder:PATH"` dataset: float32 `(batch, size, size, 3)`, int32 labels.

    Arguments as in `zoo.data.load`; `seed` also seeds the held-out split.
    """
    _check_common(split, batch_size, shuffle, seed, drop_remainder, start_epoch,
                  validation_fraction)
    _validation.positive_int("image_size", image_size)
    _validation.images_fit(image_size, batch_size, CHANNELS)
    class_names, layout = _folder_layout(name)
    paths, labels = _split(name, class_names, layout, split, validation_fraction, seed)
    try:
        images.check_image_files(paths, CHANNELS)
    except ValueError as error:
        raise _fail(name, str(error)) from None
    size = (int(image_size), int(image_size))

    def decode(examples, epoch):
        return examples.map(
            lambda path, label: (images.decode_image(tf.io.read_file(path), size, CHANNELS), label),
            num_parallel_calls=tf.data.AUTOTUNE)

    # Shuffle the paths, not the images: the buffer then costs bytes.
    ds = tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))
    return epochs.batches(ds, batch_size, shuffle=split == "train" if shuffle is None else shuffle,
                          seed=seed, drop_remainder=drop_remainder, start_epoch=start_epoch,
                          transform=decode)


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


def load_csv(name, split="train", batch_size=32, shuffle=None, seed=0,
             drop_remainder=False, start_epoch=None,
             validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"csv:PATH"` dataset: raw string `(batch,)`, int32 labels.

    Arguments as in `zoo.data.load`; `seed` also seeds the held-out split.
    """
    _check_common(split, batch_size, shuffle, seed, drop_remainder,
                  start_epoch, validation_fraction)
    class_names, layout = _csv_layout(name)
    texts, labels = _split(name, class_names, layout, split,
                           validation_fraction, seed)
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int32)))
    return text_pipeline(ds, batch_size=batch_size,
                         shuffle=split == "train" if shuffle is None else shuffle, seed=seed,
                         drop_remainder=drop_remainder, start_epoch=start_epoch)


def info(name):
    """`zoo.data.info` of a user dataset (without decoding any image)."""
    kind, _ = _path(name)
    class_names, layout = (_folder_layout if kind == "folder" else _csv_layout)(name)
    _split(name, class_names, layout, "test", DEFAULT_VALIDATION_FRACTION, 0)
    channels = {"channels": CHANNELS} if kind == "folder" else {}
    return {"modality": "image" if kind == "folder" else "text",
            "num_classes": len(class_names), **channels,
            "class_names": list(class_names), "splits": SPLITS}


def loader(name):
    """`load`'s function for a user dataset, its name bound."""
    kind, _ = _path(name)
    return functools.partial(load_folder if kind == "folder" else load_csv, name)
