"""Users' own data as batched `tf.data.Dataset`s, like `zoo.data.load`'s.

- `from_image_folder(directory, image_size, ...)`: a folder with one
  subfolder per class (`directory/cat/1.png`, `directory/dog/a.jpg`, ...).
  Class names are the subfolder names, sorted; label ids follow that order.
  Images go through `zoo.data.images.decode_image` (decoded, scaled to
  float32 [0, 1], resized bilinearly), every file checked once first.
- `from_text_file(path, ...)`: a CSV (or TSV) file of `label,text` rows,
  parsed by Python's `csv` module: a field holding the delimiter, a quote or
  a line break is quoted (`1,"great, really"`, quotes inside doubled), and
  the quotes are removed. A header row is detected (`header="auto"`).
- `from_generator(generator_fn, output_signature, ...)`: a thin wrapper over
  `tf.data.Dataset.from_generator` with the same shuffling and batching.

The first two return `(dataset, class_names)` and take `split="train"` or
`"validation"`: a stratified split seeded by `seed` (`stratified_split`).
Bad input (a missing directory, an empty folder, an unreadable image, a
malformed row, named by its line number) is a `ValueError` that names the
argument and its value or the file, raised before any `tf.data` work.

Example:

>>> import tensorflow as tf
>>> ds = from_generator(lambda: iter([(1.0, 0), (2.0, 1), (3.0, 1)]),
...                     (tf.TensorSpec([], tf.float32),
...                      tf.TensorSpec([], tf.int32)), batch_size=2)
>>> [y.numpy().tolist() for _, y in ds]
[[0, 1], [1]]
"""

import csv
import io
import os
import re

import numpy as np
import tensorflow as tf

from zoo import _validation
from zoo.data import images
from zoo.data.images import IMAGE_EXTENSIONS

SPLITS = ("train", "validation")
# A first row whose label is one of these (any case) is a header.
HEADER_LABELS = ("label", "labels", "class", "category", "target")
TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")

__all__ = ["HEADER_LABELS", "IMAGE_EXTENSIONS", "from_generator",
           "from_image_folder", "from_text_file", "list_image_folder",
           "read_text_file", "stratified_split"]


def _check_existing(name, value, want_dir):
    path = _validation.path(name, value)
    kind = "directory" if want_dir else "file"
    exists = tf.io.gfile.isdir(path) if want_dir else (
        tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path))
    if not exists:
        raise ValueError(
            f"{name} must be an existing {kind}, received {name}={value!r}")
    return path


def list_image_folder(directory, where=None):
    """`(class_names, files_per_class)` of a folder of class subfolders.

    Class names are the subfolder names, sorted; subfolders whose name
    starts with "." (`.ipynb_checkpoints`, `.git`) are not classes. Files
    are found recursively under each class subfolder by extension
    (`IMAGE_EXTENSIONS`, any case), sorted.

    Args:
        directory: str. An existing directory.
        where: str or None. What errors say was received; None means
            `directory=...`.

    Raises:
        ValueError: no class subfolder, or a class subfolder without images.
    """
    where = where or f"received directory={directory!r}"
    class_names = sorted(
        entry.rstrip("/") for entry in tf.io.gfile.listdir(directory)
        if not entry.startswith(".")
        and tf.io.gfile.isdir(os.path.join(directory, entry)))
    if not class_names:
        raise ValueError(
            "directory must hold one subfolder of images per class; it has "
            f"no subfolder, {where}")
    files = []
    for class_name in class_names:
        found = images.find_image_files(os.path.join(directory, class_name))
        if not found:
            # A class without examples is almost always a mistake (a typo,
            # an unfinished copy); a silent extra logit would hide it.
            raise ValueError(
                f"class folder {class_name!r} has no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}) under "
                f"{os.path.join(directory, class_name)!r}, {where}")
        files.append(found)
    return class_names, files


def stratified_split(labels, num_classes, fraction, seed):
    """Indices of a seeded, stratified split: `(kept, held_out)`.

    For each class in id order, one `numpy.random.default_rng(seed)`
    permutes that class's examples and holds out the first
    `round(fraction * n_class)`; the same arguments give the same split in
    every process. Arguments are assumed checked.

    Args:
        labels: sequence of int in `[0, num_classes)`.
        num_classes: int.
        fraction: float in (0, 1). Share of each class held out.
        seed: int >= 0.

    Returns:
        Two sorted int64 arrays of indices into `labels`, disjoint, covering
        every index.

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


def _select(split, labels, num_classes, fraction, seed):
    """Indices of `split` (None: all), in input order."""
    if split is None:
        return np.arange(len(labels), dtype=np.int64)
    kept, held = stratified_split(labels, num_classes, fraction, seed)
    return held if split == "validation" else kept


def _batch(ds, *, batch_size, shuffle, seed, drop_remainder, cache,
           buffer=None):
    """cache -> seeded shuffle reshuffled each epoch -> batch -> prefetch."""
    if cache:
        ds = ds.cache()
    if shuffle:
        if buffer is None:
            count = int(ds.cardinality())
            buffer = count if count > 0 else 1024
        ds = ds.shuffle(buffer, seed=int(seed), reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=bool(drop_remainder))
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_split_args(split, validation_fraction, seed, shuffle):
    if split is not None:
        _validation.one_of("split", split, SPLITS)
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)
    _validation.non_negative_int("seed", seed)
    _validation.boolean("shuffle", shuffle, optional=True)


def from_image_folder(directory, image_size, batch_size=32, *, split=None,
                      validation_fraction=0.2, seed=0, shuffle=None,
                      channels=3, one_hot=False, drop_remainder=False,
                      cache=False):
    """Class-named subfolders of images as `(image, label)` batches.

    Files are found recursively under each class subfolder by extension
    (`IMAGE_EXTENSIONS`, any case; `list_image_folder`). The split is
    `stratified_split`: per class (sorted order), a
    `numpy.random.default_rng(seed)` permutation of the sorted files puts
    the first `round(validation_fraction * n)` in `"validation"`, the rest
    in `"train"`; the same arguments give the same split in every process.
    Every file of the split is decoded once before the dataset is built, so
    a file that is not an image fails here, by name, not in training.

    Args:
        directory: str or path. Holds one subfolder per class.
        image_size: int or (height, width). Size of the output images.
        batch_size: int >= 1. Examples per batch.
        split: None (every image), `"train"` or `"validation"`.
        validation_fraction: float in (0, 1). Share of each class put in
            `"validation"`; ignored when `split` is None.
        seed: int >= 0. Seed of the split and of the shuffle.
        shuffle: bool or None. None shuffles unless `split="validation"`;
            reshuffles every epoch.
        channels: 1, 3 or 4. Channels of the output images (decoding
            converts, e.g. RGB to grey).
        one_hot: bool. Labels as float32 one-hot instead of int32.
        drop_remainder: bool. Drop the last batch when it is short.
        cache: bool. Cache the decoded, resized images in memory after the
            first epoch (`n * height * width * channels * 4` bytes).

    Returns:
        `(dataset, class_names)`: a `tf.data.Dataset` of `(image, label)`,
        image float32 `(batch, height, width, channels)` in [0, 1], label
        int32 `(batch,)` (float32 `(batch, num_classes)` with `one_hot`);
        and the sorted list of class names, `class_names[label]`.

    Raises:
        ValueError: for a bad argument, a missing directory, a directory
            without class subfolders, a class subfolder without images, a
            split that would be empty, or a file that cannot be decoded
            (named).
    """
    directory = _check_existing("directory", directory, want_dir=True)
    size = images.check_image_size(image_size)
    _validation.positive_int("batch_size", batch_size)
    _check_split_args(split, validation_fraction, seed, shuffle)
    channels = images.check_channels(channels)
    _validation.images_fit(image_size, batch_size, channels)
    _validation.boolean("one_hot", one_hot)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.boolean("cache", cache)

    class_names, files_per_class = list_image_folder(directory)
    all_paths = [path for files in files_per_class for path in files]
    all_labels = [label for label, files in enumerate(files_per_class)
                  for _ in files]
    rows = _select(split, all_labels, len(class_names), validation_fraction,
                   seed)
    paths = [all_paths[i] for i in rows]
    labels = [all_labels[i] for i in rows]
    if not paths:
        raise ValueError(
            f"validation_fraction={validation_fraction!r} leaves the "
            f"{split!r} split of directory={directory!r} empty")
    images.check_image_files(paths, channels)
    if shuffle is None:
        shuffle = split != "validation"
    num_classes = len(class_names)

    def to_example(path, label):
        image = images.decode_image(tf.io.read_file(path), size, channels)
        if one_hot:
            label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices(
        (paths, np.asarray(labels, np.int32)))
    if shuffle and not cache:
        # Shuffle the paths, not the images: the buffer then costs bytes.
        ds = ds.shuffle(len(paths), seed=int(seed),
                        reshuffle_each_iteration=True)
        ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        ds = _batch(ds, batch_size=batch_size, shuffle=False, seed=seed,
                    drop_remainder=drop_remainder, cache=False)
    else:
        ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
        ds = _batch(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                    drop_remainder=drop_remainder, cache=cache,
                    buffer=len(paths))
    return ds, class_names


_INT_LABEL = re.compile(r"[0-9]+")
_BOM = b"\xef\xbb\xbf"


def _default_delimiter(path):
    return "," if path.lower().endswith(".csv") else "\t"


def _check_text_args(path, delimiter, header, class_names):
    path = _check_existing("path", path, want_dir=False)
    if delimiter is None:
        delimiter = _default_delimiter(path)
    if (not isinstance(delimiter, str) or len(delimiter) != 1
            or delimiter in '\r\n"'):
        raise ValueError(
            "delimiter must be None or one character other than a quote or "
            f"a line break, received delimiter={delimiter!r}")
    if not (header is True or header is False or header == "auto"):
        raise ValueError("header must be 'auto', True or False, received "
                         f"header={header!r}")
    if class_names is not None:
        if (isinstance(class_names, str)
                or not all(isinstance(c, str) for c in class_names)
                or len(set(class_names)) != len(class_names)
                or not class_names):
            raise ValueError(
                "class_names must be None or a sequence of distinct str, "
                f"received class_names={class_names!r}")
        class_names = list(class_names)
    return path, delimiter, class_names


def _decode(raw, path):
    raw = raw[len(_BOM):] if raw.startswith(_BOM) else raw  # Excel's CSVs
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(
            f"line {line} of path={path!r} is not UTF-8: {error}") from None


def _rows(path, delimiter):
    """`[(line_number, label, text)]` of the non-blank rows, in file order."""
    with tf.io.gfile.GFile(path, "rb") as f:
        content = _decode(f.read(), path)
    # strict: a quote in the wrong place is an error, never text silently
    # cut or swallowed up to the next quote.
    reader = csv.reader(io.StringIO(content, newline=""),
                        delimiter=delimiter, strict=True)
    rows = []
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # long documents are fine here
    try:
        while True:
            first_line = reader.line_num + 1
            where = f"line {first_line} of path={path!r}"
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise ValueError(
                    f"{where} is not valid CSV ({error}); quote a text that "
                    f"holds the delimiter {delimiter!r}, a quote or a line "
                    'break with double quotes, doubling the quotes inside: '
                    f'label{delimiter}"say ""hi"""') from None
            if not any(field.strip() for field in fields):
                continue  # blank lines are skipped
            label = fields[0].strip()
            if len(fields) < 2 or not label:
                raise ValueError(
                    f"{where} is not 'label{delimiter}text' (delimiter="
                    f"{delimiter!r}): "
                    f"{delimiter.join(fields)[:80]!r}")
            # Unquoted delimiters in the text split it into more fields:
            # they are the text's own, put back.
            rows.append((first_line, label,
                         delimiter.join(fields[1:]).strip()))
    finally:
        csv.field_size_limit(limit)
    return rows


def _is_header(rows, class_names, path):
    """Whether `header="auto"` skips the first row (see `read_text_file`)."""
    (line, first, _), others = rows[0], rows[1:]
    counts = {}
    for _, label, _ in others:
        counts[label] = counts.get(label, 0) + 1
    if first in counts or (class_names is not None and first in class_names):
        return False
    if first.lower() in HEADER_LABELS:
        return True
    if (others and not _INT_LABEL.fullmatch(first)
            and all(_INT_LABEL.fullmatch(label) for label in counts)):
        return True
    if class_names is None and len(others) >= 2 and min(counts.values()) >= 2:
        # A one-example class ahead of classes that all repeat is a header
        # far more often than data: refuse rather than guess.
        raise ValueError(
            f"line {line} of path={path!r} looks like a header: its label "
            f"{first!r} appears on no other line, while every other label "
            "appears at least twice. Pass header=True to skip it, or "
            "header=False to keep it as an example")
    return False


def read_text_file(path, delimiter=None, header="auto", class_names=None):
    """Parses a `label,text` file: `(texts, labels, class_names)`.

    Rows are read by Python's `csv` module (strict): fields are separated by
    `delimiter`, and a field holding the delimiter, a quote or a line break
    is quoted with `"`, quotes inside doubled; quotes are removed. The
    label is the first field; the text is the rest of the row (unquoted
    delimiters in it are kept). Both are stripped of surrounding
    whitespace. Blank lines are skipped; a UTF-8 byte order mark is
    ignored.

    Header: `True` skips the first row, `False` keeps it. `"auto"` skips it
    when its label appears on no other row (nor in `class_names`) and either
    is one of `HEADER_LABELS` (`label`, `labels`, `class`, `category`,
    `target`, any case) or is not an integer while every other label is;
    and refuses (ValueError) a first label that appears nowhere else while
    every other label appears at least twice, which is most likely a header
    too: pass `header=True` or `False` to decide.

    Label ids: with `class_names` given, `class_names.index(label)` (a
    label not in it is an error); else, if every label is a non-negative
    integer, that integer (class names `"0"` .. `str(max)`); else the
    position of the label in the sorted set of labels.

    Args:
        path: str or path. The file (UTF-8).
        delimiter: one-character str or None. None means `","` for a `.csv`
            file and a tab otherwise.
        header: `"auto"`, True or False.
        class_names: sequence of str or None. The label vocabulary, in id
            order: pass the training file's to read its test file.

    Returns:
        `(texts, labels, class_names)`: list of str, int32 array, list of
        str (`class_names[labels[i]]` is row i's label).

    Raises:
        ValueError: for a bad argument, a missing file, a file without rows,
            or a malformed row (named by its 1-based line number).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write('label,text\\npos,"great, really"\\nneg,"a ""meh"" film"\\n')
    >>> read_text_file(path)
    (['great, really', 'a "meh" film'], array([1, 0], dtype=int32), ['neg', 'pos'])
    """
    path, delimiter, class_names = _check_text_args(path, delimiter, header,
                                                    class_names)
    rows = _rows(path, delimiter)
    if rows and (header is True or (header == "auto"
                                    and _is_header(rows, class_names, path))):
        rows = rows[1:]
    if not rows:
        raise ValueError(
            f"path has no labelled rows, received path={path!r}")
    labels = [label for _, label, _ in rows]
    if class_names is not None:
        ids = {name: i for i, name in enumerate(class_names)}
        for line, label, _ in rows:
            if label not in ids:
                hint = (" (a header row? pass header=True)"
                        if line == 1 and header is not True else "")
                raise ValueError(
                    f"line {line} of path={path!r} has label {label!r}, not "
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
    """A CSV or TSV file of `label,text` rows as `(text, label)` batches.

    The file is parsed by `read_text_file` (Python's `csv` module: quoted
    fields lose their quotes and keep their delimiters and line breaks;
    a header row is detected with `header="auto"`), entirely and before any
    `tf.data` work, so a bad row fails here, named by its line number. Text
    stays a raw string (models own their tokenization), as for the text
    datasets of `zoo.data.load`.

    Label ids: with `class_names` given, `class_names.index(label)`; else,
    if every label is a non-negative integer, that integer; else the
    position of the label in the sorted set of labels. A test file may lack
    some classes, so its own labels do not define the training ids: pass
    the `class_names` returned for the training file when loading its test
    file (`zoo.data.load("csv:...")` always does).

    Args:
        path: str or path. The file (UTF-8).
        batch_size: int >= 1. Examples per batch.
        delimiter: one-character str or None. None means `","` for a `.csv`
            file and a tab otherwise.
        class_names: sequence of str or None. The label vocabulary, in id
            order.
        header: `"auto"` (detect, see `read_text_file`), True (skip the
            first row) or False (keep it).
        split: None (every row), `"train"` or `"validation"`: a stratified,
            seeded split of the rows (`stratified_split`), as for
            `from_image_folder`.
        validation_fraction: float in (0, 1). Share of each class put in
            `"validation"`; ignored when `split` is None.
        seed: int >= 0. Seed of the split and of the shuffle.
        shuffle: bool or None. None shuffles unless `split="validation"`;
            reshuffles every epoch.
        drop_remainder: bool. Drop the last batch when it is short.
        cache: bool. Cache the examples in memory after the first epoch.

    Returns:
        `(dataset, class_names)`: a `tf.data.Dataset` of `(text, label)`,
        text string `(batch,)`, label int32 `(batch,)`; and the list of
        class names, `class_names[label]`.

    Raises:
        ValueError: for a bad argument, a missing or empty file, a malformed
            row (named by its line number), a split that would be empty, or
            a file of one label without `class_names` (its id would be 0).
    """
    path, delimiter, class_names = _check_text_args(path, delimiter, header,
                                                    class_names)
    _validation.positive_int("batch_size", batch_size)
    _check_split_args(split, validation_fraction, seed, shuffle)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.boolean("cache", cache)

    given = class_names
    texts, labels, class_names = read_text_file(path, delimiter, header,
                                                class_names)
    if given is None and len(class_names) < 2:
        # Its one label would become id 0, whatever id training gave it.
        raise ValueError(
            f"path={path!r} has a single label, {class_names[0]!r}: a training "
            "file needs two or more; to read a test file, pass the training "
            "file's class_names= so that its labels keep their ids")
    rows = _select(split, labels, len(class_names), validation_fraction, seed)
    if not len(rows):
        raise ValueError(
            f"validation_fraction={validation_fraction!r} leaves the "
            f"{split!r} split of path={path!r} empty")
    if shuffle is None:
        shuffle = split != "validation"
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant([texts[i] for i in rows], tf.string), labels[rows]))
    ds = _batch(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                drop_remainder=drop_remainder, cache=cache, buffer=len(rows))
    return ds, class_names


def from_generator(generator_fn, output_signature, batch_size=32, *,
                   shuffle=False, shuffle_buffer=1024, seed=0,
                   drop_remainder=False, cache=False):
    """`tf.data.Dataset.from_generator` with zoo's shuffling and batching.

    Args:
        generator_fn: callable taking no argument and returning an iterable
            of examples; called again at every epoch.
        output_signature: a nested structure of `tf.TypeSpec`, one example
            (e.g. `(tf.TensorSpec([28, 28, 1], tf.float32),
            tf.TensorSpec([], tf.int32))`).
        batch_size: int >= 1. Examples per batch.
        shuffle: bool. Shuffle through a buffer of `shuffle_buffer`
            examples, reshuffling every epoch, seeded by `seed`.
        shuffle_buffer: int >= 1. Examples held by the shuffle.
        seed: int >= 0. Seed of the shuffle.
        drop_remainder: bool. Drop the last batch when it is short.
        cache: bool. Cache the examples in memory after the first epoch, so
            the generator runs once.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `output_signature`
        examples.

    Raises:
        ValueError: for a bad argument.
    """
    if not callable(generator_fn):
        raise ValueError("generator_fn must be callable, received "
                         f"generator_fn={generator_fn!r}")
    specs = tf.nest.flatten(output_signature)
    if not specs or not all(isinstance(s, tf.TypeSpec) for s in specs):
        raise ValueError(
            "output_signature must be a nested structure of tf.TypeSpec, "
            f"received output_signature={output_signature!r}")
    _validation.positive_int("batch_size", batch_size)
    _validation.boolean("shuffle", shuffle)
    _validation.positive_int("shuffle_buffer", shuffle_buffer)
    _validation.non_negative_int("seed", seed)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.boolean("cache", cache)
    ds = tf.data.Dataset.from_generator(generator_fn,
                                        output_signature=output_signature)
    return _batch(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                  drop_remainder=drop_remainder, cache=cache,
                  buffer=int(shuffle_buffer))
