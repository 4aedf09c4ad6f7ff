"""schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis_hostile) that make about half
of the generated requests hostile, the way an attacker would: NUL characters and lone
surrogates in any string or key of a JSON body, integers past 64 bits, JSON nested
thousands deep (sent as raw bytes: no JSON encoder nests that far), and NUL or huge integers
in query and path parameters. The rest stay as schemathesis made them."""

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

STRINGS = ("\x00", "a\x00b", "\ud800", "x\udfffy")
URL_STRINGS = ("\x00", "a\x00b")  # a lone surrogate cannot even be percent-encoded
INTEGERS = (2**63, 2**64, 10**30, -(2**64))
DEEP = 5000
_MARKER = "__hostile_deep__"

# Half the cases unchanged, half made hostile one way.
_KINDS = ("none", "none", "none", "none", "string", "integer", "key", "deep")


def _paths(value: Any) -> list[tuple]:
    """Every position in a JSON value (the root is ()), found without recursion."""
    found: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        found.append(path)
        if isinstance(item, dict):
            stack.extend((path + (key,), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((path + (index,), child) for index, child in enumerate(item))
    return found


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return copy


@st.composite
def _hostile_body(draw: st.DrawFn, body: Any) -> Any:
    kind = draw(st.sampled_from(_KINDS))
    if kind == "none" or isinstance(body, bytes):
        return body
    path = draw(st.sampled_from(_paths(body)))
    if kind == "string":
        return _replaced(body, path, draw(st.sampled_from(STRINGS)))
    if kind == "integer":
        return _replaced(body, path, draw(st.sampled_from(INTEGERS)))
    if kind == "key":
        key = draw(st.sampled_from(STRINGS)) + "key"
        return _replaced(body, path, {key: 1}) if path else {**(body if isinstance(body, dict) else {}), key: 1}
    text = json.dumps(_replaced(body, path, _MARKER))
    return text.replace(f'"{_MARKER}"', "[" * DEEP + "]" * DEEP).encode()


@st.composite
def _hostile_parameters(draw: st.DrawFn, parameters: dict[str, Any] | None, strings: tuple, numbers: bool) -> Any:
    if not parameters or draw(st.booleans()):
        return parameters
    name = draw(st.sampled_from(sorted(parameters)))
    choices = strings + (("99999999999999999999", str(10**30)) if numbers else ())
    return {**parameters, name: draw(st.sampled_from(choices))}


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
    return _hostile_body(body)


@schemathesis.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> st.SearchStrategy:
    return _hostile_parameters(query, URL_STRINGS, numbers=True)


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
    return _hostile_parameters(path_parameters, URL_STRINGS, numbers=False)
