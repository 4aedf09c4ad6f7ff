"""Limits on client JSON that every database can store and every later read can render.

One place owns the rules; the API's JSON parser (hcm/parsers.py) and the admin's JSON form
fields both use it:
- nesting at most settings.API_JSON_MAX_DEPTH levels, checked on the raw text before
  `json.loads`, so a document nested thousands deep never reaches the recursive decoder;
- no NUL (PostgreSQL text and jsonb cannot hold U+0000: a 500 on insert);
- no lone UTF-16 surrogates (`"\\ud800"`): not encodable as UTF-8, so SQLite stored them
  and every later read of the row failed;
- integers within signed 64 bits (what a database column or id can hold) and finite numbers
  (`1e999` parses as infinity, which JSON cannot render back).
"""

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# NUL or a surrogate code point; after decoding, surrogates are lone halves (json.loads
# joins valid pairs into one character).
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# A whole JSON string (possessive: an unterminated one cannot backtrack).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")
# What a JSON text must contain for its decoded value to break a rule: a \\u0000 or
# surrogate escape (strict json.loads refuses raw control characters, and the text was
# decoded from strict UTF-8), 19+ digits (past 64 bits), a 3-digit exponent (1e999), or
# the non-standard Infinity / NaN.
_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])|\d{19}|[eE]\+?\d{3}|Infinity|NaN")
# The tokens that matter for naming a path: strings, brackets, commas and colons.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{},:]')


class JSONLimitError(ValueError):
    """Client JSON breaks a limit; `path` is the dotted path of the offending value ("" = root)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def max_depth() -> int:
    return settings.API_JSON_MAX_DEPTH


def printable(text: str) -> str:
    """`text` safe to put in an error message: NUL, control characters and lone surrogates
    written as \\uXXXX escapes (a lone surrogate cannot even be encoded into the response)."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dotted(path: tuple) -> str:
    """("payload", "to") → "payload.to"; keys shown printable."""
    return ".".join(printable(str(segment)) for segment in path)


def check_depth(text: str, limit: int | None = None) -> None:
    """Raise JSONLimitError if `text` nests arrays/objects deeper than `limit` levels.

    Works on the raw text, before anything is decoded, without recursion: strings are cut
    out and the brackets left are peeled one level per pass (C-speed regex passes, at most
    `limit` of them). Only a body that is still not empty after that is scanned token by
    token, to name the path where the limit is passed.
    """
    limit = max_depth() if limit is None else limit
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than its number of brackets (the usual, small body)
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        peeled = _INNERMOST_PAIR.sub("", brackets)
        if not peeled:
            return
        if peeled == brackets:  # unbalanced: malformed JSON, json.loads says so
            return
        brackets = peeled
    _name_too_deep(text, limit)


def _name_too_deep(text: str, limit: int) -> None:
    """Raise JSONLimitError naming the container that opens past `limit` levels."""
    # Per open container: [is_object, key (raw JSON string) or index].
    stack: list[list[Any]] = []
    expect_key = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            if len(stack) >= limit:
                raise JSONLimitError(
                    dotted(tuple(_segment(s) for _, s in stack)), f"Nested deeper than {limit} levels."
                )
            stack.append([token == "{", None if token == "{" else 0])
            expect_key = token == "{"
        elif token == "]" or token == "}":
            if stack:
                stack.pop()
            expect_key = False
        elif token == ",":
            if stack and stack[-1][0]:
                expect_key = True
            elif stack:
                stack[-1][1] += 1
        elif token == ":":
            expect_key = False
        elif expect_key and stack:  # a string in key position: remember it for the path
            stack[-1][1] = token
            expect_key = False


def _segment(raw: Any) -> Any:
    if not isinstance(raw, str):
        return "?" if raw is None else raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw[1:-1]


def suspect(text: str) -> bool:
    """False when the JSON `text` cannot decode to anything `problems()` would report, so
    the walk can be skipped (one regex search over the text instead)."""
    return _SUSPECT.search(text) is not None


def _string_problem(text: str) -> str | None:
    bad = _BAD_CHAR.search(text)
    if bad is None:
        return None
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters."
    return "must not contain lone UTF-16 surrogates (invalid Unicode)."


def problems(value: Any) -> Iterator[tuple[str, str]]:
    """(dotted path, message) for every value or key in decoded JSON that breaks a limit.

    An iterative walk (no recursion), so it is safe on anything `json.loads` returned.
    Paths are kept as tuples and only spelled out for an offender.
    """
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                yield dotted(path), f"String {problem}"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                yield dotted(path), f"Integer out of range: must be between {INT64_MIN} and {INT64_MAX}."
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield dotted(path), "Number out of range."
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key = str(key)
                problem = _string_problem(key)
                if problem:
                    yield dotted((*path, key)), f"Key {problem}"
                children.append(((*path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([((*path, i), child) for i, child in enumerate(item)]))
