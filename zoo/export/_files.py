"""Checks on the paths `zoo.export` reads and writes, done before any byte moves.

Only regular files (and directories of them) are read, and never more than
`stat` reported: a FIFO blocks `h5py.File` forever, and a symlink to
`/dev/zero` never ends.

Example:
>>> check_path("path", "")
Traceback (most recent call last):
...
ValueError: path must be a non-empty path, received path=''
"""

import hashlib
import os
import pathlib
import stat

import numpy as np

from zoo import _validation

# A TFLite flatbuffer cannot exceed 2 GiB (32-bit offsets).
MAX_IN_MEMORY_BYTES = 2**31


def check_path(name, value):
    return pathlib.Path(_validation.path(name, value))


def sha256(data):
    """The hex SHA-256 of bytes, or of an array's raw bytes."""
    if not isinstance(data, (bytes, bytearray)):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


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
    """Refuses anything at `path` but a regular file; `what` names the format in messages."""
    found = kind(path)
    if found is None:
        raise FileNotFoundError(f"No {what} at path={str(path)!r}")
    if found != "file":
        raise ValueError(f"path={str(path)!r} is a {found}, not a {what}: only regular "
                         "files are read (a pipe or device could block or never end)")


def check_tree(path, what):
    """Refuses a directory holding anything but regular files and directories."""
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            found = kind(os.path.join(root, name))
            if found not in ("file", "directory"):
                raise ValueError(
                    f"path={str(path)!r} is not a readable {what}: "
                    f"{os.path.join(root, name)!r} inside it is a {found}, not a regular file")


def read_bounded(path, what, limit=MAX_IN_MEMORY_BYTES):
    """The bytes of the regular file `path`, at most `limit` of them.

    Opened non-blocking and checked again, so a FIFO swapped in cannot block.
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
    """Refuses a target whose nearest existing ancestor is not a writable directory."""
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
