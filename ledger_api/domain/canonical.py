"""RFC 8785 (JSON Canonicalization Scheme) bytes, made by the standard library's C JSON
encoder where that gives the very same bytes, and by the `rfc8785` package otherwise.

Payload hashes, evidence bundles and their receipts' hashes are over these bytes, and a
verification makes them for every payload and bundle it reads: `rfc8785.dumps` walks the
value in Python, string by string. `json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` writes JCS exactly for values made of dicts with ASCII string keys
(JCS sorts keys by their UTF-16 code units, Python by code points: the same order for
ASCII), lists and tuples, strings, booleans, None and integers within ±(2**53 - 1): both
escape `"`, `\\`, and the control characters alike (\\b \\f \\n \\r \\t, else \\u00xx in
lower case) and nothing else. Any other value (a float, a non-ASCII or non-string key, an
integer out of that range, a string that is not UTF-8) goes to `rfc8785.dumps`, which
canonicalises it or raises its own error. tests/domain/test_canonical.py compares both.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["dumps"]

_INT_MAX = 2**53 - 1
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _plain(value: Any) -> bool:
    """Whether `value` is made only of what the standard encoder writes as JCS does."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        # The exact types first, by identity (what parsed JSON and the bundles are made of):
        # a verification walks every value of its evidence bundle. Subclasses take the
        # general path below.
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -_INT_MAX <= item <= _INT_MAX:
                continue
            return False
        if kind is dict:
            for key in item:
                if not (isinstance(key, str) and key.isascii()):
                    return False
            stack.extend(item.values())
            continue
        if kind is list or kind is tuple:
            stack.extend(item)
            continue
        if isinstance(item, str | bool):
            continue
        if isinstance(item, int):
            if -_INT_MAX <= item <= _INT_MAX:
                continue
            return False
        if isinstance(item, dict):
            for key in item:
                if not (isinstance(key, str) and key.isascii()):
                    return False
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            return False
    return True


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of `value`: `rfc8785.dumps(value)`, byte for byte, and
    its errors for a value it cannot canonicalise."""
    if _plain(value):
        try:
            return _ENCODE(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 says what is wrong
            pass
    return rfc8785.dumps(value)
