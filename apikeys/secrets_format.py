"""The shape of secrets we hand out: customer API keys and gateway service tokens.

A secret is `<prefix><30 random base62 characters><6-character checksum>`: 30 base62
characters carry 178 random bits; the checksum is CRC32 of everything before it, so a
mistyped, truncated or scanned string is refused by `secret_is_well_formed` before any
database or cache is asked. Only SHA-256 hashes of secrets are ever stored.
"""

import hashlib
import re
import secrets
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
KEY_PREFIX = "mdk_live_"
SERVICE_TOKEN_PREFIX = "mdk_svc_"
# The part shown in lists so people can tell their keys apart: prefix + 6 random characters.
VISIBLE_LENGTH = 6

_BODY = re.compile(rf"^[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}$")


def _base62(number, width):
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(text):
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def secret_generate(prefix: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{prefix}{body}{_checksum(prefix + body)}"


def secret_has_length(secret: object, prefix: str) -> bool:
    """The one check cheap enough to make before hashing: a secret of ours has this length
    (so a megabyte of garbage is refused before it is hashed)."""
    return isinstance(secret, str) and len(secret) == len(prefix) + RANDOM_LENGTH + CHECKSUM_LENGTH


def secret_is_well_formed(secret: object, prefix: str) -> bool:
    """True when `secret` has our prefix, length, alphabet and a matching checksum."""
    if not isinstance(secret, str) or not secret.startswith(prefix):
        return False
    body = secret[len(prefix):]
    if not _BODY.match(body):
        return False
    return body[RANDOM_LENGTH:] == _checksum(prefix + body[:RANDOM_LENGTH])


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_visible_prefix(secret: str, prefix: str) -> str:
    return secret[: len(prefix) + VISIBLE_LENGTH]
