"""The fast canonical JSON (domain/canonical.py) writes what `rfc8785.dumps` writes, byte for
byte, and refuses what it refuses: payload hashes and evidence hashes are over these bytes."""

from collections import OrderedDict

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st
from support import payloads as examples

from ledger_api.domain import canonical

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_json_value_is_written_as_rfc8785_writes_it(value):
    assert canonical.dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, False, None], "": "x"},
        {"control": "\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", "quote": '"\\/'},
        {"unicode": "é ü 中 \u2028 \u2029 😀"},
        {"\ue000": 1, "😀": 2, "a": 3},  # keys JCS orders by UTF-16 code units, not code points
        {"floats": [0.1, 1e21, 1e-7, -0.0, 5e-324]},
        {"edges": [2**53 - 1, -(2**53) + 1]},
        ("a", ("b",)),
        examples.declaration("4NL123456789-INV2026-0001"),
    ],
)
def test_values_where_a_plain_encoder_could_differ_are_written_as_rfc8785_writes_them(value):
    assert canonical.dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), {1: "a"}, "\ud800", b"bytes", float("nan")])
def test_what_rfc8785_refuses_is_refused(value):
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(value)
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical.dumps(value)


class _Text(str):
    pass


class _Number(int):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"text": _Text("x"), "number": _Number(7), "big": _Number(2**53)},
        {_Text("key"): [OrderedDict(b=1, a=2)]},
        OrderedDict(z=[_Number(-(2**53) + 1)], a=True),
    ],
)
def test_subclasses_of_json_types_are_written_or_refused_as_rfc8785_does(value):
    """The plainness walk tests the exact types first: a subclass takes its general path."""
    try:
        expected: bytes | type[Exception] = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        expected = type(exc)
    if isinstance(expected, bytes):
        assert canonical.dumps(value) == expected
    else:
        with pytest.raises(expected):
            canonical.dumps(value)
