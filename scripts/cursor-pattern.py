#!/usr/bin/env python3
"""The `pattern` of a list's `cursor` in crates/gateway/src/http/openapi.json, computed, and checked against the
gateway's reading of cursors.

A cursor (crates/gateway/src/http/paging.rs) is unpadded URL-safe Base64 of `<kind>:<digits>`, `kind` three
letters (`seq` for orders, `evt` for events) and 1 to 18 ASCII digits. Base64 turns every three bytes into four
characters, so the set of cursors is a regular language; this writes it as a regular expression, which accepts
the empty string too (an empty `cursor` is no cursor).

  scripts/cursor-pattern.py seq     # prints the pattern of OrderCursor, after checking it
  scripts/cursor-pattern.py evt     # EventCursor

Python 3 standard library only. The check compares the pattern with an emulation of paging.rs's `decode` on
every length of cursor and on 300,000 near misses (Base64 strings a few edits away from real cursors).
"""

import base64
import random
import re
import sys

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DIGITS = [ord(c) for c in "0123456789"]
MAX_DIGITS = 18


def char_class(values) -> str:
    """A character class of the Base64 characters with these 6-bit values, as short as ranges make it."""
    chars = sorted({ALPHABET[v] for v in values}, key=ALPHABET.index)
    if len(chars) == 1:
        return chars[0]
    runs, i = [], 0
    while i < len(chars):
        j = i
        while (
            j + 1 < len(chars)
            and ALPHABET.index(chars[j + 1]) == ALPHABET.index(chars[j]) + 1
            and chars[j].isalnum()
            and chars[j + 1].isalnum()
            and (chars[j].isupper(), chars[j].isdigit()) == (chars[j + 1].isupper(), chars[j + 1].isdigit())
        ):
            j += 1
        runs.append(chars[i] if i == j else chars[i] + chars[j] if j == i + 1 else f"{chars[i]}-{chars[j]}")
        i = j + 1
    return "[" + "".join(runs) + "]"


def alternatives(options) -> str:
    options = sorted(set(options))
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


def leading_pair(first, second) -> str:
    """The first two characters of the groups whose first byte is in `first` and second in `second`."""
    pairs = {}
    for b0 in first:
        for b1 in second:
            pairs.setdefault(ALPHABET[b0 >> 2], set()).add(((b0 & 3) << 4) | (b1 >> 4))
    return alternatives(c + char_class(s) for c, s in pairs.items())


def cursor_pattern(kind: str) -> str:
    head = base64.urlsafe_b64encode(kind.encode()).decode()
    assert len(kind.encode()) == 3 and "=" not in head, "a kind of three bytes fills one Base64 group"
    # The group after the kind: ':' and one digit (three characters), or ':' and two digits (four).
    colon = leading_pair([ord(":")], DIGITS)
    third = char_class((b & 15) << 2 for b in DIGITS)
    fourth = char_class(b & 63 for b in DIGITS)
    # Groups of three digits, and a last group of one digit (two characters) or two (three).
    full = leading_pair(DIGITS, DIGITS) + third + fourth
    one = alternatives(
        ALPHABET[b0 >> 2] + char_class([(b1 & 3) << 4 for b1 in DIGITS if b1 >> 2 == b0 >> 2]) for b0 in DIGITS
    )
    two = leading_pair(DIGITS, DIGITS) + third
    # 2 digits, then k groups of 3, then 0, 1 or 2: at most 18 digits in all.
    most = (MAX_DIGITS - 2) // 3
    tail = f"(?:(?:{full}){{0,{most}}}{one}?|(?:{full}){{0,{most - 1}}}{two})"
    return f"^(?:{head}{colon}{third}(?:{fourth}{tail})?)?$"


def gateway_reads(kind: str, cursor: str):
    """paging.rs `decode`: the position, or None; an empty cursor is no cursor."""
    if cursor == "":
        return "none"
    if any(c not in ALPHABET for c in cursor) or len(cursor) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    # The base64 crate refuses non-zero trailing bits: only the canonical spelling decodes.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != cursor:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    digits = text.removeprefix(kind + ":") if text.startswith(kind + ":") else None
    if digits is None or not (1 <= len(digits) <= MAX_DIGITS) or not all(c in "0123456789" for c in digits):
        return None
    return int(digits)


def check(kind: str, pattern: str) -> None:
    compiled = re.compile(pattern[:-1] + r"\Z")
    encode = lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")  # noqa: E731
    rng = random.Random(0)
    for length in range(1, MAX_DIGITS + 1):
        for _ in range(2000):
            cursor = encode(f"{kind}:" + "".join(rng.choice("0123456789") for _ in range(length)))
            assert compiled.match(cursor), f"{cursor} is a cursor but does not match"
    candidates = [encode(f"{kind}:" + "1" * (MAX_DIGITS + 1)), encode(f"{kind}:"), encode(f"{kind}:+5"), ""]
    for _ in range(300_000):
        chars = list(encode(f"{kind}:" + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 20)))))
        for _ in range(rng.randint(0, 2)):
            roll = rng.random()
            if roll < 0.4 and chars:
                chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
            elif roll < 0.7 and chars:
                del chars[rng.randrange(len(chars))]
            else:
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(ALPHABET))
        candidates.append("".join(chars))
    for cursor in candidates:
        read = gateway_reads(kind, cursor) is not None
        assert read == bool(compiled.match(cursor)), f"{cursor!r}: the gateway reads it: {read}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pattern = cursor_pattern(sys.argv[1])
    check(sys.argv[1], pattern)
    print(pattern)
