"""The server secret: one random value, kept out of the database, from which the keys that
must not be readable by a database-only reader are derived (the URL-signing key, the pepper
of API-key and session hashes, the CSRF key).

It comes from the ``secret_key`` setting (``TRACKLET_SECRET_KEY``) when set, else from
``<data_dir>/secret.key`` (mode 0600), created on first start. Every process serving one
database needs the same secret, so the database keeps a fingerprint of it (an HMAC of a
fixed label, which reveals nothing of the secret) and a process holding another secret
refuses to start rather than refuse every key: servers on several hosts share one
``TRACKLET_SECRET_KEY`` or copy the file.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from tracklet.errors import InvalidInput

SECRET_FILE = "secret.key"
#: The server setting (in the database) holding the secret's fingerprint.
FINGERPRINT_SETTING = "secret_fingerprint"


@dataclass(frozen=True)
class ServerSecret:
    """The server secret and the keys derived from it."""

    value: bytes = field(repr=False)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose``, independent of the keys of other purposes."""
        return hmac.digest(self.value, b"tracklet/" + purpose.encode(), "sha256")

    @functools.cached_property
    def signing_key(self) -> bytes:
        """The HMAC key of signed upload and download URLs."""
        return self.derive("signed-urls")

    @functools.cached_property
    def pepper(self) -> bytes:
        """The HMAC key of stored API-key and session-token hashes."""
        return self.derive("credential-hashes")

    @functools.cached_property
    def csrf_key(self) -> bytes:
        """The HMAC key deriving a session's CSRF token from its cookie."""
        return self.derive("csrf")

    @functools.cached_property
    def fingerprint(self) -> str:
        """A public check value: equal fingerprints, equal secrets."""
        return self.derive("fingerprint").hex()

    @classmethod
    def from_setting(cls, text: str) -> ServerSecret:
        """The secret given as a setting (at least 32 characters of anything)."""
        if len(text) < 32:
            raise InvalidInput("TRACKLET_SECRET_KEY must be at least 32 characters")
        return cls(text.encode())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ServerSecret:
        """The secret in ``data_dir``, created (with the folder, 0700) when missing.

        Processes starting together agree: each writes a candidate to its own temporary
        file and links it into place, which only the first one manages.
        """
        ensure_private_dir(data_dir)
        path = data_dir / SECRET_FILE
        if not path.exists():
            tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32) + "\n")
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink()
        text = path.read_text().strip()
        if len(text) < 32:
            raise InvalidInput(f"{path} holds no usable secret (delete it to make a new one)")
        return cls(text.encode())


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by the owner only; an existing folder
    is left as it is (its owner may share it on purpose)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def check_fingerprint(stored: str, secret: ServerSecret, where: str) -> None:
    """Refuse to serve a database set up with another secret (``where``: where ours came
    from), which would reject every API key and signed URL."""
    if not hmac.compare_digest(stored, secret.fingerprint):
        raise InvalidInput(
            f"this database was set up with another server secret than {where}; give every "
            "server process of one database the same secret (copy the first server's "
            f"<data-dir>/{SECRET_FILE} or set TRACKLET_SECRET_KEY)"
        )

