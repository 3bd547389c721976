"""Users' own data as batched `tf.data.Dataset`s, like `zoo.data.load`'s.

- `from_image_folder(directory, image_size, ...)`: a folder with one
  subfolder per class (`directory/cat/1.png`, `directory/dog/a.jpg`, ...).
  Class names are the subfolder names, sorted; label ids follow that order.
  Images are decoded, resized bilinearly and scaled to float32 [0, 1].
- `from_text_file(path, ...)`: one labelled example per line,
  `label<TAB>text` (or `label,text` for a `.csv`): split at the FIRST
  delimiter, so the text may contain it and the label may not. This is not
  a CSV parser: no quoting. Labels that are all non-negative integers are
  used as ids; other labels map to ids through their sorted vocabulary.
- `from_generator(generator_fn, output_signature, ...)`: a thin wrapper over
  `tf.data.Dataset.from_generator` with the same shuffling and batching.

The first two return `(dataset, class_names)`. Bad input (a missing
directory, an empty folder, a malformed line, named by its number) is a
`ValueError` that names the argument and its value, raised before any
`tf.data` work.

Example:

>>> import tensorflow as tf
>>> ds = from_generator(lambda: iter([(1.0, 0), (2.0, 1), (3.0, 1)]),
...                     (tf.TensorSpec([], tf.float32),
...                      tf.TensorSpec([], tf.int32)), batch_size=2)
>>> [y.numpy().tolist() for _, y in ds]
[[0, 1], [1]]
"""

import os
import re

import numpy as np
import tensorflow as tf

from zoo import _validation

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
SPLITS = ("train", "validation")

__all__ = ["IMAGE_EXTENSIONS", "from_generator", "from_image_folder",
           "from_text_file"]


def _check_existing(name, value, want_dir):
    path = _validation.path(name, value)
    kind = "directory" if want_dir else "file"
    exists = tf.io.gfile.isdir(path) if want_dir else (
        tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path))
    if not exists:
        raise ValueError(
            f"{name} must be an existing {kind}, received {name}={value!r}")
    return path


def _check_image_size(image_size):
    size = (image_size, image_size) if _validation.is_int(image_size) else (
        image_size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(_validation.is_int(s) and s >= 1 for s in size)):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair of "
            f"them, received image_size={image_size!r}")
    return tuple(int(s) for s in size)


def _list_images(directory):
    """`(class_names, files_per_class)`, both sorted, or a ValueError."""
    class_names = sorted(
        entry.rstrip("/") for entry in tf.io.gfile.listdir(directory)
        if tf.io.gfile.isdir(os.path.join(directory, entry)))
    if not class_names:
        raise ValueError(
            "directory must hold one subfolder of images per class; it has "
            f"no subfolder, received directory={directory!r}")
    files = []
    for class_name in class_names:
        found = sorted(
            os.path.join(root, filename)
            for root, _, filenames in tf.io.gfile.walk(
                os.path.join(directory, class_name))
            for filename in filenames
            if filename.lower().endswith(IMAGE_EXTENSIONS))
        if not found:
            # A class without examples is almost always a mistake (a typo,
            # an unfinished copy); a silent extra logit would hide it.
            raise ValueError(
                f"class folder {class_name!r} has no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}), received "
                f"directory={directory!r}")
        files.append(found)
    return class_names, files


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


def from_image_folder(directory, image_size, batch_size=32, *, split=None,
                      validation_fraction=0.2, seed=0, shuffle=None,
                      channels=3, one_hot=False, drop_remainder=False,
                      cache=False):
    """Class-named subfolders of images as `(image, label)` batches.

    Files are found recursively under each class subfolder by extension
    (`IMAGE_EXTENSIONS`, any case). The split is stratified and seeded like
    the digits split: per class (sorted order), a
    `numpy.random.default_rng(seed)` permutation of the sorted files puts
    the first `round(validation_fraction * n)` in `"validation"`, the rest
    in `"train"`; the same arguments give the same split in every process.

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
            without class subfolders, a class subfolder without images, or
            a split that would be empty.
    """
    directory = _check_existing("directory", directory, want_dir=True)
    size = _check_image_size(image_size)
    _validation.positive_int("batch_size", batch_size)
    if split is not None:
        _validation.one_of("split", split, SPLITS)
    _validation.finite_float("validation_fraction", validation_fraction, 0, 1,
                             low_open=True, high_open=True)
    _validation.non_negative_int("seed", seed)
    _validation.boolean("shuffle", shuffle, optional=True)
    # is_int first: `channels in (...)` on an array would raise its own error.
    if not _validation.is_int(channels) or channels not in (1, 3, 4):
        raise ValueError(
            f"channels must be 1, 3 or 4, received channels={channels!r}")
    _validation.images_fit(image_size, batch_size, channels)
    _validation.boolean("one_hot", one_hot)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.boolean("cache", cache)

    class_names, files_per_class = _list_images(directory)
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, files in enumerate(files_per_class):
        if split is not None:
            order = rng.permutation(len(files))
            n_val = round(validation_fraction * len(files))
            keep = order[:n_val] if split == "validation" else order[n_val:]
            files = [files[i] for i in sorted(keep)]
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise ValueError(
            f"validation_fraction={validation_fraction!r} leaves the "
            f"{split!r} split of directory={directory!r} empty")
    if shuffle is None:
        shuffle = split != "validation"
    num_classes = len(class_names)

    def to_example(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                   expand_animations=False, dtype=tf.uint8)
        image = tf.cast(image, tf.float32) / 255.0
        image = tf.image.resize(image, size, method="bilinear")
        # Bilinear weights are convex: this only guards float rounding.
        image = tf.clip_by_value(image, 0.0, 1.0)
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


_INT_LABEL = re.compile(rb"[0-9]+")


def _parse_lines(path, delimiter, skip_header, class_names):
    """Checks every line and returns the label strings, in file order."""
    with tf.io.gfile.GFile(path, "rb") as f:
        raw = f.read()
    sep = delimiter.encode("utf-8")
    labels = []
    # Split on b"\n" exactly as TextLineDataset does.
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if number == 1 and skip_header:
            continue
        line = line[:-1] if line.endswith(b"\r") else line
        if not line.strip():
            continue  # blank lines are skipped, here and in the pipeline
        where = f"line {number} of path={path!r}"
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{where} is not UTF-8: {error}") from None
        label, found, _ = line.partition(sep)
        label = label.strip()
        if not found or not label:
            raise ValueError(
                f"{where} is not 'label{delimiter}text' (delimiter="
                f"{delimiter!r}): {line.decode('utf-8')[:80]!r}")
        if class_names is not None and label.decode() not in class_names:
            raise ValueError(
                f"{where} has label {label.decode()!r}, not one of "
                f"class_names={list(class_names)!r}")
        labels.append(label)
    if not labels:
        raise ValueError(
            f"path has no labelled lines, received path={path!r}")
    return labels


def from_text_file(path, batch_size=32, *, delimiter=None, class_names=None,
                   skip_header=False, shuffle=True, seed=0,
                   drop_remainder=False, cache=True):
    """A file of labelled lines as `(text, label)` batches.

    Each non-blank line is `label<delimiter>text`, split at the first
    delimiter; label and text are stripped of surrounding whitespace, and
    text stays a raw string (models own their tokenization), as for the
    text datasets of `zoo.data.load`. Blank lines are skipped. The whole
    file is checked once in Python before the `TextLineDataset` pipeline is
    built, so a bad line fails here, named by its 1-based line number.

    Label ids: with `class_names` given, `class_names.index(label)`; else,
    if every label is a non-negative integer, that integer (class names
    `"0"` .. `str(max)`); else the position of the label in the sorted set
    of labels. Pass the `class_names` returned for the train file when
    loading its test file, so that both use the same ids.

    Args:
        path: str or path. The file (UTF-8).
        batch_size: int >= 1. Examples per batch.
        delimiter: str or None. None means `","` for a `.csv` file and a
            tab otherwise.
        class_names: sequence of str or None. The label vocabulary, in id
            order.
        skip_header: bool. Ignore the first line (a CSV header).
        shuffle: bool. Shuffle, reshuffling every epoch, seeded by `seed`.
        seed: int >= 0. Seed of the shuffle.
        drop_remainder: bool. Drop the last batch when it is short.
        cache: bool. Cache the parsed examples in memory after the first
            epoch (before shuffling).

    Returns:
        `(dataset, class_names)`: a `tf.data.Dataset` of `(text, label)`,
        text string `(batch,)`, label int32 `(batch,)`; and the list of
        class names, `class_names[label]`.

    Raises:
        ValueError: for a bad argument, a missing or empty file, or a
            malformed line (named by number).
    """
    path = _check_existing("path", path, want_dir=False)
    _validation.positive_int("batch_size", batch_size)
    if delimiter is None:
        delimiter = "," if path.lower().endswith(".csv") else "\t"
    if not isinstance(delimiter, str) or not delimiter or any(
            c in delimiter for c in "\r\n"):
        raise ValueError(
            "delimiter must be None or a non-empty str without line breaks, "
            f"received delimiter={delimiter!r}")
    if class_names is not None:
        if (isinstance(class_names, str)
                or not all(isinstance(c, str) for c in class_names)
                or len(set(class_names)) != len(class_names)
                or not class_names):
            raise ValueError(
                "class_names must be None or a sequence of distinct str, "
                f"received class_names={class_names!r}")
        class_names = list(class_names)
    _validation.boolean("skip_header", skip_header)
    _validation.boolean("shuffle", shuffle)
    _validation.non_negative_int("seed", seed)
    _validation.boolean("drop_remainder", drop_remainder)
    _validation.boolean("cache", cache)

    labels = _parse_lines(path, delimiter, skip_header, class_names)
    if class_names is not None:
        ids = {name: i for i, name in enumerate(class_names)}
    elif all(_INT_LABEL.fullmatch(label) for label in labels):
        ids = {label.decode(): int(label) for label in set(labels)}
        class_names = [str(i) for i in range(max(ids.values()) + 1)]
    else:
        class_names = sorted({label.decode() for label in labels})
        ids = {name: i for i, name in enumerate(class_names)}
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(ids), tf.string),
            tf.constant(list(ids.values()), tf.int32)),
        default_value=-1)

    def to_example(line):
        parts = tf.strings.split(line, sep=delimiter, maxsplit=1)
        text = tf.ensure_shape(tf.strings.strip(parts[1]), [])
        label = tf.ensure_shape(table.lookup(tf.strings.strip(parts[0])), [])
        return text, label

    ds = tf.data.TextLineDataset(path)
    if skip_header:
        ds = ds.skip(1)
    ds = ds.map(lambda line: tf.strings.regex_replace(line, "\r$", ""))
    ds = ds.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)
    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    ds = _batch(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                drop_remainder=drop_remainder, cache=cache,
                buffer=len(labels))
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
