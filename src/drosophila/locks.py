"""A cross-process file lock with stale-lock recovery (used by the stage cache)."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_POLL_S = 0.2
# A lock file is created empty and filled a moment later; one this old and still unreadable
# belongs to a process that died between the two steps.
_UNREADABLE_LOCK_GRACE_S = 10.0
# Holders on another host cannot be probed for liveness; only age can tell they are gone.
_FOREIGN_LOCK_MAX_AGE_S = 24 * 3600.0


@contextmanager
def file_lock(path: Path, say: Callable[[str], object] = lambda _m: None) -> Iterator[None]:
    """An ``O_EXCL`` lock file holding ``{pid, host, created}``; stale locks are broken."""
    me = {"pid": os.getpid(), "host": socket.gethostname(), "created": time.time()}
    waited = False
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if _lock_is_stale(path, holder):
                _break_lock(path, holder)
                continue
            if not waited:
                say(f"waiting for {path.name} held by {holder}")
                waited = True
            time.sleep(_POLL_S)
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield
    finally:
        if _read_lock(path) == me:  # never remove a lock that someone else broke and took
            path.unlink(missing_ok=True)


def _read_lock(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _lock_is_stale(path: Path, holder: dict | None) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile; the next O_EXCL try will tell
    if holder is None:
        return age > _UNREADABLE_LOCK_GRACE_S
    if holder.get("host") != socket.gethostname():
        return age > _FOREIGN_LOCK_MAX_AGE_S
    return not _pid_alive(int(holder.get("pid", -1)))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _break_lock(path: Path, seen: dict | None) -> None:
    """Remove a stale lock, unless it changed since we judged it stale.

    Renaming first makes the removal a claim: if two waiters race, only one rename succeeds,
    and a fresh lock taken meanwhile is put back instead of being deleted.
    """
    trash = path.with_name(f"{path.name}.stale-{os.getpid()}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    if _read_lock(trash) != seen:
        try:
            os.link(trash, path)  # fails if yet another lock exists; that one then stands
        except FileExistsError:
            pass
    trash.unlink(missing_ok=True)
