"""Encrypted model files (``tasks[i].encrypted_models``): AES-256-GCM, one key per model.

A contributor encrypts its model file before uploading it, so the CID on chain names the
ciphertext; the key travels off chain, point to point, to the committee members once they
are drawn and to the initiator once it has paid (``claim_access``). The file is
``nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)``, authenticated with the task id as
associated data, so a ciphertext moved to another task, or a wrong key, fails to open
(``SealError``) instead of yielding garbage to unpickle-free loading.

The cryptography is real (pycryptodome's AES-GCM); the key's transport is modelled as a
private message between agents (a deployment would encrypt it to the recipient's public key).
"""

from __future__ import annotations

import numpy as np

from contracts.errors import BaasimError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class SealError(BaasimError):
    """A sealed model file that does not open with the key given."""


def new_key(rng: np.random.Generator) -> bytes:
    """A 256-bit model key from ``rng`` (the contributor's own stream: reproducible runs)."""
    return bytes(rng.bytes(KEY_BYTES))


def seal(data: bytes, key: bytes, task: int, rng: np.random.Generator) -> bytes:
    """``data`` encrypted and authenticated under ``key``, bound to ``task``."""
    from Crypto.Cipher import AES

    nonce = bytes(rng.bytes(NONCE_BYTES))
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    cipher.update(_aad(task))
    body, tag = cipher.encrypt_and_digest(data)
    return nonce + body + tag


def open_sealed(blob: bytes, key: bytes, task: int) -> bytes:
    """The plaintext of ``seal``'s output; SealError for a wrong key, task or a damaged file."""
    from Crypto.Cipher import AES

    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise SealError("sealed model file too short")
    nonce, body, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    cipher.update(_aad(task))
    try:
        return bytes(cipher.decrypt_and_verify(body, tag))
    except ValueError as err:
        raise SealError(f"sealed model file does not open: {err}") from None


def _aad(task: int) -> bytes:
    return task.to_bytes(32, "big")
