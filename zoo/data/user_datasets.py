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
from zoo.data import user_data
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


def _fail(name, problem):
    return ValueError(f"dataset {name!r}: {problem}")


def _path(name, want_dir=None, hint=""):
    """The existing path of a user dataset (`want_dir`: `check_existing`'s)."""
    kind, _, path = name.partition(":")
    if not path.strip():
        raise _fail(name, f"names no path: use {kind}:PATH, "
                          f"received name={name!r}")
    try:
        path = os.path.expanduser(path)
        return user_data.check_existing("path", path, want_dir)
    except ValueError as error:
        raise _fail(name, f"{error}{hint}") from None


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
    csv_name = name.replace("folder:", "csv:", 1)
    path = _path(name, True, f" (for a CSV file use {csv_name!r})")
    held = None
    if os.path.isdir(os.path.join(path, "train")):
        held = _held_out(name, path, [d for d in HELD_OUT_NAMES
                                      if os.path.isdir(os.path.join(path, d))])
    dirs = ({"train": os.path.join(path, "train"), "test": os.path.join(path, held)}
            if held is not None else {"train": path})
    splits, classes = {}, {}
    for split, directory in dirs.items():
        where = f"in dataset {name!r} (directory {directory!r})"
        names, paths, labels = user_data.list_image_folder(directory, where)
        classes[split], splits[split] = names, (paths, labels)
    if "test" in dirs and classes["train"] != classes["test"]:
        only_train = sorted(set(classes["train"]) - set(classes["test"]))
        only_test = sorted(set(classes["test"]) - set(classes["train"]))
        raise _fail(name, f"the class folders of {dirs['train']!r} and {dirs['test']!r} "
                          f"differ: only in train {only_train}, only in {held} {only_test}")
    _check_classes(name, classes["train"], repr(dirs["train"]))
    return classes["train"], {"train": splits["train"], "test": splits.get("test")}


def _split(name, split, validation_fraction, seed):
    """`(class_names, examples, labels)` of `split`: its own, or a share."""
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)
    layout_of = _folder_layout if name.startswith("folder:") else _csv_layout
    class_names, layout = layout_of(name)
    if layout["test"] is not None:
        return class_names, *layout[split]
    examples, labels = layout["train"]
    try:
        rows = user_data.select_split(split, labels, len(class_names),
                                      validation_fraction, seed)
    except ValueError as error:
        raise _fail(name, f"{error}: add examples, or give the test split "
                          "its own folder or file") from None
    return class_names, [examples[i] for i in rows], [labels[i] for i in rows]


def load_folder(name, split="train", batch_size=32, shuffle=False, seed=0,
                drop_remainder=False, start_epoch=None,
                image_size=DEFAULT_IMAGE_SIZE,
                validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"folder:PATH"` dataset: float32 `(batch, size, size, 3)`, int32 labels.

    Arguments as in `zoo.data.load`, which checks the common ones; `seed`
    also seeds the held-out split.
    """
    _validation.positive_int("image_size", image_size)
    _validation.images_fit(image_size, batch_size, CHANNELS)
    _, paths, labels = _split(name, split, validation_fraction, seed)
    size = (int(image_size), int(image_size))
    try:
        return user_data.image_batches(
            paths, labels, size, CHANNELS, batch_size, seed=seed,
            shuffle=shuffle, drop_remainder=drop_remainder,
            start_epoch=start_epoch)
    except ValueError as error:  # a file that does not decode
        raise _fail(name, str(error)) from None


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
    path = _path(name)
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


def load_csv(name, split="train", batch_size=32, shuffle=False, seed=0,
             drop_remainder=False, start_epoch=None,
             validation_fraction=DEFAULT_VALIDATION_FRACTION):
    """One split of a `"csv:PATH"` dataset: raw string `(batch,)`, int32 labels.

    Arguments as in `zoo.data.load`, which checks the common ones; `seed`
    also seeds the held-out split.
    """
    _, texts, labels = _split(name, split, validation_fraction, seed)
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(labels, tf.int32)))
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_remainder=drop_remainder, start_epoch=start_epoch)


def info(name):
    """`zoo.data.info` of a user dataset (without decoding any image)."""
    class_names, _, _ = _split(name, "test", DEFAULT_VALIDATION_FRACTION, 0)
    image = name.startswith("folder:")
    return {"modality": "image" if image else "text",
            "num_classes": len(class_names),
            **({"channels": CHANNELS} if image else {}),
            "class_names": list(class_names), "splits": SPLITS}


def loader(name):
    """`load`'s function for a user dataset, its name bound."""
    load = load_folder if name.startswith("folder:") else load_csv
    return functools.partial(load, name)
