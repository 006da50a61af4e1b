"""Strict decoding helpers: base64url (RFC 7515 section 2) and JSON without duplicates.

PyJWT decodes base64url leniently (it re-adds padding and accepts some non-canonical
input) and parses JSON with the standard ``json.loads``, which silently keeps the last of
two members with the same name.  The validator therefore decodes the token's segments
itself, with these helpers, before any of PyJWT's code sees them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re

# RFC 7515 section 2: base64url without padding, no whitespace, no other characters.
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

# Deepest nesting accepted in a header, claims set, discovery document or key set.
MAX_DEPTH = 32


class StrictDecodeError(ValueError):
    """The input is not canonical base64url or not a strict JSON object."""


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded, canonical base64url segment; raise StrictDecodeError else."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise StrictDecodeError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise StrictDecodeError("not base64url") from exc
    # Canonical form only: the unused low bits of the last character must be zero.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise StrictDecodeError("non-canonical base64url")
    return raw


def _no_duplicates(pairs):
    obj = {}
    for name, value in pairs:
        if name in obj:
            raise StrictDecodeError("duplicate member name")
        obj[name] = value
    return obj


def _no_constant(name):
    raise StrictDecodeError("non-JSON constant " + name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise StrictDecodeError("number out of range")
    return value


def _depth_ok(value) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def loads_object(data: bytes | str) -> dict:
    """Parse strict JSON whose top level is an object.

    Rejects: invalid UTF-8, a byte-order mark, duplicate member names at any depth,
    NaN/Infinity, numbers that overflow to infinity, nesting deeper than MAX_DEPTH.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        if text.startswith("\ufeff"):
            raise StrictDecodeError("byte-order mark")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except StrictDecodeError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise StrictDecodeError("not JSON") from exc
    if not isinstance(value, dict):
        raise StrictDecodeError("not a JSON object")
    if not _depth_ok(value):
        raise StrictDecodeError("nested too deeply")
    return value
