"""TOTP secrets at rest: AES-256-GCM under a key kept outside the database.

A stored secret is ``aesgcm1:`` + base64url(nonce + ciphertext + tag). The username is the
associated data, so a secret copied onto another user's row does not decrypt there. A stored
value without the prefix is a plaintext secret from before encryption (databases made before
migration 0008); ``accounts`` re-encrypts it the next time it is read with the key.
"""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm1:"
NONCE_BYTES = 12  # 96-bit random nonces, as NIST SP 800-38D recommends for AES-GCM


class UnreadableSecret(RuntimeError):
    """A stored secret does not decrypt: the key changed, or the value was edited."""


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def encrypt(key: bytes, username: str, secret: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), username.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(key: bytes, username: str, stored: str) -> str:
    """The plaintext secret; a legacy plaintext value is returned as it is."""
    if not is_encrypted(stored):
        return stored
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], username.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise UnreadableSecret(f"the authenticator secret of {username!r} does not decrypt: was the TOTP key "
                               "(CONTACTPOINT_TOTP_KEY, or CONTACTPOINT_SECRET_KEY it derives from) changed?") from exc
