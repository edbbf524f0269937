"""Encryption at rest of the catalog's stored secrets (AWS secret keys, git tokens).

A sealed value is ``enc:v1:`` followed by a Fernet token (AES-128-CBC with HMAC-SHA256);
a value without the prefix is plain text stored before encryption at rest existed. The key
is the ``CHROMA_SYNC_SECRET_KEY`` setting or else the key file (``CHROMA_SYNC_SECRET_KEY_FILE``,
default ``<home>/secret.key``), created with mode 0600 on first use. Key text may hold several
keys separated by commas or whitespace: the first encrypts, every one decrypts. Error messages
name where the key came from, never the key.
"""

import contextlib
import os
import re
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sync_pipelines.catalog.models import CatalogError
from sync_pipelines.settings import Settings

PREFIX = "enc:v1:"
KEY_SETTING = "CHROMA_SYNC_SECRET_KEY"
KEY_FILE_SETTING = "CHROMA_SYNC_SECRET_KEY_FILE"
KEY_FILE_WAIT_S = 5.0


class SecretBoxError(CatalogError):
    """Stored secrets cannot be encrypted or decrypted."""


class SecretKeyError(SecretBoxError):
    """The secret key is missing, malformed, or its file cannot be read or written."""


class SecretDecryptError(SecretBoxError):
    """A stored secret does not decrypt with the current key(s)."""


class SecretBox:
    """Seals and opens stored secrets with one or more Fernet keys.

    Attributes:
        origin: Where the key came from (a setting or a file), for error messages.
        key_file: The file the key was read from; ``None`` when it is a setting.
        key_count: How many keys were given.
    """

    def __init__(self, key_text: str, origin: str, key_file: Path | None = None) -> None:
        """Parse the key(s).

        Args:
            key_text: One or more Fernet keys (url-safe base64 of 32 bytes), comma-separated.
            origin: Where the key came from, named by error messages.
            key_file: The file the key was read from, if any.

        Raises:
            SecretKeyError: No key, or a key that is not a Fernet key.
        """
        keys = [key for key in re.split(r"[\s,]+", key_text) if key]
        if not keys:
            raise SecretKeyError(f"{origin} holds no key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError:
            message = f"{origin} does not hold a valid Fernet key (url-safe base64 of 32 bytes)"
            raise SecretKeyError(message) from None
        self.origin = origin
        self.key_file = key_file
        self.key_count = len(keys)

    def seal(self, plain: str) -> str:
        """Encrypt ``plain`` with the first key; returns ``enc:v1:`` + Fernet token."""
        return PREFIX + self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, stored: str, what: str) -> str:
        """Decrypt a stored value; a legacy plain-text value is returned as it is.

        Args:
            stored: The column's value.
            what: The row, named by the error (e.g. ``git_tokens.token of row ...``).

        Returns:
            The plain secret.

        Raises:
            SecretDecryptError: No key decrypts the value.
        """
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :]).decode()
        except (InvalidToken, ValueError):
            raise SecretDecryptError(
                f"{what} does not decrypt with the key from {self.origin}: "
                "restore the key it was encrypted with"
            ) from None


def is_sealed(value: str) -> bool:
    """Whether a stored value is encrypted (else it is legacy plain text)."""
    return value.startswith(PREFIX)


def generate_key() -> str:
    """A new random Fernet key, as text."""
    return Fernet.generate_key().decode("ascii")


def load_secret_box(settings: Settings, *, create: bool) -> SecretBox:
    """The current key(s): the ``secret_key`` setting, else the key file.

    Args:
        settings: The settings naming the key or its file.
        create: Create the key file (mode 0600, new random key) when it does not exist. Two
            processes creating it at once agree: only one creation succeeds, the other reads.

    Returns:
        The box.

    Raises:
        SecretKeyError: The key is malformed, or its file is missing (and not to be created)
            or cannot be read or created.
    """
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value(), KEY_SETTING)
    path = settings.resolved_secret_key_file
    origin = f"key file {path} ({KEY_FILE_SETTING})"
    if create:
        key = generate_key()
        try:
            _write_new(path, key)
            return SecretBox(key, origin, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise SecretKeyError(f"{origin} cannot be created: {exc.strerror}") from None
    return SecretBox(_read_key_file(path, origin), origin, path)


def stage_key_file(path: Path, key: str) -> Path:
    """Write ``key`` to ``<path>.new`` (mode 0600), to be put in place by :func:`commit_key_file`.

    Raises:
        SecretKeyError: ``<path>.new`` exists (an interrupted rotation) or cannot be written.
    """
    staged = path.with_name(path.name + ".new")
    try:
        _write_new(staged, key)
    except FileExistsError:
        raise SecretKeyError(
            f"{staged} exists: a key rotation was interrupted. If stored secrets no longer "
            f"decrypt with {path}, move {staged} over it; otherwise delete {staged}. Then retry."
        ) from None
    except OSError as exc:
        raise SecretKeyError(f"{staged} cannot be written: {exc.strerror}") from None
    return staged


def commit_key_file(staged: Path, path: Path) -> None:
    """Atomically replace the key file ``path`` with ``staged`` (the old key is not kept)."""
    os.replace(staged, path)
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _write_new(path: Path, key: str) -> None:
    """Create ``path`` holding ``key`` with mode 0600; ``FileExistsError`` when it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
        out.flush()
        os.fsync(out.fileno())


def _read_key_file(path: Path, origin: str) -> str:
    """Read the key file, waiting briefly while a concurrent creator has yet to write it."""
    deadline = time.monotonic() + KEY_FILE_WAIT_S
    while True:
        try:
            text = path.read_bytes().decode("ascii")
        except FileNotFoundError:
            raise SecretKeyError(
                f"{origin} is missing: restore it (back it up with the catalog) "
                f"or set {KEY_SETTING}"
            ) from None
        except UnicodeDecodeError:
            raise SecretKeyError(f"{origin} does not hold a valid Fernet key") from None
        except OSError as exc:
            raise SecretKeyError(f"{origin} cannot be read: {exc.strerror}") from None
        if text.strip() or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)
