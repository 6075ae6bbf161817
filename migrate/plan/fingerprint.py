"""Keyed fingerprints of input files: HMAC-SHA256 under a per-user key that never leaves this machine.

A plain sha256 of a one-line ``.env`` confirms a password guess offline, so the plan stores
``HMAC(key, bytes)`` instead. The key is 32 random bytes in a 0600 file inside a 0700 per-user state
directory (``$SECRETS_MIGRATE_STATE_DIR``, else ``$XDG_STATE_HOME/secrets-migrate``, else
``~/.local/state/secrets-migrate``). The plan names the key only by ``key_id`` (an HMAC of a fixed
label), so another machine knows the fingerprints are not its own and relies on the structural
check instead (every edit's old text must be found where the plan says, with the values re-read).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from migrate.errors import PreconditionFailed

KEY_FILE = "fingerprint.key"
_KEY_BYTES = 32
_ID_LABEL = b"secrets-migrate fingerprint key id"
PREFIX = "hmac-sha256:"


def state_home() -> Path:
    """The per-user state directory (created 0700). Refused when it is a link or others can read it."""
    env = os.environ.get("SECRETS_MIGRATE_STATE_DIR")
    if env:
        d = Path(env)
    else:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        d = Path(base) / "secrets-migrate"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(d)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PreconditionFailed(f"{d}: state directory is not a plain directory")
    if st.st_uid != os.geteuid():
        raise PreconditionFailed(f"{d}: state directory belongs to another user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(d, 0o700)
    return d


def _key() -> bytes:
    path = state_home() / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(_KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
            raise PreconditionFailed(f"{path}: fingerprint key must be a 0600 file of yours",
                                     hint=f"chmod 600 {path} (or delete it: old plans then re-check structurally)")
        key = fh.read()
    if len(key) != _KEY_BYTES:
        raise PreconditionFailed(f"{path}: fingerprint key is damaged", hint="delete it; the next plan writes a new one")
    return key


def key_id() -> str:
    """Names this machine's key without revealing it."""
    return hmac.new(_key(), _ID_LABEL, hashlib.sha256).hexdigest()[:16]


def fingerprint(data: bytes) -> str:
    """Keyed digest of a file's bytes (BOM included)."""
    return PREFIX + hmac.new(_key(), data, hashlib.sha256).hexdigest()


def is_local(kid: str) -> bool:
    """True when fingerprints tagged ``kid`` were made with this machine's key."""
    return bool(kid) and hmac.compare_digest(kid, key_id())
