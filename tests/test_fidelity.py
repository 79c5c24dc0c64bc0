"""Data passes through exactly: nesting, surrogates, float and integer precision, nested values, repeated names,
file modes, empty texts and spreadsheet formulas; through ``reward.cli.main`` where it reaches, and unit by unit."""

import gzip
import json
import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reward.cli import EXIT_BAD_INPUT, EXIT_OK, main
from reward.tables.columns import check_text_columns
from reward.tables.formats import FileProblem, has_lone_surrogate, nesting_depth
from reward.tables.reading import read_table
from reward.tables.writing import json_text, write_table

DEEP = 100_000
WRITE_DEEP = 20_000  # far past any recursion limit, and quick to write
PROPERTY = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


def deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def lines_of(path) -> list:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    if str(path).endswith((".json", ".json.gz")):
        return json.loads(text)
    return [json.loads(line) for line in text.split("\n") if line]  # "\n" only: text may hold "\x85"


def score(capsys, *args) -> tuple[int, str, str]:
    code = main(["score", *map(str, args), "-q"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused_by_cli(capsys, tmp_path, name: str, content: str | bytes) -> str:
    """Run ``python -m reward score`` on ``content``; it must refuse with exit 2, one line, and write nothing."""
    source = tmp_path / name
    source.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    out = tmp_path / "out.jsonl"
    code, stdout, err = score(capsys, source, "-o", out, "--model", tmp_path / "no-model-needed")
    assert code == EXIT_BAD_INPUT, err
    assert err.startswith(f"error: {name}") and err.count("\n") == 1 and "Traceback" not in err, err
    assert stdout == "" and not out.exists()
    return err


# -- 1. nesting deeper than Python's JSON reader goes --------------------------------------------------------------


@pytest.mark.parametrize("ext", ["jsonl", "json"])
@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_deep_nesting_is_refused_with_the_line(capsys, tmp_path, ext, opening, closing):
    deep = opening * DEEP + ("1" if opening != "[" else "") + closing * DEEP
    rows = ['{"prompt": "q", "response": "a"}', '{"prompt": "q", "response": "a", "meta": ' + deep + "}"]
    content = "\n".join(rows) + "\n" if ext == "jsonl" else "[" + ",\n".join(rows) + "]\n"
    err = refused_by_cli(capsys, tmp_path, f"deep.{ext}", content)
    assert "line 2" in err and "nested too deep" in err and "100,00" in err  # how deep it goes, with the record
    assert "Flatten that value" in err


def test_nesting_python_reads_is_still_read(tmp_path):
    source = tmp_path / "nested.jsonl"
    source.write_text('{"a": ' + "[" * 300 + "]" * 300 + ', "b": ' + '{"x":' * 300 + "1" + "}" * 300 + "}\n")
    df = read_table(source)
    assert nesting_depth(df["a"][0], 1000) == 300 and nesting_depth(df["b"][0], 1000) == 300


@pytest.mark.parametrize("ext", ["jsonl", "json.gz", "csv", "tsv"])
def test_writing_any_depth_never_exhausts_recursion(tmp_path, ext):
    df = pd.DataFrame({"id": [1, 2], "deep": pd.Series([deep_list(WRITE_DEEP), {"a": [1]}], dtype=object)})
    path = write_table(df, tmp_path / f"deep.{ext}")
    opener = gzip.open if ext.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        assert "[" * WRITE_DEEP + "]" * WRITE_DEEP in f.read()
    if ext.startswith("json"):
        with pytest.raises(FileProblem, match="nested too deep"):  # written, and refused the same way when read
            read_table(path)


def test_parquet_refuses_nesting_its_readers_refuse(tmp_path):
    df = pd.DataFrame({"deep": pd.Series([deep_list(DEEP)], dtype=object)})
    with pytest.raises(FileProblem, match="nested more than 48 levels"):
        write_table(df, tmp_path / "deep.parquet")
    assert not list(tmp_path.iterdir()), "a refused write leaves no file"
    write_table(pd.DataFrame({"ok": pd.Series([deep_list(40)], dtype=object)}), tmp_path / "ok.parquet")
    assert nesting_depth(read_table(tmp_path / "ok.parquet")["ok"][0], 100) == 40


def test_json_text_by_hand_matches_json_dumps():
    value = {"a": [1, 2.5, -0.0, None, True, "é\n\u2028"], "b": {"1": [], "c": {}}, "": (1, 2)}
    for compact in (False, True):
        separators = (",", ":") if compact else (", ", ": ")
        expected = json.dumps(value, ensure_ascii=False, separators=separators)
        assert json_text(value, compact=compact) == expected
        # NaN sends it down the path made by hand, which must write what json.dumps writes
        by_hand = json_text([value, [[float("nan")]]], compact=compact)
        assert by_hand == json.dumps([value, [[None]]], ensure_ascii=False, separators=separators)
    assert json_text([float("nan"), float("inf"), {"x": float("-inf")}]) == '[null, null, {"x": null}]'
    assert json_text(deep_list(5)) == "[[[[[]]]]]"


# -- 2. lone UTF-16 surrogates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, says", [
    ("s.jsonl", '{"prompt": "q", "response": "a"}\n\n{"prompt": "q", "response": "a\\ud800b"}\n', "row 2 (line 3)"),
    ("s.jsonl", '{"prompt": "q", "response": "a", "note": ["ok", "\\uDFFF"]}\n', "column 'note'"),
    ("s.json", '[{"prompt": "q", "response": "a"}, {"prompt": "q", "response": "a", "x\\udc00": 1}]', "row 2"),
    ("s.json", '{"prompt": "q", "response": "\\ud83d"}\n{"prompt": "q", "response": "a"}\n', "row 1 (line 1)"),
])
def test_lone_surrogates_are_refused_naming_row_and_column(capsys, tmp_path, name, content, says):
    err = refused_by_cli(capsys, tmp_path, name, content)
    assert says in err and "surrogate" in err and "column '" in err, err


def test_surrogate_pairs_are_characters(tmp_path):
    source = tmp_path / "pair.jsonl"
    source.write_text('{"prompt": "\\ud83d\\ude00", "response": "\\\\ud800 is only text here"}\n')
    df = read_table(source)
    assert df["prompt"][0] == "\U0001F600" and df["response"][0] == "\\ud800 is only text here"


def test_parquet_text_that_is_not_utf8_is_refused_with_the_rows(tmp_path):
    text = pa.array([b"fine", b"a\xed\xa0\x80b", b"\xff"], type=pa.binary()).view(pa.string())
    pq.write_table(pa.table({"prompt": ["q", "q", "q"], "response": text}), tmp_path / "bad.parquet")
    with pytest.raises(FileProblem) as info:
        read_table(tmp_path / "bad.parquet")
    assert "column 'response'" in str(info.value) and "rows 2 and 3" in str(info.value)


@given(st.text(max_size=8), st.integers(0, 8), st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]))
@PROPERTY
def test_any_lone_surrogate_anywhere_is_refused(tmp_path_factory, text, at, surrogate):
    bad = text[:at] + surrogate + text[at:]
    path = tmp_path_factory.mktemp("s") / "s.jsonl"
    for record in ({"prompt": bad}, {"p": [{"k": bad}]}, {bad: 1}):
        path.write_text(json.dumps(record) + "\n", encoding="ascii")  # ascii: the surrogate as a \\u escape
        with pytest.raises(FileProblem, match="surrogate"):
            read_table(path)
    assert has_lone_surrogate({"a": [bad]})


# -- 3 and 4. floats to the last bit, whole numbers stay whole ----------------------------------------------------


TYPED = [
    {"id": 9007199254740993, "f": 0.12345678901234567, "b": True, "big": 2**64 - 1, "huge": 10**30, "mix": 1},
    {"id": None, "f": None, "b": None, "big": None, "huge": None, "mix": 1.0},
    {"id": -(2**63), "f": 1e-300, "b": False, "big": 0, "huge": -1, "mix": "x"},
]


@pytest.mark.parametrize("ext", ["jsonl", "json", "jsonl.gz"])
def test_json_values_round_trip_exactly(tmp_path, ext):
    source = tmp_path / "typed.jsonl"
    jsonl(source, TYPED)
    df = read_table(source)
    assert df["id"].dtype == "Int64" and df["big"].dtype == "UInt64" and df["b"].dtype == "boolean"
    assert df["id"][0] == 9007199254740993 and df["f"][0] == 0.12345678901234567
    write_table(df, tmp_path / f"out.{ext}")
    got = lines_of(tmp_path / f"out.{ext}")
    assert json.dumps(got) == json.dumps(TYPED)  # 1 and 1.0 differ in this text
    assert write_table(read_table(tmp_path / f"out.{ext}"), tmp_path / f"again.{ext}")
    assert lines_of(tmp_path / f"again.{ext}") == got


@pytest.mark.parametrize("ext", ["csv", "tsv"])
def test_csv_keeps_whole_numbers_and_full_floats(tmp_path, ext):
    source = tmp_path / "typed.jsonl"
    jsonl(source, TYPED)
    write_table(read_table(source), tmp_path / f"out.{ext}")
    back = read_table(tmp_path / f"out.{ext}")
    assert back["id"].tolist() == ["9007199254740993", "", str(-(2**63))]
    assert back["huge"].tolist() == [str(10**30), "", "-1"]
    assert float(back["f"][0]) == 0.12345678901234567 and back["f"][1] == ""
    assert back["mix"].tolist() == ["1", "1.0", "x"] and back["b"].tolist() == ["True", "", "False"]


def test_parquet_keeps_whole_numbers_with_gaps(tmp_path):
    # Written by another tool: no pandas metadata, an int64 column with a null.
    pq.write_table(pa.table({"id": pa.array([9007199254740993, None], type=pa.int64()),
                             "ok": pa.array([True, None]), "n": pa.array([1, 2], type=pa.int32())}),
                   tmp_path / "gaps.parquet")
    df = read_table(tmp_path / "gaps.parquet")
    assert df["id"].dtype == "Int64" and df["id"][0] == 9007199254740993 and df["id"].isna()[1]
    assert df["ok"].dtype == "boolean" and df["n"].dtype == np.int32
    write_table(df, tmp_path / "out.jsonl")
    assert lines_of(tmp_path / "out.jsonl") == [{"id": 9007199254740993, "ok": True, "n": 1},
                                                {"id": None, "ok": None, "n": 2}]
    write_table(df, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines() == ["id,ok,n", "9007199254740993,True,1", ",,2"]


def test_parquet_named_index_is_kept_as_a_column(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}).set_index("id").to_parquet(tmp_path / "indexed.parquet")
    df = read_table(tmp_path / "indexed.parquet")
    assert list(df.columns) == ["id", "x"] and df["id"].tolist() == ["a", "b"]


def test_float32_is_written_as_its_shortest_text(tmp_path):
    df = pd.DataFrame({"f": np.array([0.1, np.nan], dtype=np.float32)})
    write_table(df, tmp_path / "f.jsonl")
    assert (tmp_path / "f.jsonl").read_text() == '{"f":0.1}\n{"f":null}\n'


def test_scores_keep_every_digit_through_the_command_line(capsys, tmp_path, tiny_model_dir, tiny_model):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"prompt": "What is 2+2?", "response": "4", "id": 9007199254740993, "w": 0.12345678901234567},
            {"prompt": "Hi", "response": "", "id": None, "w": 1e-300}]
    jsonl(source, rows)
    code, _, err = score(capsys, source, "-o", out, "--model", tiny_model_dir, "--device", "cpu")
    assert code == EXIT_OK, err
    got = lines_of(out)
    assert [{k: g[k] for k in ("prompt", "response", "id", "w")} for g in got] == rows
    expected = tiny_model.score_pairs([r["prompt"] for r in rows], [r["response"] for r in rows])
    assert [g["score"] for g in got] == [float(np.float64(e.score)) for e in expected]  # exactly, every digit
    assert [g["tokens"] for g in got] == [e.tokens for e in expected]


# -- 5. nested values ---------------------------------------------------------------------------------------------


NESTED = [
    {"prompt": "q", "meta": {"tags": ["a", "b"], "n": 1}, "ids": [1, 2, 3],
     "chat": [{"role": "user", "content": "é"}]},
    {"prompt": "r", "meta": {"tags": [], "n": 2}, "ids": [], "chat": [{"role": "assistant", "content": "x"}]},
]


def test_nested_values_round_trip_through_parquet(tmp_path):
    jsonl(tmp_path / "in.jsonl", NESTED)
    write_table(read_table(tmp_path / "in.jsonl"), tmp_path / "mid.parquet")
    write_table(read_table(tmp_path / "mid.parquet"), tmp_path / "out.jsonl")
    assert lines_of(tmp_path / "out.jsonl") == NESTED
    write_table(read_table(tmp_path / "mid.parquet"), tmp_path / "out.json")
    assert lines_of(tmp_path / "out.json") == NESTED


@pytest.mark.parametrize("via", ["jsonl", "parquet"])
def test_nested_values_are_json_text_in_csv_cells(capsys, tmp_path, tiny_model_dir, via):
    source = tmp_path / "in.jsonl"
    jsonl(source, [{**r, "response": "a"} for r in NESTED])
    if via == "parquet":
        write_table(read_table(source), tmp_path / "in.parquet")
        source = tmp_path / "in.parquet"
    out = tmp_path / "out.csv"
    code, _, err = score(capsys, source, "-o", out, "--model", tiny_model_dir, "--device", "cpu")
    assert code == EXIT_OK, err
    back = read_table(out)
    for column in ("meta", "ids", "chat"):
        assert back[column].tolist() == [json.dumps(r[column], ensure_ascii=False) for r in NESTED]
    text = out.read_text(encoding="utf-8")
    assert "array(" not in text and "{'" not in text and "np." not in text


# -- 6. repeated names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, says", [
    ("dup.csv", "prompt,response,prompt\nq,a,z\n", "header row has the column 'prompt' more than once"),
    ("dup.tsv", "a\tprompt\tresponse\ta\tb\tb\nx\tq\tr\ty\tz\tw\n", "the columns 'a', 'b' more than once"),
    ("dup.jsonl", '{"prompt": "q", "response": "a"}\n{"prompt": "q", "response": "a", "response": "b"}\n',
     "row 2 (line 2) has the column 'response' more than once"),
    ("dup.json", '[{"prompt": "q", "response": "a", "m": {"k": 1, "k": 2}}]', "row 1, column 'm'"),
])
def test_repeated_names_are_refused(capsys, tmp_path, name, content, says):
    assert says in refused_by_cli(capsys, tmp_path, name, content)


def test_repeated_parquet_columns_are_refused(tmp_path):
    pq.write_table(pa.table([pa.array(["q"]), pa.array(["a"]), pa.array(["b"])],
                            names=["prompt", "response", "response"]), tmp_path / "dup.parquet")
    with pytest.raises(FileProblem, match="the column 'response' more than once"):
        read_table(tmp_path / "dup.parquet")


def test_a_table_with_repeated_columns_is_not_written(tmp_path):
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    for ext in ("csv", "jsonl", "parquet"):
        with pytest.raises(FileProblem, match="the column 'a' more than once"):
            write_table(df, tmp_path / f"dup.{ext}")
    assert not list(tmp_path.iterdir())


def test_csv_header_names_are_kept_as_written(tmp_path):
    (tmp_path / "h.csv").write_text(',prompt,"a,b",a.1\n0,q,x,y\n', encoding="utf-8")
    df = read_table(tmp_path / "h.csv")
    assert list(df.columns) == ["", "prompt", "a,b", "a.1"]
    write_table(df, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == ',prompt,"a,b",a.1'


def test_rows_longer_than_the_header_are_refused_not_cut(tmp_path):
    (tmp_path / "wide.csv").write_text("prompt,response\nid1,q,a\nid2,q,a\n", encoding="utf-8")
    with pytest.raises(FileProblem, match="more cells than its header row has names"):
        read_table(tmp_path / "wide.csv")


# -- 7. file modes ------------------------------------------------------------------------------------------------


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("ext", ["csv", "jsonl.gz", "parquet"])
def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path, umask, ext):
    df = pd.DataFrame({"a": ["x"]})
    for mask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        umask(mask)
        path = tmp_path / f"new{mask}.{ext}"
        write_table(df, path)
        assert stat.S_IMODE(path.stat().st_mode) == mode
    umask(0o077)
    path = tmp_path / f"kept.{ext}"
    path.write_bytes(b"old")
    path.chmod(0o640)
    write_table(df, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert read_table(path)["a"].tolist() == ["x"]


def test_the_command_line_keeps_the_mode_of_an_output_it_replaces(capsys, tmp_path, tiny_model_dir, umask):
    umask(0o077)
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("prompt,response\nq,a\n")
    out.write_text("old")
    out.chmod(0o644)
    code, _, err = score(capsys, source, "-o", out, "--model", tiny_model_dir, "--device", "cpu")
    assert code == EXIT_OK, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and "score" in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file left"


# -- 8. empty texts are text; missing cells are not -------------------------------------------------------------------


def test_empty_and_blank_texts_are_accepted_missing_cells_refused():
    df = pd.DataFrame({"prompt": ["q", "", "  ", "\n"], "response": pd.Series(["", "\t", 7, b"ok"], dtype=object)})
    check_text_columns(df, {"prompt": "prompt", "response": "response"}, "t.jsonl")
    assert df["response"].tolist() == ["", "\t", "7", "ok"]
    for missing in (None, float("nan"), pd.NA):
        df = pd.DataFrame({"prompt": ["q", "q"], "response": pd.Series(["", missing], dtype=object)})
        with pytest.raises(FileProblem) as info:
            check_text_columns(df, {"prompt": "prompt", "response": "response"}, "t.jsonl")
        message = str(info.value)
        assert "column 'response' has no value" in message and "row 2" in message and "row 1" not in message
        assert "nothing was scored" in message
    df = pd.DataFrame({"prompt": ["q"], "response": pd.Series([{"a": 1}], dtype=object)})
    with pytest.raises(FileProblem, match="holds a dict, not text, in row 1"):
        check_text_columns(df, {"prompt": "prompt", "response": "response"}, "t.jsonl")


def test_absent_json_keys_are_missing_through_the_command_line(capsys, tmp_path):
    err = refused_by_cli(capsys, tmp_path, "gaps.jsonl",
                         '{"prompt": "q", "response": ""}\n{"prompt": "q"}\n{"prompt": null, "response": " "}\n')
    assert "column 'prompt' has no value" in err and "row 3" in err
    err = refused_by_cli(capsys, tmp_path, "gaps.jsonl", '{"prompt": "q", "response": ""}\n{"prompt": "q"}\n')
    assert "column 'response' has no value" in err and "row 2" in err


# -- 9. spreadsheet formulas -------------------------------------------------------------------------------------------


RISKY = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "", "a=b"]


@pytest.mark.parametrize("ext", ["csv", "tsv", "csv.gz"])
def test_formulas_are_neutralized_only_when_asked(tmp_path, ext):
    df = pd.DataFrame({"=h": RISKY, "o": pd.Series(RISKY[:-1] + [["=x"]], dtype=object), "n": range(-4, 5)})
    write_table(df, tmp_path / f"plain.{ext}")
    back = read_table(tmp_path / f"plain.{ext}")
    assert list(back.columns) == ["=h", "o", "n"] and back["=h"].tolist() == RISKY
    write_table(df, tmp_path / f"safe.{ext}", neutralize_formulas=True)
    back = read_table(tmp_path / f"safe.{ext}")
    expected = ["'" + t if t[:1] in ("=", "+", "-", "@", "\t", "\r") else t for t in RISKY]
    assert list(back.columns) == ["'=h", "o", "n"] and back["'=h"].tolist() == expected
    assert back["o"].tolist() == expected[:-1] + ['["=x"]']
    assert back["n"].tolist() == [str(n) for n in range(-4, 5)], "numbers are not text: left alone"


def test_formula_option_leaves_json_alone(tmp_path):
    write_table(pd.DataFrame({"a": ["=1"]}), tmp_path / "x.jsonl", neutralize_formulas=True)
    assert lines_of(tmp_path / "x.jsonl") == [{"a": "=1"}]


# -- a property: whatever JSON holds comes back as it was ------------------------------------------------------------


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(st.characters(exclude_categories=("Cs",)),
                                                                               max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                      max_leaves=8)
RECORDS = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "é", ""]), VALUES, max_size=4), min_size=1,
                   max_size=5)


@given(RECORDS, st.sampled_from(["jsonl", "json", "jsonl.gz"]))
@PROPERTY
def test_json_records_come_back_exactly(tmp_path_factory, records, ext):
    folder = tmp_path_factory.mktemp("rt")
    jsonl(folder / "in.jsonl", records)
    write_table(read_table(folder / "in.jsonl"), folder / f"out.{ext}")
    keys = list(dict.fromkeys(k for r in records for k in r))
    expected = [{k: r.get(k) for k in keys} for r in records]  # an absent key is written as null
    assert json.dumps(lines_of(folder / f"out.{ext}")) == json.dumps(expected)


TYPED_COLUMNS = st.sampled_from([
    st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)), max_size=5)),
    st.one_of(st.none(), st.lists(st.integers(-5, 5), max_size=3)),
])


@given(st.data(), st.integers(1, 4))
@PROPERTY
def test_typed_columns_come_back_exactly_through_parquet(tmp_path_factory, data, rows):
    columns = {name: data.draw(st.lists(data.draw(TYPED_COLUMNS), min_size=rows, max_size=rows))
               for name in ("a", "b", "c")}
    records = [{name: columns[name][i] for name in columns} for i in range(rows)]
    folder = tmp_path_factory.mktemp("pq")
    jsonl(folder / "in.jsonl", records)
    write_table(read_table(folder / "in.jsonl"), folder / "mid.parquet")
    write_table(read_table(folder / "mid.parquet"), folder / "out.jsonl")
    got = lines_of(folder / "out.jsonl")
    assert json.dumps(got) == json.dumps(records)  # the text tells 1 from 1.0 and keeps every digit


def test_whole_numbers_inside_parquet_lists_and_structs_stay_whole(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = 9007199254740993  # 2**53 + 1: a float cannot hold it
    source = tmp_path / "nested.parquet"
    pq.write_table(pa.table({
        "prompt": ["p", "q"], "response": ["r", "s"],
        "l": pa.array([[big, None], None], type=pa.list_(pa.int64())),
        "st": pa.array([{"k": big}, {"k": None}], type=pa.struct([("k", pa.int64())]))}), source)
    df = read_table(source)
    assert df["l"].tolist() == [[big, None], None] and df["st"].tolist() == [{"k": big}, {"k": None}]
    for ext in ("parquet", "jsonl", "csv"):
        out = tmp_path / f"out.{ext}"
        write_table(df, out)
        if ext == "parquet":
            back = pq.read_table(out)
            assert back.column("l").to_pylist() == [[big, None], None]
            assert back.column("st").to_pylist() == [{"k": big}, {"k": None}]
        else:
            assert str(big) in out.read_text() and f"{big}.0" not in out.read_text()
