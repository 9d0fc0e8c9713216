"""Tests of the shared validators in policyeval._validation."""

import numpy as np
import pandas as pd
import pytest

from policyeval._validation import examples, require_columns, require_name
from policyeval.exceptions import ArgumentTypeError, ColumnNotFoundError


def test_examples_first_k_distinct_in_order_with_ellipsis():
    assert examples([5, 5, 2, 9, 1]) == "5, 2, 9, ..."
    assert examples([5, 5, 2]) == "5, 2"
    assert examples([]) == ""
    assert examples(range(10), 5) == "0, 1, 2, 3, 4, ..."
    assert examples(range(10), None) == ", ".join(map(str, range(10)))


def test_examples_accepts_arrays_series_index_and_generators():
    assert examples(np.array([2010.5, 2010.5, 2011.25])) == "2010.5, 2011.25"
    assert examples(np.array([320101, 320102], dtype=np.int64)) == "320101, 320102"
    assert examples(pd.Series(["a", "b", "a"], dtype="str")) == "a, b"
    assert examples(pd.Index(["x", "y", "z", "w"]), 2) == "x, y, ..."
    assert examples(f"({u}, {t})" for u, t in [(1, 2000), (1, 2000), (2, 2001)]) == "(1, 2000), (2, 2001)"


def test_examples_reads_a_generator_only_as_far_as_needed():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    assert examples(endless()) == "0, 1, 2, ..."


def test_examples_collapses_nan_and_handles_unhashable():
    assert examples([np.nan, float("nan"), 1.0]) == "nan, 1.0"
    assert examples(np.array([np.nan, np.nan])) == "nan"
    assert examples([[1], [1], [2]]) == "[1], [2]"


def test_require_columns_names_argument_and_lists_columns():
    df = pd.DataFrame({"id": [1], "year": [2000], "y": [1.0]})
    require_columns(df, idname="id", tname="year", covariates=["y"], weights=None)
    with pytest.raises(ColumnNotFoundError, match=r"^yname='lemp' is not a column of the data; "
                                                  r"available columns: 'id', 'year', 'y'$"):
        require_columns(df, idname="id", yname="lemp")
    with pytest.raises(KeyError, match=r"covariates='x2' is not a column of panel"):
        require_columns(df, where="panel", covariates=["y", "x2"])
    with pytest.raises(ColumnNotFoundError, match=r"covariates\[1\]='x2'.*available columns: 'id', \.\.\.$"):
        require_columns(df, show=1, **{"covariates[1]": "x2"})


def test_require_name():
    require_name("yname", "y")
    with pytest.raises(ArgumentTypeError, match=r"yname=\['y'\] must be a column name \(str\), got list"):
        require_name("yname", ["y"])
    with pytest.raises(TypeError):
        require_name("tname", 3)


def test_require_columns_strict_checks_names_in_order():
    df = pd.DataFrame({"id": [1], "year": [2000]})
    require_columns(df, strict=True, idname="id", tname=["year"])
    with pytest.raises(ArgumentTypeError, match=r"gname=None must be a column name \(str\), got NoneType"):
        require_columns(df, strict=True, idname="id", gname=None)
    with pytest.raises(ColumnNotFoundError, match=r"yname='y' is not a column"):
        require_columns(df, strict=True, yname="y", tname=3)  # yname comes first
    require_columns(df, idname="id", gname=None)  # not strict: None means "not used"


def test_constant_within_counts_missing_as_a_value_and_orders_by_first_appearance():
    from policyeval._validation import constant_within
    from policyeval.exceptions import DataError, TreatmentTimingError

    df = pd.DataFrame({"id": [9, 9, 3, 3, 5, 5, 7, 7],
                       "g": [2004.0, 2004.0, np.nan, 2006.0, 0.0, 0.0, 2001.0, 2002.0]})
    with pytest.raises(TreatmentTimingError, match=r"^gname='g' varies within idname='id' for 2 units "
                                                   r"\(e\.g\. 3, 7\); treatment timing must be constant per unit\.$"):
        constant_within(df, "id", "g", "gname")
    # values= replaces the column (here: missing recoded to 0 drops unit 3 from the offenders)
    with pytest.raises(DataError, match=r"for 1 units \(e\.g\. 7\); must be constant$"):
        constant_within(df, "id", "g", "gname", values=df["g"].fillna(2006.0), error=DataError,
                        reason="must be constant")
    constant_within(df[df.id.isin([9, 5])], "id", "g", "gname")
    # text columns and missing ids
    constant_within(pd.DataFrame({"id": [1, 1, None], "c": ["a", "a", "b"]}), "id", "c", "cluster")
    with pytest.raises(ValueError, match=r"cluster='c' varies .* for 1 units \(e\.g\. x\)"):
        constant_within(pd.DataFrame({"id": ["x", "x"], "c": ["a", None]}), "id", "c", "cluster")


def test_integer_periods():
    from policyeval._validation import integer_periods
    from policyeval.exceptions import DataError

    out = integer_periods(pd.Series([2001, 2002]), "tname", "year")
    assert out.dtype == np.float64 and out.tolist() == [2001.0, 2002.0]
    with pytest.raises(DataError, match=r"^tname='year' must hold integer periods; found non-integer values "
                                        r"2001\.5 for units 7$"):
        integer_periods([2001.5, 2002], "tname", "year", ids=[7, 8])
    with pytest.raises(DataError, match=r"found non-integer values nan, inf in rows 1, 2$"):
        integer_periods([2001, np.nan, np.inf], "tname", "year")
    # the caller handles missing / infinite values itself (e.g. never treated)
    integer_periods([2001, np.nan, np.inf], "gname", "g", allow_nonfinite=True)
    with pytest.raises(ValueError, match=r"gname='g' .* 2004\.25 for units b"):
        integer_periods([np.nan, 2004.25], "gname", "g", ids=["a", "b"], allow_nonfinite=True)


def test_require_frame_and_column_list():
    from policyeval._validation import column_list, require_frame

    require_frame(pd.DataFrame())
    with pytest.raises(ArgumentTypeError, match=r"^panel must be a pandas DataFrame, got dict$"):
        require_frame({"a": [1]}, "panel")
    assert column_list(None, "covariates") == []
    assert column_list("x", "covariates") == ["x"]
    assert column_list(pd.Index(["a", "b"]), "covariates") == ["a", "b"]
    assert column_list(("a", "b"), "cluster", strict=True) == ["a", "b"]
    with pytest.raises(ArgumentTypeError, match=r"cluster must be a column name or a list of column names"):
        column_list(pd.Index(["a"]), "cluster", strict=True)


def test_numeric_column():
    from policyeval._validation import numeric_column
    from policyeval.exceptions import NonNumericValueError

    df = pd.DataFrame({"id": [4, 5, 6, 7], "y": ["1", "2.5", None, "—"], "b": [True, False, True, True],
                       "n": pd.array([1, None, 3, 4], dtype="Int64")})
    with pytest.raises(NonNumericValueError, match=r"^yname='y' has 1 non-numeric values \(e\.g\. —\) "
                                                   r"in units \(e\.g\. 7\)$"):
        numeric_column(df, "y", "yname", "id")
    with pytest.raises(ValueError, match=r"in rows \(e\.g\. 3\)$"):
        numeric_column(df, "y", "yname")
    np.testing.assert_array_equal(numeric_column(df.iloc[:3], "y", "yname"), [1.0, 2.5, np.nan])
    np.testing.assert_array_equal(numeric_column(df, "b", "dname"), [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(numeric_column(df, "n", "gname"), [1.0, np.nan, 3.0, 4.0])
