"""External coefficient tables: reading with line-exact errors, and the write/read roundtrip."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtsen.errors import DtsenError
from dtsen.ingest.small_table import parse_number
from dtsen.welfare.coefficients import CoefficientTableError, read_coefficients, write_coefficients
from dtsen.welfare.ols import Coefficients, fit_ols, predict_frame
from dtsen.welfare.predictors import PREDICTORS, select_predictors

HEADER = "predictor,category,weight\n"


def _write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "coef.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _problems(error: pytest.ExceptionInfo[CoefficientTableError]) -> list[tuple[str, str]]:
    return [(p.where, p.message) for p in error.value.problems]


def test_valid_table_with_semicolons_decimal_commas_and_a_bom(tmp_path: Path) -> None:
    text = (
        " Predictor ; CATEGORY ;Weight\r\n"
        "intercept;;13,25\r\n"
        "roof_type;JERAMI;0\r\n"
        "roof_type;seng;0,1\r\n"
        "roof_type;GENTENG;0.2\r\n"  # a decimal point is read too
        "roof_type;BETON;-0,35\r\n"
        "roof_type;MISSING;-0,05\r\n"
        ";;\r\n"  # Excel's empty row
        "\r\n"
        "HAS_CAR;;0,4\r\n"
        "log_size;;-0,3\r\n"
        "log_size;missing;0,01\r\n"
        "mean;LOG_SIZE;1.234,5\r\n"
        "region;32.04;0,02\r\n"
        "region;32.05;-0,03\r\n"
    )
    path = tmp_path / "coef.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    coef = read_coefficients(path)
    assert coef == Coefficients(
        intercept=13.25,
        predictors=(PREDICTORS["log_size"], PREDICTORS["roof_type"], PREDICTORS["has_car"]),  # catalogue order
        weights={
            ("log_size", ""): -0.3,
            ("log_size", "MISSING"): 0.01,
            ("roof_type", "SENG"): 0.1,
            ("roof_type", "GENTENG"): 0.2,
            ("roof_type", "BETON"): -0.35,
            ("roof_type", "MISSING"): -0.05,
            ("has_car", ""): 0.4,
        },
        means={"log_size": 1234.5},
        region_level="regency",
        regions={"32.04": 0.02, "32.05": -0.03},
    )


def test_windows_1252_comma_file_with_a_note_column(tmp_path: Path) -> None:
    text = (
        "predictor,category,weight,keterangan\r\n"
        "intercept,,12.5,konstanta\r\n"
        "has_car,,0.5,mobil (\xe9dition 2025)\r\n"  # é is not UTF-8 once encoded as cp1252
        "urban,,0.25,\r\n"
        "region,32,-0.125\r\n"
        "region,33,0.0625,\r\n"
    )
    coef = read_coefficients(_write(tmp_path, text, "cp1252"))
    assert coef == Coefficients(
        intercept=12.5,
        predictors=(PREDICTORS["urban"], PREDICTORS["has_car"]),
        weights={("has_car", ""): 0.5, ("urban", ""): 0.25},
        region_level="province",
        regions={"32": -0.125, "33": 0.0625},
    )


def test_five_mistakes_are_reported_at_once_with_their_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "log_size,,-0.3\n"  # 2
        + "head_agee,,0.01\n"  # 3: unknown predictor
        + "roof_type,JERAMI,0\n"  # 4
        + "roof_type,SENG,0.1\n"  # 5
        + "roof_type,ASBES,0.2\n"  # 6: unknown category
        + "roof_type,GENTENG,abc\n"  # 7: not a number
        + "roof_type,BETON,0.3\n"  # 8
        + "LOG_SIZE,,-0.31\n",  # 9: duplicate; and no intercept anywhere
    )
    with pytest.raises(CoefficientTableError) as error:
        read_coefficients(path)
    assert _problems(error) == [
        (f"{path} line 3", "unknown predictor 'head_agee'"),
        (f"{path} line 6", "unknown category 'ASBES' of roof_type"),
        (f"{path} line 7", "weight 'abc' is not a number"),
        (f"{path} line 9", "duplicate row for log_size (first on line 2)"),
        (str(path), "no intercept row (intercept,,<weight>)"),
    ]
    hints = [p.hint for p in error.value.problems]
    assert hints[0].startswith("did you mean 'head_age'? known: intercept, region, mean, log_size,")
    assert hints[1] == "categories: JERAMI, SENG, GENTENG, BETON"
    assert str(error.value).startswith(f"{path}: the coefficient table has mistakes (5 problems)\n")
    assert isinstance(error.value, DtsenError)


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        ("roof_type,JERAMI,0\nroof_type,SENG,0.1\n", 3, "roof_type lacks the categories GENTENG, BETON"),
        ("region,32,0.1\nregion,32.04,0.2\n", 4,
         "region 32.04 is a regency code but line 3 gave the province code 32; "
         "region effects must all be provinces or all regencies"),
        ("region,32.1,0.1\n", 3, "bad region code '32.1'"),
        ("region,32,0.1\nregion,32,0.2\n", 4, "duplicate row for region,32 (first on line 3)"),
        ("roof_type,,0.1\nroof_type,JERAMI,0\nroof_type,SENG,0\nroof_type,GENTENG,0\nroof_type,BETON,0\n", 3,
         "no category of roof_type"),
        ("log_size,BIG,0.1\nlog_size,,0.2\n", 3, "unknown category 'BIG' of log_size"),
        ("log_size,MISSING,0.1\n", 3, "log_size has no weight row (log_size,,<weight>)"),
        ("mean,roof_type,1\n", 3, "mean of roof_type, which is categorical: only numeric predictors have one"),
        ("mean,head_ag,1\n", 3, "mean of an unknown predictor 'head_ag'"),
        ("mean,head_age,45\n", 3, "mean of head_age, which has no weight row"),
        ("log_size,,\n", 3, "weight blank is not a number"),
        ("log_size,,nan\n", 3, "weight 'nan' is not a number"),
        ("log_size,,0,12\n", 3, "4 fields but the header has 3"),
        ("intercept,,2\n", 3, "duplicate row for intercept (first on line 2)"),
        (",,1\n", 3, "unknown predictor blank"),
    ],
)  # fmt: skip
def test_every_mistake_names_its_line(tmp_path: Path, rows: str, line: int, message: str) -> None:
    path = _write(tmp_path, HEADER + "intercept,,1\n" + rows)
    with pytest.raises(CoefficientTableError) as error:
        read_coefficients(path)
    assert _problems(error) == [(f"{path} line {line}", message)]


def test_hints_for_excel_mistakes(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "intercept,,1\nregion,32.1,0.1\nlog_size,,0,12\n")
    with pytest.raises(CoefficientTableError) as error:
        read_coefficients(path)
    assert [p.hint for p in error.value.problems] == [
        "'PP' for a province, 'PP.KK' for a regency; Excel may have turned 32.10 into a number: format the column as text",
        "a decimal comma in a comma-separated file? use ';' as the delimiter",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("\n \n", "file is empty"),
        ("predictor;weight\nintercept;1\n", "line 1: the header lacks the column(s) category"),
        ("name,value\n", "line 1: the header lacks the column(s) predictor, category, weight"),
        ('predictor,category,weight\nintercept,"1\n', "cannot be parsed"),
    ],
)
def test_unreadable_tables(tmp_path: Path, content: str, message: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(CoefficientTableError, match=re.escape(message)) as error:
        read_coefficients(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CoefficientTableError, match="cannot read the coefficient table"):
        read_coefficients(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("0.12", False, 0.12),
        ("-3", False, -3.0),
        ("+.5", False, 0.5),
        ("1e-05", False, 1e-05),
        ("0,12", True, 0.12),
        ("0.12", True, 0.12),
        ("1.234,5", True, 1234.5),
        ("-1,5e-3", True, -0.0015),
        ("0,12", False, None),
        ("12.34,5", True, None),
        ("1_000", False, None),
        ("inf", False, None),
        ("nan", True, None),
        ("", True, None),
        ("abc", True, None),
    ],
)
def test_parse_number(text: str, decimal_comma: bool, expected: float | None) -> None:
    assert parse_number(text, decimal_comma) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_every_float_repr(x: float) -> None:
    assert parse_number(repr(x), False) == x
    assert parse_number(repr(x).replace(".", ","), True) == x


# -- write, then read back ---------------------------------------------------------------------


FULL = Coefficients(
    intercept=13.1,
    predictors=(PREDICTORS["log_size"], PREDICTORS["has_car"], PREDICTORS["livestock"]),
    weights={
        ("log_size", ""): -0.3,
        ("log_size", "MISSING"): 1e-05,
        ("has_car", ""): 0.4,
        ("livestock", ""): 0.1,
    },
    means={"log_size": 1.1, "livestock": 0.25},
    region_level="province",
    regions={"33": -0.05, "32": 0.02},
)


def test_written_table_is_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "out" / "coef.csv"
    write_coefficients(FULL, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfpredictor,")  # UTF-8 with BOM, for Excel
    assert path.read_text(encoding="utf-8-sig") == (
        "predictor,category,weight\n"
        "intercept,,13.1\n"
        "log_size,,-0.3\n"
        "log_size,MISSING,1e-05\n"
        "has_car,,0.4\n"
        "livestock,,0.1\n"
        "mean,livestock,0.25\n"
        "mean,log_size,1.1\n"
        "region,32,0.02\n"
        "region,33,-0.05\n"
    )
    assert read_coefficients(path) == FULL


def test_roundtrip_of_a_fitted_ols_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 150
    roofs = np.array(PREDICTORS["roof_type"].categories[:3])  # BETON: nobody, weight 0
    train = pd.DataFrame(
        {
            "log_size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(1.2, 0.4, n)),
            "roof_type": pd.Series(rng.choice(roofs, n)).where(rng.random(n) > 0.05, None),
            "has_car": rng.random(n) < 0.2,
            "province_code": np.repeat(["32", "33", "35"], n // 3),
        }
    )
    y = rng.normal(13.0, 0.5, n)
    predictors = select_predictors(["roof_type", "has_car", "log_size"])
    coef, thin = fit_ols(predictors, train, y, region_level="province", min_region_families=30)
    assert thin == [] and len(coef.regions) == 2 and ("roof_type", "MISSING") in coef.weights
    path = tmp_path / "ols.csv"
    write_coefficients(coef, path)
    back = read_coefficients(path)
    assert back == coef
    assert np.array_equal(predict_frame(back, train), predict_frame(coef, train))


def test_a_model_without_region_effects_reads_back_with_level_none(tmp_path: Path) -> None:
    pooled = Coefficients(13.0, (PREDICTORS["has_car"],), {("has_car", ""): 0.5}, region_level="province")
    path = tmp_path / "pooled.csv"
    write_coefficients(pooled, path)
    assert read_coefficients(path) == Coefficients(13.0, (PREDICTORS["has_car"],), {("has_car", ""): 0.5})


def test_a_reference_category_keeps_a_weight_that_is_not_zero(tmp_path: Path) -> None:
    cats = PREDICTORS["wall_type"].categories
    coef = Coefficients(1.0, (PREDICTORS["wall_type"],), {("wall_type", c): float(i + 1) for i, c in enumerate(cats)})
    path = tmp_path / "wall.csv"
    write_coefficients(coef, path)
    assert read_coefficients(path) == coef


def test_what_cannot_be_written_is_refused(tmp_path: Path) -> None:
    bad = Coefficients(
        float("nan"),
        (PREDICTORS["has_car"],),
        {("has_car", ""): 0.5, ("roof_type", "SENG"): 0.1, ("has_car", "YES"): 0.2},
        region_level="province",
        regions={"32.04": 0.1},
    )
    with pytest.raises(CoefficientTableError) as error:
        write_coefficients(bad, tmp_path / "bad.csv")
    assert [p.message for p in error.value.problems] == [
        "weight of ('has_car', 'YES') belongs to no predictor category of the model",
        "weight of ('roof_type', 'SENG') belongs to no predictor category of the model",
        "region code '32.04' is not a province code",
        "weights that are not finite numbers: intercept,",
    ]
    assert not (tmp_path / "bad.csv").exists()


_finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(
    intercept=_finite,
    weights=st.lists(_finite, min_size=6, max_size=6),
    mean=_finite,
    regions=st.dictionaries(st.sampled_from(["11.01", "32.04", "91.71"]), _finite),
)
def test_roundtrip_is_exact_for_any_floats(
    tmp_path_factory: pytest.TempPathFactory,
    intercept: float,
    weights: list[float],
    mean: float,
    regions: dict[str, float],
) -> None:
    predictors = (PREDICTORS["head_age"], PREDICTORS["wall_type"], PREDICTORS["has_land"])
    keys = [("head_age", ""), ("head_age", "MISSING"), ("wall_type", "KAYU"), ("wall_type", "TEMBOK"),
            ("wall_type", "MISSING"), ("has_land", "")]  # fmt: skip
    coef = Coefficients(
        intercept,
        predictors,
        dict(zip(keys, weights, strict=True)),
        means={"head_age": mean},
        region_level="regency" if regions else "none",
        regions=regions,
    )
    path = tmp_path_factory.mktemp("rt") / "coef.csv"
    write_coefficients(coef, path)
    assert read_coefficients(path) == coef
