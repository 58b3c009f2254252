"""Encryption at rest for cluster credentials.

Keys come from ``VITIWEB_CREDENTIALS_KEYS`` (Fernet keys, comma-separated).
The first key encrypts; every key decrypts, so a key is rotated by putting a
new one first and running ``manage.py rotate_credentials`` before dropping
the old one. Without configured keys (local debug start only) one key is
derived from ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(("vitiweb-credentials:" + secret_key).encode()).digest())
        return MultiFernet([Fernet(derived)])
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.VITIWEB_CREDENTIALS_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> bytes:
    return _current().encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    try:
        return _current().decrypt(token).decode()
    except InvalidToken as exc:
        raise CredentialsError("stored credentials cannot be decrypted with the configured keys") from exc


def rotate(token: bytes) -> bytes:
    """Re-encrypt ``token`` with the first (newest) key."""
    try:
        return _current().rotate(token)
    except InvalidToken as exc:
        raise CredentialsError("stored credentials cannot be decrypted with the configured keys") from exc
