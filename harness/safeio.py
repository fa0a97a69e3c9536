"""Every file lstm-equiv reads for a user or writes for one goes through this module.

Reading: only regular files (a FIFO, a device or a folder is refused at once, without waiting on it), and
never more than a stated number of bytes (:data:`LIMITS`, tabled in the README), checked before the bytes
are read.

Writing: the output paths of a command are checked before its work starts (:func:`check_file`,
:func:`check_folder`); the output is written to a temporary name beside the target and renamed into place
only when it is complete (:func:`publishing`, :func:`publishing_folder`), so that a crash, a failed proof,
Ctrl-C, SIGTERM or SIGKILL never leaves a partial file at the target and never touches the file that was
there. An existing target is kept unless the user said ``--force``; an input of the run is never a target,
``--force`` or not. Without ``--force`` the rename cannot replace a file that appeared while the command
ran (``os.link`` refuses an existing name), so two runs writing one file both report, neither is lost.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from pathlib import Path

MiB = 2**20
LIMITS = {
    "case file": 1 * MiB,  # the shipped case files are at most 4 KiB; PyYAML parses about 0.45 MiB/s here
    "weights file": 2048 * MiB,  # an .npz's arrays (declared sizes), or one array of a model file
    "model file": 4096 * MiB,  # a Keras .h5 / .keras file, a TF1 checkpoint's index or data shard
    "model config": 16 * MiB,  # a Keras JSON config: about 1.1 KiB a layer (Keras 3.15), 16 MiB: 10 000+ layers
    "JSON report": 256 * MiB,  # lstm-equiv run --json (see the README for the size of the shipped cases' one)
}
"""The most bytes lstm-equiv reads from one input of each kind."""

FOLDER_MARK = ".lstm-equiv"
"""The file that marks a folder lstm-equiv wrote (a report, vectors, gather --out): only such a folder is
replaced, and only with ``--force``."""


class InputError(Exception):
    """An input file that cannot be read as what it should be: the message names the file."""


class OutputError(Exception):
    """An output path that cannot be written, or may not be: the message names the path and the option."""


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def regular_file(path, what: str) -> int:
    """The size of ``path``, which must be a regular file within the limit for ``what``."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read: {err.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: is {_kind(st.st_mode)}, not a {what}: only regular files are read")
    limit = LIMITS[what]
    if st.st_size > limit:
        raise InputError(f"{path}: {st.st_size} bytes; a {what} is read up to {limit // MiB} MiB")
    return st.st_size


def open_regular(path, what: str):
    """``path`` opened for binary reading: a regular file of at most ``LIMITS[what]`` bytes (checked on the
    open file, not on the name); InputError otherwise. Opened without blocking, so a FIFO is refused instead
    of waited on."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read: {err.strerror}") from None
    st = os.fstat(fd)
    limit = LIMITS[what]
    if not stat.S_ISREG(st.st_mode):  # before fdopen, which refuses a folder with its own error
        os.close(fd)
        raise InputError(f"{path}: is {_kind(st.st_mode)}, not a {what}: only regular files are read")
    if st.st_size > limit:
        os.close(fd)
        raise InputError(f"{path}: {st.st_size} bytes; a {what} is read up to {limit // MiB} MiB")
    return os.fdopen(fd, "rb")


def read_bytes(path, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``LIMITS[what]`` of them; InputError otherwise."""
    with open_regular(path, what) as f:
        limit = LIMITS[what]
        data = f.read(limit + 1)  # a file that grows while it is read
    if len(data) > limit:
        raise InputError(f"{path}: more than {limit // MiB} MiB; a {what} is read up to {limit // MiB} MiB")
    return data


# ---------------------------------------------------------------------------------------------- outputs


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _writable_parent(path: Path, option: str):
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the folder {parent} is not writable")


def check_file(path, option: str, force: bool = False, inputs=()) -> Path:
    """``path`` as a file target of ``option``, checked before any work: its folder exists and is
    writable; it is no input of the run (never, not even with ``force``); it is not a folder; an existing
    file is replaced only with ``force``."""
    path = Path(path)
    for source in map(Path, inputs):
        if _same(path, source):
            raise OutputError(f"{option} {path}: is an input of this run ({source}); write the output elsewhere")
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder; name a file")
    _writable_parent(path, option)
    if (path.exists() or path.is_symlink()) and not force:
        raise OutputError(f"{option} {path}: exists; lstm-equiv does not replace it unless you add --force")
    if path.exists() and not path.is_file():
        raise OutputError(f"{option} {path}: exists and is not a regular file")
    return path


def check_folder(path, option: str, force: bool = False, inputs=()) -> Path:
    """``path`` as a folder target of ``option``: missing or empty, or (with ``force``) a folder that
    lstm-equiv wrote before (it holds :data:`FOLDER_MARK`); never a file, never a folder holding an input."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file, not a folder")
    for source in map(Path, inputs):
        if _same(path, source) or path.resolve() in Path(source).resolve().parents:
            raise OutputError(f"{option} {path}: holds an input of this run ({source}); write the output elsewhere")
    _writable_parent(path, option)
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise OutputError(
                f"{option} {path}: is not empty; lstm-equiv writes into a new or empty folder, or "
                f"replaces one it wrote before when you add --force"
            )
        if not (path / FOLDER_MARK).is_file():
            raise OutputError(
                f"{option} {path}: is not a folder lstm-equiv wrote (no {FOLDER_MARK} file in it): "
                "it is not replaced, even with --force"
            )
    return path


def _temporary(path: Path) -> Path:
    """A fresh name beside ``path`` that keeps its suffix (Keras loads ``.keras`` files only)."""
    return path.with_name(f".{path.name}.lstm-equiv-{secrets.token_hex(4)}.partial{path.suffix}")


def _publish(tmp: Path, path: Path, force: bool, option: str):
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if path appeared meanwhile: nobody's file is replaced
    except FileExistsError:
        raise OutputError(
            f"{option} {path}: was created by someone else while lstm-equiv ran; the output is kept in {tmp}"
        ) from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise OutputError(
                f"{option} {path}: was created while lstm-equiv ran; the output is kept in {tmp}"
            ) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


@contextlib.contextmanager
def publishing(path, option: str, force: bool = False):
    """Yield a temporary path beside ``path`` to write; on success rename it to ``path`` (see
    :func:`_publish`), on any exception (SystemExit from SIGTERM included) remove it and leave ``path`` as it
    was. Call :meth:`Discard.__call__` on the yielded object to drop the output without an exception."""
    path = Path(path)
    tmp = _temporary(path)
    state = Pending(tmp)
    try:
        yield state
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if state.discarded:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    _publish(tmp, path, force, option)


class Pending:
    """The temporary file of :func:`publishing`: ``.path`` to write, ``discard()`` to publish nothing."""

    def __init__(self, path: Path):
        self.path, self.discarded = path, False

    def discard(self):
        """Publish nothing: the temporary file is removed, the target keeps what it had."""
        self.discarded = True


def write_file(path, data: bytes | str, option: str, force: bool = False):
    """Write ``data`` to ``path`` through :func:`publishing`."""
    raw = data.encode() if isinstance(data, str) else data
    with publishing(path, option, force) as pending:
        pending.path.write_bytes(raw)


@contextlib.contextmanager
def publishing_folder(path, option: str, force: bool = False):
    """Yield a temporary folder beside ``path`` to fill; on success mark it as lstm-equiv's and put it in
    place of ``path`` (an earlier folder of lstm-equiv's is replaced whole, never mixed); on any exception
    remove it and leave ``path`` as it was."""
    path = Path(path)
    tmp = _temporary(path)
    tmp.mkdir()
    try:
        yield tmp
        (tmp / FOLDER_MARK).write_text("written by lstm-equiv; --force replaces this folder whole\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.is_dir() and any(path.iterdir()):
        check_folder(path, option, force)  # still ours, still forced: then it is moved aside, then removed
        old = _temporary(path)
        os.rename(path, old)
    try:
        os.rename(tmp, path)  # onto a missing or empty folder
    except OSError as err:
        if old is not None:
            os.rename(old, path)
        raise OutputError(
            f"{option} {path}: could not be put in place ({err.strerror}); the output is kept in {tmp}"
        ) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
