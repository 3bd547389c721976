"""Atomic replacement of a file or directory: write beside it, rename into place.

Scratch names carry the writer's process id, `.NAME.PID.XXXX.partial` (and
`.NAME.old-PID` for a directory being swapped out), so a later save can tell
the leftovers of a killed save (its process is gone) from the scratch of a
save still running in another process, and remove only the former.
"""

import contextlib
import os
import pathlib
import re
import shutil
import tempfile


@contextlib.contextmanager
def replacing(target):
    """Yields a scratch path beside `target`; on success it becomes `target`.

    The scratch path is in the same directory, so the final rename never
    crosses file systems. A file is replaced with one `os.replace` (atomic on
    POSIX). A directory cannot be swapped in one call: the old one is first
    renamed aside to `.NAME.old-PID`, the new one renamed in, then the old one
    removed. A kill between the two renames leaves no directory at `target`,
    only the complete old one aside; `recover` (called by every load and
    save) renames it back. On any error the old target is untouched.

    Writers must create the scratch path themselves (a file or a directory);
    it does not exist when yielded.
    """
    target = pathlib.Path(target)
    remove_stale(target)
    scratch_dir = tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.",
                                   suffix=".partial", dir=target.parent)
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
    """Writes `data` to the file `target` atomically (`replacing`), flushed to disk.

    Readers never see a half-written file; an interrupted write leaves the
    old one. Returns `target` as a string.
    """
    with replacing(target) as scratch:
        with open(scratch, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    return str(target)


def write_text(target, text):
    """`write_bytes` of `text` encoded as UTF-8."""
    return write_bytes(target, text.encode("utf-8"))


def _old_name(target, pid):
    return target.with_name(f".{target.name}.old-{pid}")


def _swap_directory(new, target):
    old = None
    if target.exists():
        old = _old_name(target, os.getpid())
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
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
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
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            pid = int(match["pid"] or match["old"])
            found.append((target.parent / name, pid, "partial" if match["pid"] else "old"))
    return found


def recover(target):
    """Puts back a directory that a killed swap left aside, if `target` is missing.

    Returns:
        True when a kept old copy was renamed back to `target`.
    """
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
    for name in names:
        match = re.fullmatch(r"\.(\d+)\.old-\d+", name)
        if match:
            recover(directory / match[1])


def remove_stale(target):
    """Removes the scratch of saves to `target` whose process is gone.

    A kept old directory is first put back when nothing is at `target`.
    """
    recover(target)
    for path, pid, _ in _leftovers(target):
        if not _alive(pid):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
