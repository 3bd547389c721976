"""Users' own data as batched `tf.data.Dataset`s, like `zoo.data.load`'s.

`from_image_folder` (a subfolder of images per class) and `from_text_file`
(`label,text` rows) return `(dataset, class_names)`; `split="train"` or
`"validation"` is a seeded stratified split. Bad input is a `ValueError`
naming the argument or the file (and line), raised before any `tf.data` work.

Example:

>>> import tensorflow as tf
>>> ds = from_generator(lambda: iter([(1.0, 0), (2.0, 1), (3.0, 1)]),
...                     (tf.TensorSpec([], tf.float32),
...                      tf.TensorSpec([], tf.int32)), batch_size=2)
>>> [y.numpy().tolist() for _, y in ds]
[[0, 1], [1]]
"""

import collections
import csv
import io
import os
import re

import numpy as np
import tensorflow as tf

from zoo import _validation
from zoo.data import epochs, images
from zoo.data.images import IMAGE_EXTENSIONS
from zoo.data.text import text_pipeline

SPLITS = ("train", "validation")
# A first row whose label is one of these (any case) is a header.
HEADER_LABELS = ("label", "labels", "class", "category", "target")
TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")

__all__ = ["HEADER_LABELS", "IMAGE_EXTENSIONS", "from_generator",
           "from_image_folder", "from_text_file", "list_image_folder",
           "read_text_file", "stratified_split"]


def check_existing(name, value, want_dir):
    """`value` as a str path to an existing directory, file or either (None)."""
    path = _validation.path(name, value)
    kind = {True: "directory", False: "file"}.get(want_dir, "file or directory")
    if not tf.io.gfile.exists(path):
        problem = f"does not exist (working directory {os.getcwd()!r})"
    elif want_dir is None or tf.io.gfile.isdir(path) == want_dir:
        return path
    else:
        problem = f"is a {'file' if want_dir else 'directory'}, not a {kind}"
    raise ValueError(f"{name} must be an existing {kind}: {name}={value!r} "
                     + problem)


def list_image_folder(directory, where=None):
    """`(class_names, paths, labels)`: the sorted class subfolders (not ".*").

    `where` is what errors say was received (None: `directory=...`).
    """
    where = where or f"received directory={directory!r}"
    class_names = sorted(entry.rstrip("/") for entry in tf.io.gfile.listdir(directory)
                         if not entry.startswith(".")
                         and tf.io.gfile.isdir(os.path.join(directory, entry)))
    if not class_names:
        raise ValueError("directory must hold one subfolder of images per class; it has "
                         f"no subfolder, {where}")
    paths, labels = [], []
    for label, class_name in enumerate(class_names):
        found = images.find_image_files(os.path.join(directory, class_name))
        if not found:
            # Almost always a mistake; a silent extra logit would hide it.
            raise ValueError(f"class folder {class_name!r} has no image files "
                             f"({', '.join(IMAGE_EXTENSIONS)}) under "
                             f"{os.path.join(directory, class_name)!r}, {where}")
        paths += found
        labels += [label] * len(found)
    return class_names, paths, labels


def stratified_split(labels, num_classes, fraction, seed):
    """Sorted indices `(kept, held_out)`: per class, `round(fraction * n)` held out by seed.

    Example:

    >>> kept, held = stratified_split([0, 0, 0, 0, 1, 1], 2, 0.5, seed=0)
    >>> len(kept), len(held), sorted(kept.tolist() + held.tolist())
    (3, 3, [0, 1, 2, 3, 4, 5])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in range(num_classes):
        members = np.flatnonzero(labels == label)
        order = rng.permutation(len(members))
        n_held = round(fraction * len(members))
        held.append(members[order[:n_held]])
        kept.append(members[order[n_held:]])
    return (np.sort(np.concatenate(kept)).astype(np.int64),
            np.sort(np.concatenate(held)).astype(np.int64))


def select_split(split, labels, num_classes, fraction, seed, where=""):
    """Indices of `split`: None all, `"train"` the kept, else the held-out.

    An empty split fails; `where` follows "split" in the error.
    """
    if split is None:
        return np.arange(len(labels), dtype=np.int64)
    kept, held = stratified_split(labels, num_classes, fraction, seed)
    rows = kept if split == "train" else held
    if not len(rows):
        raise ValueError(
            f"validation_fraction={fraction!r} leaves the {split!r} "
            f"split{where} empty (each class holds out "
            "round(validation_fraction * its size))")
    return rows


def _check_common(batch_size, split, validation_fraction, seed, shuffle,
                  drop_remainder, cache):
    _validation.positive_int("batch_size", batch_size)
    if split is not None:
        _validation.one_of("split", split, SPLITS)
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)
    _validation.non_negative_int("seed", seed)
    for option, value in (("shuffle", shuffle), ("cache", cache),
                          ("drop_remainder", drop_remainder)):
        _validation.boolean(option, value, optional=option == "shuffle")


def from_image_folder(directory, image_size, batch_size=32, *, split=None,
                      validation_fraction=0.2, seed=0, shuffle=None,
                      channels=3, one_hot=False, drop_remainder=False,
                      cache=False):
    """Class-named subfolders of images as `(image, label)` batches, and the class names.

    `split` is None (all), `"train"` or `"validation"` (`stratified_split`);
    `shuffle` None shuffles unless `"validation"`.
    """
    directory = check_existing("directory", directory, want_dir=True)
    size = images.check_image_size(image_size)
    _check_common(batch_size, split, validation_fraction, seed, shuffle,
                  drop_remainder, cache)
    channels = images.check_channels(channels)
    _validation.images_fit(image_size, batch_size, channels)
    _validation.boolean("one_hot", one_hot)
    class_names, all_paths, all_labels = list_image_folder(directory)
    where = f" of directory={directory!r}"
    rows = select_split(split, all_labels, len(class_names),
                        validation_fraction, seed, where)
    ds = image_batches(
        [all_paths[i] for i in rows], [all_labels[i] for i in rows], size,
        channels, batch_size, cache=cache, seed=seed,
        shuffle=split != "validation" if shuffle is None else shuffle,
        drop_remainder=drop_remainder,
        num_classes=len(class_names) if one_hot else None)
    return ds, class_names


def image_batches(paths, labels, image_size, channels, batch_size, *, shuffle,
                  seed, drop_remainder, start_epoch=None, cache=False,
                  num_classes=None):
    """Decoded `(image, label)` batches of image files (`epochs.batches`).

    Every file is decoded once first (`images.check_image_files`): a bad
    one fails here, by name. `num_classes` one-hot encodes the labels.
    """
    images.check_image_files(paths, channels)

    def to_example(path, label):
        image = images.decode_image(tf.io.read_file(path), image_size, channels)
        if num_classes:
            label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return image, label

    def decode(examples, epoch=None):
        return examples.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)

    ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
    # Uncached, the paths are shuffled, not the images: a buffer of bytes.
    return epochs.batches(decode(ds).cache() if cache else ds, batch_size,
                          shuffle=shuffle, seed=seed,
                          drop_remainder=drop_remainder,
                          start_epoch=start_epoch,
                          transform=None if cache else decode)


_INT_LABEL = re.compile(r"[0-9]+")
_BOM = b"\xef\xbb\xbf"


def _check_text_args(path, delimiter, header, class_names):
    path = check_existing("path", path, want_dir=False)
    if delimiter is None:
        delimiter = "," if path.lower().endswith(".csv") else "\t"
    if (not isinstance(delimiter, str) or len(delimiter) != 1
            or delimiter in '\r\n"'):
        raise ValueError(
            "delimiter must be None or one character other than a quote or "
            f"a line break, received delimiter={delimiter!r}")
    if not (header is True or header is False or header == "auto"):
        raise ValueError(f"header must be 'auto', True or False, received header={header!r}")
    return path, delimiter, _validation.class_names(class_names)


def _decode(raw, path):
    raw = raw.removeprefix(_BOM)  # Excel's CSVs
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(f"line {line} of path={path!r} is not UTF-8: {error}") from None


def _rows(path, delimiter):
    """`[(line_number, label, text)]` of the non-blank rows, in file order."""
    with tf.io.gfile.GFile(path, "rb") as f:
        content = _decode(f.read(), path)
    # strict: a misplaced quote is an error, not text silently swallowed.
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    rows, start = [], 1  # the first line of the next row
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # long documents are fine here
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not any(field.strip() for field in fields):
                continue  # blank lines are skipped
            label = fields[0].strip()
            if len(fields) < 2 or not label:
                raise ValueError(
                    f"line {line} of path={path!r} is not "
                    f"'label{delimiter}text' (delimiter={delimiter!r}): "
                    f"{delimiter.join(fields)[:80]!r}")
            # Unquoted delimiters in the text are the text's own: put back.
            rows.append((line, label, delimiter.join(fields[1:]).strip()))
    except csv.Error as error:
        raise ValueError(
            f"line {start} of path={path!r} is not valid CSV ({error}); "
            f"quote a text that holds the delimiter {delimiter!r}, a quote or "
            "a line break with double quotes, doubling the quotes inside: "
            f'label{delimiter}"say ""hi"""') from None
    finally:
        csv.field_size_limit(limit)
    return rows


def _is_header(rows, class_names, path):
    """Whether `header="auto"` skips the first row (see `read_text_file`)."""
    (line, first, _), others = rows[0], rows[1:]
    counts = collections.Counter(label for _, label, _ in others)
    if first in counts or (class_names is not None and first in class_names):
        return False
    if first.lower() in HEADER_LABELS:
        return True
    if (others and not _INT_LABEL.fullmatch(first)
            and all(_INT_LABEL.fullmatch(label) for label in counts)):
        return True
    if class_names is None and len(others) >= 2 and min(counts.values()) >= 2:
        # Far more often a header than data: refuse rather than guess.
        raise ValueError(
            f"line {line} of path={path!r} looks like a header: its label "
            f"{first!r} appears on no other line, while every other label "
            "appears at least twice. Pass header=True to skip it, or "
            "header=False to keep it as an example")
    return False


def read_text_file(path, delimiter=None, header="auto", class_names=None):
    """Parses a `label,text` file (strict CSV quoting): `(texts, int32 labels, class_names)`.

    `header="auto"` skips a first row whose label appears nowhere else and
    is one of `HEADER_LABELS` or the one non-integer; it refuses a lone
    first label while every other repeats. Label ids: `class_names.index`
    when given; else the integer, if every label is one; else the sorted
    order. `delimiter` None is `","` for `.csv`, else a tab.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('label,text\\npos,"great, really"\\nneg,"a ""meh"" film"\\n')
    >>> read_text_file(path)
    (['great, really', 'a "meh" film'], array([1, 0], dtype=int32), ['neg', 'pos'])
    """
    path, delimiter, class_names = _check_text_args(path, delimiter, header, class_names)
    rows = _rows(path, delimiter)
    if rows and (header is True or (header == "auto" and _is_header(rows, class_names, path))):
        rows = rows[1:]
    if not rows:
        raise ValueError(f"path has no labelled rows, received path={path!r}")
    labels = [label for _, label, _ in rows]
    if class_names is not None:
        ids = {name: i for i, name in enumerate(class_names)}
        for line, label, _ in rows:
            if label not in ids:
                hint = (" (a header row? pass header=True)"
                        if line == 1 and header is not True else "")
                raise ValueError(f"line {line} of path={path!r} has label {label!r}, not "
                                 f"one of class_names={class_names!r}{hint}")
    elif all(_INT_LABEL.fullmatch(label) for label in labels):
        ids = {label: int(label) for label in set(labels)}
        class_names = [str(i) for i in range(max(ids.values()) + 1)]
    else:
        class_names = sorted(set(labels))
        ids = {name: i for i, name in enumerate(class_names)}
    texts = [text for _, _, text in rows]
    return texts, np.array([ids[label] for label in labels], np.int32), class_names


def from_text_file(path, batch_size=32, *, delimiter=None, class_names=None,
                   header="auto", split=None, validation_fraction=0.2, seed=0,
                   shuffle=None, drop_remainder=False, cache=True):
    """A CSV or TSV file of `label,text` rows as `(text, label)` batches, and the class names.

    Parsed whole by `read_text_file` first. A test file may lack classes:
    pass the training file's `class_names` to keep its ids. `split` and
    `shuffle` as in `from_image_folder`.
    """
    _check_common(batch_size, split, validation_fraction, seed, shuffle,
                  drop_remainder, cache)
    texts, labels, names = read_text_file(path, delimiter, header, class_names)
    path = os.fspath(path)
    if class_names is None and len(names) < 2:
        # Its one label would become id 0, whatever id training gave it.
        raise ValueError(
            f"path={path!r} has a single label, {names[0]!r}: a training file "
            "needs two or more; to read a test file, pass the training file's "
            "class_names= so that its labels keep their ids")
    rows = select_split(split, labels, len(names), validation_fraction, seed,
                        f" of path={path!r}")
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant([texts[i] for i in rows], tf.string), labels[rows]))
    return text_pipeline(
        ds, batch_size=batch_size, seed=seed, drop_remainder=drop_remainder,
        shuffle=split != "validation" if shuffle is None else shuffle,
        cache=cache), names


def from_generator(generator_fn, output_signature, batch_size=32, *,
                   shuffle=False, shuffle_buffer=1024, seed=0,
                   drop_remainder=False, cache=False):
    """`tf.data.Dataset.from_generator` with zoo's shuffling and batching.

    `generator_fn` is called every epoch (once with `cache`).
    """
    if not callable(generator_fn):
        raise ValueError(f"generator_fn must be callable, received generator_fn={generator_fn!r}")
    specs = tf.nest.flatten(output_signature)
    if not specs or not all(isinstance(s, tf.TypeSpec) for s in specs):
        raise ValueError("output_signature must be a nested structure of tf.TypeSpec, "
                         f"received output_signature={output_signature!r}")
    _validation.positive_int("batch_size", batch_size)
    _validation.positive_int("shuffle_buffer", shuffle_buffer)
    _validation.non_negative_int("seed", seed)
    for option, value in (("shuffle", shuffle), ("cache", cache),
                          ("drop_remainder", drop_remainder)):
        _validation.boolean(option, value)
    ds = tf.data.Dataset.from_generator(generator_fn, output_signature=output_signature)
    return epochs.batches(ds.cache() if cache else ds, batch_size,
                          shuffle=shuffle, seed=seed, buffer=shuffle_buffer,
                          drop_remainder=drop_remainder)
