"""The strict JSON reader of request bodies: every JSON text with unique names reads as the
standard library reads it; any name given twice, at any depth, however escaped or spaced, is
refused and named; what is not JSON (NaN, Infinity, 1e999) is refused as malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from chevet.web import json_body

# Texts with the characters that could fool a scan of the raw bytes: quotes, backslashes,
# colons, whitespace, non-ASCII.
tricky_text = st.text(alphabet=st.sampled_from(list('ab":\\ \t\n{}[],é€\u2028'))
                      | st.characters(exclude_categories=("Cs",)), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4), max_leaves=15)
layouts = st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}, {"separators": (" , ", " : ")},
                           {"ensure_ascii": False}])


def _errors(raw: bytes) -> list[Any]:
    with pytest.raises(RequestValidationError) as refused:
        json_body.parse(raw)
    return list(refused.value.errors())


@settings(max_examples=300, deadline=None)
@given(value=json_values, layout=layouts)
def test_json_with_unique_names_reads_as_the_standard_library_reads_it(value: Any, layout: dict[str, Any]) -> None:
    raw = json.dumps(value, **layout).encode()
    assert json_body.parse(raw) == json.loads(raw)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(tricky_text, json_values, max_size=3), name=tricky_text, first=json_values,
       second=json_values, layout=layouts, depth=st.integers(0, 3))
def test_a_name_given_twice_is_refused_at_any_depth(value: dict[str, Any], name: str, first: Any, second: Any,
                                                     layout: dict[str, Any], depth: int) -> None:
    value.pop(name, None)
    inner = json.dumps(value, **layout)[1:-1].strip()
    key = json.dumps(name, ensure_ascii=layout.get("ensure_ascii", True))
    colon = " : " if layout.get("separators") == (" , ", " : ") else ": "
    obj = "{" + f"{key}{colon}{json.dumps(first)}, " + (inner + ", " if inner else "") + \
          f"{key}{colon}{json.dumps(second)}" + "}"
    for _ in range(depth):
        obj = '{"outer": [1, ' + obj + "]}"
    [error] = _errors(obj.encode())
    assert error["type"] == "duplicate_name" and error["loc"] == ("body", name)


@pytest.mark.parametrize("raw", [b"NaN", b'{"q": NaN}', b'{"q": Infinity}', b'{"q": -Infinity}', b'{"q": 1e999}',
                                 b'{"q": 1', b'{"q": "\xff"}', b'["\\ud800"]', b"", b'{"q": 1} x'])
def test_what_is_not_json_is_refused_as_malformed(raw: bytes) -> None:
    [error] = _errors(raw)
    assert error["type"] == "json_invalid"


def test_a_body_validates_as_fastapi_validates_it() -> None:
    from chevet.web.api.models import ReadIn

    assert json_body.validated(ReadIn, json_body.decode(b'{"seq": 3}', "application/json")).seq == 3
    for raw, content_type, kind in ((b'{"seq": true}', "application/json", "int_type"),
                                    (b'{"seq": "3"}', "application/json; charset=utf-8", "int_type"),
                                    (b"", "application/json", "missing"),
                                    (b'{"seq": 3}', "text/plain", "model_attributes_type"),
                                    (b'{"seq": 3}', None, "model_attributes_type")):
        with pytest.raises(RequestValidationError) as refused:
            json_body.validated(ReadIn, json_body.decode(raw, content_type))
        assert refused.value.errors()[0]["type"] == kind, (raw, content_type)
        assert refused.value.errors()[0]["loc"][0] == "body"
