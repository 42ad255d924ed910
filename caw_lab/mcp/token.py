"""The HTTP server's bearer token: the one the user gave, else one generated once and kept.

DESIGN.md invariant 7: the HTTP transport always requires a token, because any web page
the user opens can send requests to a loopback port. As Jupyter does, when none is given
one is generated, stored where only the user can read it and printed; unlike Jupyter's,
it is kept across restarts in ``CAW_HOME/http-token`` (default ``~/.caw``), so the
clients ``caw setup --url`` configured keep working. A file someone else could read or
write is refused rather than trusted or silently replaced.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from caw_lab.errors import CawError
from caw_lab.store.location import caw_home

TOKEN_FILE = "http-token"
TOKEN_BYTES = 32
"""256 bits from the system's CSPRNG, as text: ``secrets.token_urlsafe``."""


def token_path() -> Path:
    return caw_home() / TOKEN_FILE


def resolve_token(given: str | None) -> str:
    """``given`` when there is one, else the stored token, generated and stored first if there is none."""
    return given or stored_token()


def stored_token() -> str:
    """The token in ``token_path()``, created (0600, in a 0700 folder) if absent. Two servers starting
    at once agree: the token is written whole to a file of this process's own, then linked into
    place, which fails if the name exists; the loser reads the winner's file, never a half-written one."""
    path = token_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        return read_token(path)
    draft = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(token + "\n")
        os.link(draft, path)
    except FileExistsError:
        return read_token(path)
    finally:
        draft.unlink(missing_ok=True)
    return token


def read_token(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise unusable(path, f"it cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, encoding="ascii", errors="replace") as file:
        info = os.fstat(file.fileno())
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise unusable(path, "it belongs to another user")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise unusable(path, f"others may read or write it (mode {stat.S_IMODE(info.st_mode):o})")
        token = file.read().strip()
    if not token:
        raise unusable(path, "it is empty")
    return token


def unusable(path: Path, why: str) -> CawError:
    return CawError(
        "TOKEN_FILE_UNSAFE",
        f"Not using the stored token {path}: {why}",
        recoverable=True,
        suggestion=f"Delete {path} so caw generates a new one (then run `caw setup ... --url` again), "
        "or pass --token / set CAW_TOKEN.",
    )
