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

# Surrogate code points left after decoding are lone halves: json.loads joins valid pairs.
_SURROGATE = re.compile("[\ud800-\udfff]")
# The tokens that matter for nesting: whole strings (so brackets inside them do not count;
# possessive, so an unterminated string cannot backtrack), brackets, commas and colons.
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
    return re.sub(r"[\x00-\x1f\x7f\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def _join(path: str, key: object) -> str:
    segment = printable(str(key))
    return f"{path}.{segment}" if path else segment


def check_depth(text: str, limit: int | None = None) -> None:
    """Raise JSONLimitError if `text` nests arrays/objects deeper than `limit` levels.

    Works on the raw text with a flat loop (no recursion), before anything is decoded.
    """
    limit = max_depth() if limit is None else limit
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than its number of brackets (the usual, small body)
    # Per open container: [is_object, key or index]; the path names where the cap is hit.
    stack: list[list[Any]] = []
    expect_key = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            if len(stack) >= limit:
                path = ""
                for _, segment in stack:
                    path = _join(path, "?" if segment is None else segment)
                raise JSONLimitError(path, f"Nested deeper than {limit} levels.")
            stack.append([token == "{", None if token == "{" else 0])
            expect_key = token == "{"
        elif token == "]" or token == "}":
            if stack:
                stack.pop()
            expect_key = False
        elif token == ",":
            if stack:
                if stack[-1][0]:
                    expect_key = True
                else:
                    stack[-1][1] += 1
        elif token == ":":
            expect_key = False
        elif expect_key and stack:  # a string in key position: remember it for the path
            try:
                stack[-1][1] = json.loads(token)
            except ValueError:
                stack[-1][1] = token[1:-1]
            expect_key = False


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters."
    if _SURROGATE.search(text):
        return "must not contain lone UTF-16 surrogates (invalid Unicode)."
    return None


def problems(value: Any) -> Iterator[tuple[str, str]]:
    """(dotted path, message) for every value or key in decoded JSON that breaks a limit.

    An iterative walk (no recursion), so it is safe on anything `json.loads` returned.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                yield path, f"String {problem}"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                yield path, f"Integer out of range: must be between {INT64_MIN} and {INT64_MAX}."
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield path, "Number out of range."
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key = str(key)
                problem = _string_problem(key)
                if problem:
                    yield _join(path, key), f"Key {problem}"
                children.append((_join(path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([(_join(path, i), child) for i, child in enumerate(item)]))
