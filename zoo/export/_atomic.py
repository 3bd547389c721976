"""Atomic replacement of a file or directory: write beside it, rename into place.

Scratch names carry the writer's pid (`.NAME.PID.XXXX.partial`,
`.NAME.old-PID`), so a later save removes only the leftovers of dead saves.
"""

import contextlib
import os
import pathlib
import re
import shutil
import tempfile


@contextlib.contextmanager
def replacing(target):
    """Yields a scratch path beside `target` (not created); on success it becomes `target`.

    A directory is swapped in two renames (the old one aside first); a kill
    between them leaves the old one aside, which `recover` puts back.
    """
    target = pathlib.Path(target)
    remove_stale(target)
    try:
        scratch_dir = tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.",
                                       suffix=".partial", dir=target.parent)
    except OSError as error:  # it would name the hidden scratch, not what was asked
        raise type(error)(error.errno, error.strerror, str(target)) from None
    scratch = pathlib.Path(scratch_dir) / target.name
    try:
        yield scratch
        if not scratch.exists():
            raise RuntimeError(f"the writer produced nothing for {str(target)!r}")
        if scratch.is_dir():
            _swap_directory(scratch, target)
        else:
            os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


def write_bytes(target, data):
    """Writes `data` to the file `target` atomically, flushed to disk; returns `str(target)`."""
    with replacing(target) as scratch:
        with open(scratch, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    return str(target)


def write_text(target, text):
    """`write_bytes` of `text` encoded as UTF-8."""
    return write_bytes(target, text.encode("utf-8"))


def _swap_directory(new, target):
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)  # put the previous version back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        pass
    return True


def _leftovers(target):
    """`(path, pid, kind)` of scratch entries beside `target` ('partial' or 'old')."""
    target = pathlib.Path(target)
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?:(?P<pid>\d+)\.[^/]*\.partial|old-(?P<old>\d+))$")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [(target.parent / m[0], int(m["pid"] or m["old"]), "partial" if m["pid"] else "old")
            for m in map(pattern.match, names) if m]


def recover(target):
    """Puts back a directory that a killed swap left aside, if `target` is missing; True if so."""
    target = pathlib.Path(target)
    if os.path.lexists(target):
        return False
    kept = [(path.stat().st_mtime, path) for path, pid, what in _leftovers(target)
            if what == "old" and not _alive(pid) and path.is_dir()]
    if not kept:
        return False
    try:
        os.rename(max(kept)[1], target)
    except OSError:  # another process restored or wrote it first
        return False
    return True


def recover_versions(directory):
    """`recover` for every version subdirectory a killed swap left aside."""
    directory = pathlib.Path(directory)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for match in map(re.compile(r"\.(\d+)\.old-\d+").fullmatch, names):
        if match:
            recover(directory / match[1])


def remove_stale(target):
    """Removes the scratch of saves to `target` whose process is gone (after `recover`)."""
    recover(target)
    for path, pid, _ in _leftovers(target):
        if not _alive(pid):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
