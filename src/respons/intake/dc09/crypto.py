"""DC-09 encryption: AES-CBC with a zero IV and a per-account key (128, 192 or 256 bit).

An encrypted frame carries ``*`` before its id token and, after the ``[``, the hex of the
ciphertext instead of ``data]…_timestamp``. The plaintext starts with pad characters that
bring it to a multiple of the AES block, ends the pad with ``|``, and goes on exactly as the
clear frame would after its ``[`` (``data][x-data]_HH:MM:SS,MM-DD-YYYY``). The pad must
not contain ``|``, ``[`` or ``]``; DC-09 asks for random pad so that equal messages do not
encrypt alike (the IV is fixed at zero).

Keys are stored and entered as hex (32, 48 or 64 digits), as the standard specifies them.
Panels configured with a 16/24/32-character text key use the hex of that text.
"""

from __future__ import annotations

import secrets
import string

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


BLOCK = 16
ZERO_IV = bytes(BLOCK)
_PAD_ALPHABET = string.ascii_letters + string.digits


class Undecryptable(ValueError):
    pass


def encrypt(after_bracket: str, key: bytes) -> str:
    """``data]…_timestamp`` → upper-case hex of pad | text, AES-CBC with the zero IV."""
    body = "|" + after_bracket
    pad = (-len(body)) % BLOCK
    plain = ("".join(secrets.choice(_PAD_ALPHABET) for _ in range(pad)) + body).encode("ascii")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(ZERO_IV)).encryptor()
    return (encryptor.update(plain) + encryptor.finalize()).hex().upper()


def decrypt(hex_text: str, key: bytes) -> str:
    """The inverse of ``encrypt``: the text after the pad's ``|``."""
    try:
        cipher_bytes = bytes.fromhex(hex_text)
    except ValueError:
        raise Undecryptable("the encrypted part is not hex") from None
    if not cipher_bytes or len(cipher_bytes) % BLOCK:
        raise Undecryptable(f"the encrypted part is {len(cipher_bytes)} bytes, not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(ZERO_IV)).decryptor()
    plain = decryptor.update(cipher_bytes) + decryptor.finalize()
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise Undecryptable("the decrypted text is not ASCII: wrong key?") from None
    pad, bar, rest = text.partition("|")
    if not bar or any(c in pad for c in "[]"):
        raise Undecryptable("no pad ending in '|' in the decrypted text: wrong key?")
    return rest
