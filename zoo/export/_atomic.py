"""Atomic replacement of a file or directory: write beside it, rename into place."""

import contextlib
import os
import pathlib
import shutil
import tempfile


@contextlib.contextmanager
def replacing(target):
    """Yields a scratch path beside `target`; on success it becomes `target`.

    The scratch path is in the same directory, so the final rename never
    crosses file systems. A file is replaced with one `os.replace` (atomic on
    POSIX). A directory cannot be swapped in one call: the old one is first
    renamed aside, the new one renamed in, then the old one removed, so at
    every instant one complete version exists under one of the two names.
    On any error (or a kill) the scratch path is left or removed and the
    old target is untouched.

    Writers must create the scratch path themselves (a file or a directory);
    it does not exist when yielded.
    """
    target = pathlib.Path(target)
    scratch_dir = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                   dir=target.parent)
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
