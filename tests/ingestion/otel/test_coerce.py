import re

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from ingestion.otel.pivot import coerce
from ingestion.otel.schema import ANY_VALUE, BOOL, DOUBLE, INT, STRING, STRING_LIST

INT64 = st.integers(min_value=-(10**17), max_value=10**17)


def _values(*values: dict) -> pa.StructArray:
    return pa.array(list(values), type=ANY_VALUE)


@given(INT64)
def test_an_int_reads_the_same_whatever_otlp_type_carries_it(number: int) -> None:
    values = _values(
        {"intValue": str(number)},
        {"stringValue": str(number)},
        {"stringValue": f" {number} "},
        {"doubleValue": float(number)} if abs(number) < 2**53 else {"intValue": str(number)},
    )
    assert coerce(values, INT).to_pylist() == [number] * 4


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_double_reads_the_same_as_a_string_or_a_double(number: float) -> None:
    assert coerce(
        _values({"doubleValue": number}, {"stringValue": repr(number)}), DOUBLE
    ).to_pylist() == [
        number,
        number,
    ]


@given(st.text())
def test_text_that_is_not_a_number_becomes_null_not_an_error(text: str) -> None:
    result = coerce(_values({"stringValue": text}), INT).to_pylist()[0]
    if re.fullmatch(r"[ \t\n\r\f\v]*[-+]?[0-9]{1,18}[ \t\n\r\f\v]*", text):
        assert result == int(text.strip())
    elif result is not None:
        assert result == round(float(text.strip()))  # a decimal number, rounded


def test_status_code_undefined_is_null() -> None:
    values = _values({"stringValue": "undefined"}, {"stringValue": "529"}, {"intValue": "500"}, {})
    assert coerce(values, INT).to_pylist() == [None, 529, 500, None]


def test_success_as_string_or_bool() -> None:
    values = _values(
        {"stringValue": "true"}, {"stringValue": "FALSE"}, {"boolValue": True}, {"stringValue": "x"}
    )
    assert coerce(values, BOOL).to_pylist() == [True, False, True, None]


def test_host_paths_as_array_or_single_string() -> None:
    values = _values(
        {"arrayValue": {"values": [{"stringValue": "/a"}, {"stringValue": "/b"}]}},
        {"stringValue": "/c"},
        {},
    )
    assert coerce(values, STRING_LIST).to_pylist() == [["/a", "/b"], ["/c"], None]


def test_a_vertical_tab_is_whitespace_around_a_number_like_any_other() -> None:
    # Found by Hypothesis in CI: "0\v" became null while "0\t" read as 0.
    values = _values(*({"stringValue": f"{space}7{space}"} for space in " \t\n\r\f\v"))
    assert coerce(values, INT).to_pylist() == [7] * 6
    assert coerce(values, DOUBLE).to_pylist() == [7.0] * 6


def test_an_int_beyond_the_exact_doubles_reads_as_the_nearest_double() -> None:
    # Found by the landing's fuzz harness: 2**53 + 1 in a double column failed the batch.
    values = _values({"intValue": str(2**53 + 1)}, {"intValue": str(-(2**53) - 1)})
    assert coerce(values, DOUBLE).to_pylist() == [float(2**53), float(-(2**53))]


_ANY_SCALAR = st.one_of(
    st.builds(lambda n: {"intValue": str(n)}, INT64),
    st.builds(lambda x: {"doubleValue": x}, st.floats(width=64)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(
        lambda t: {"stringValue": t},
        st.one_of(st.text(max_size=12), st.sampled_from([" 7 ", "1e3", "true", "-0", "x"])),
    ),
    st.just({}),
)


@given(st.lists(_ANY_SCALAR, min_size=1, max_size=12))
def test_a_value_reads_the_same_in_any_batch_whatever_kinds_its_neighbours_are(
    values: list[dict],
) -> None:
    """Each kind coalesces only the OTLP value kinds a batch holds: a value alone (one kind,
    no coalesce) must read as it does among neighbours of every other kind."""
    batch = _values(*values)
    for kind in (INT, DOUBLE, BOOL, STRING):
        together = coerce(batch, kind).to_pylist()
        alone = [coerce(_values(value), kind).to_pylist()[0] for value in values]
        assert _same(together, alone), kind


def _same(left: list, right: list) -> bool:
    # NaN is never equal to itself; a double column has none anyway (they read as null).
    return all(a == b or (a != a and b != b) for a, b in zip(left, right, strict=True))
