"""Checks on the paths `zoo.export` reads and writes, done before any byte moves.

Value checks (bools, positive ints) are `zoo._validation`'s; this
module holds what only files need: the `path` argument itself, what kind of
file sits at a path, and whether a target can be written.

Loaders stat a path (following symlinks) before opening it: a FIFO blocks
`h5py.File` forever, and a symlink to `/dev/zero` makes `zipfile.is_zipfile`
spin and `read_bytes` eat all memory. Only regular files (and directories
of regular files, for SavedModel) are read, and never more bytes than
`stat` reported.

Example:
>>> check_path("path", "")
Traceback (most recent call last):
...
ValueError: path must be a non-empty path, received path=''
"""

import os
import pathlib
import stat

from zoo import _validation

# The most bytes a loader reads into memory at once (a TFLite flatbuffer
# cannot exceed 2 GiB: its offsets are 32-bit).
MAX_IN_MEMORY_BYTES = 2**31


def check_path(name, value):
    """Checks the `path`-like argument `name` (`zoo._validation.path`); returns a `pathlib.Path`."""
    return pathlib.Path(_validation.path(name, value))


def kind(path):
    """A word for what `path` is after following symlinks: 'file', 'directory',
    'FIFO', 'character device', ..., or None when nothing is there."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:  # a symlink loop, a too-long name
        return f"unreadable path ({error.strerror})"
    for test, word in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return word
    return "special file"


def check_regular_file(path, what):
    """Refuses anything at `path` but a regular file, before it is opened.

    Args:
        path: Path. The file to read.
        what: str. The format, for messages (e.g. `".keras file"`).

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: a directory, FIFO, device or socket (it names the path).
    """
    found = kind(path)
    if found is None:
        raise FileNotFoundError(f"No {what} at path={str(path)!r}")
    if found != "file":
        raise ValueError(f"path={str(path)!r} is a {found}, not a {what}: only regular "
                         "files are read (a pipe or device could block or never end)")


def check_tree(path, what):
    """Refuses a directory holding anything but regular files and directories.

    SavedModel loading reads every file under the directory.

    Raises:
        ValueError: a FIFO, device or socket (or a symlink to one) inside.
    """
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            found = kind(os.path.join(root, name))
            if found not in ("file", "directory"):
                raise ValueError(
                    f"path={str(path)!r} is not a readable {what}: "
                    f"{os.path.join(root, name)!r} inside it is a {found}, not a regular file")


def read_bounded(path, what, limit=MAX_IN_MEMORY_BYTES):
    """The bytes of the regular file `path`, at most `limit` of them.

    The file is opened non-blocking and checked again on the open descriptor,
    so a FIFO swapped in after `check_regular_file` still cannot block.

    Raises:
        ValueError: not a regular file, or larger than `limit`.
    """
    check_regular_file(path, what)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"path={str(path)!r} is not a regular file, not a {what}")
        if info.st_size > limit:
            raise ValueError(f"path={str(path)!r} holds {info.st_size} bytes, more than a "
                             f"{what} can ({limit})")
        return file.read(info.st_size)


def check_writable_parent(path):
    """Refuses a target whose directory cannot be created or written.

    The nearest existing ancestor must be a writable directory, so a save
    fails before the work that precedes it (a training run), not after.

    Raises:
        ValueError: an ancestor is a file, or the directory is not writable.
    """
    parent = pathlib.Path(os.path.abspath(path)).parent
    ancestor = parent
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"Cannot write path={str(path)!r}: {str(ancestor)!r} is a "
                         f"{kind(ancestor) or 'broken symlink'}, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"Cannot write path={str(path)!r}: the directory "
                         f"{str(ancestor)!r} is not writable")
