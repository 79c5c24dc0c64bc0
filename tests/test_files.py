"""Scoring files: round trips in every format, order kept, scores equal to the card's code, bad input refused."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.config import MAX_FILE_BYTES, MAX_ROWS
from reward.jobs.scoring import ScoringInterrupted, load_for_scoring, score_file, score_table
from reward.tables.columns import suggest_columns
from reward.tables.display import histogram_frame, preview_frame
from reward.tables.formats import FileProblem, rows_text, scored_name
from reward.tables.outputs import check_output_path, save_or_rescue
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.reference import assert_scores_close, card_score

LONG = "The field of AI Ethics delves deeply into ethical considerations. " * 60  # over 512 tokens
ROWS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("What is the capital of France?", "I don't know. Figure it out yourself."),
    ("How do I bake bread?", LONG),
    ("Café naïve 東京 🙂?", "Привет! こんにちは 🚀 — ✓"),
    ("Quotes \"inside\", commas, and\nline breaks", "A cell with\r\na CRLF and a lone \r carriage return"),
    ("NA", "null"),  # must stay text, not become missing values
    ("007", "3.14"),  # must stay text, not become numbers
    ("a", "b"),
    ("Explain photosynthesis to a child.", "Plants use sunlight to turn air and water into food."),
]
FORMATS = ["csv", "tsv", "jsonl", "json", "parquet", "csv.gz", "jsonl.gz"]


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


def card_expected(card_parts, rows):
    """(score, tokens, cut) of each row: the model card's one-pair-at-a-time code, and the full length."""
    tokenizer = card_parts[0]
    return [(*card_score(*card_parts, p, r), len(tokenizer(p, r)["input_ids"]) > 512) for p, r in rows]


@pytest.fixture(scope="module")
def expected(card_parts):
    return card_expected(card_parts, ROWS)


def frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(len(rows))], "prompt": [p for p, _ in rows],
                         "response": [r for _, r in rows]})


def assert_scored_like_card(table: pd.DataFrame, expected, rows=ROWS) -> None:
    assert table["prompt"].tolist() == [p for p, _ in rows], "rows are out of order or text changed"
    assert table["response"].tolist() == [r for _, r in rows], "rows are out of order or text changed"
    assert_scores_close(table["score"].astype(float).to_numpy(), [e[0] for e in expected])
    assert [int(t) for t in table["tokens"]] == [e[1] for e in expected]
    # CSV gives text back ("True"), the other formats booleans.
    assert [str(t) == "True" for t in table["truncated"]] == [e[2] for e in expected]


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", FORMATS)
def test_round_trip_adds_columns_keeps_order_and_matches_the_card(tmp_path, tiny_model, expected, ext):
    source = tmp_path / f"pairs.{ext}"
    write_table(frame(), source)
    destination = tmp_path / scored_name(source)
    result = score_file(tiny_model, source, destination)

    back = read_table(destination)
    assert list(back.columns) == ["id", "prompt", "response", "score", "tokens", "truncated"]
    assert back["id"].tolist() == [f"r{i}" for i in range(len(ROWS))]
    assert_scored_like_card(back, expected)
    assert result.summary.rows == len(ROWS)
    assert result.summary.truncated == 1
    assert result.output == destination
    # The two sides of the same prompt get different scores, or the comparison proves nothing.
    assert abs(result.table["score"][0] - result.table["score"][1]) > 0.01


def test_output_format_follows_the_output_extension(tmp_path, tiny_model, expected):
    source = tmp_path / "pairs.csv"
    write_table(frame(), source)
    score_file(tiny_model, source, tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert_scored_like_card(back, expected)
    assert back["score"].dtype == np.float64 and back["tokens"].dtype == "Int64"


def test_chunks_restore_the_original_order(tiny_model, card_parts):
    # Lengths shuffled so that length-sorting inside score_pairs really reorders each chunk.
    rng = np.random.default_rng(1)
    rows = [(f"Question {i}?", " ".join(["word"] * int(n))) for i, n in enumerate(rng.integers(1, 60, size=23))]
    df = frame(rows)
    seen = []
    summary = score_table(tiny_model, df, progress=lambda done, total: seen.append((done, total)), chunk_rows=5)
    assert_scored_like_card(df, card_expected(card_parts, rows), rows)
    assert summary.rows == 23
    assert seen[-1] == (23, 23)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen), "progress went backwards"


def test_score_table_adds_columns_in_place_without_copying_the_text(tiny_model):
    df = frame()
    prompts = df["prompt"]
    score_table(tiny_model, df)
    assert list(df.columns)[-3:] == ["score", "tokens", "truncated"]
    assert df["prompt"] is prompts or df["prompt"].equals(prompts)


def test_custom_column_names(tmp_path, tiny_model, expected):
    source = tmp_path / "qa.jsonl"
    with open(source, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"question": p, "answer": r}, ensure_ascii=False) + "\n" for p, r in ROWS)
    result = score_file(tiny_model, source, tmp_path / "qa.scored.jsonl", "question", "answer")
    table = result.table.rename(columns={"question": "prompt", "answer": "response"})
    assert_scored_like_card(table, expected)


def test_numbers_in_json_are_scored_as_their_text(tmp_path, tiny_model, card_parts, score_scale):
    source = tmp_path / "numbers.jsonl"
    source.write_text('{"prompt": "What is 6 times 7?", "response": 42}\n', encoding="utf-8")
    result = score_file(tiny_model, source, tmp_path / "out.jsonl")
    assert_scores_close(result.table["score"][0], card_score(*card_parts, "What is 6 times 7?", "42")[0],
                        scale=score_scale)


def test_interrupted_scoring_writes_the_rows_already_scored(tmp_path, tiny_model, expected):
    source = tmp_path / "pairs.csv"
    write_table(frame(), source)
    destination = tmp_path / "partial.csv"

    def stop_in_the_second_chunk(done, total):
        if done > 4:
            raise KeyboardInterrupt

    with pytest.raises(ScoringInterrupted) as info:
        score_file(tiny_model, source, destination, progress=stop_in_the_second_chunk, chunk_rows=4)
    stop = info.value
    assert isinstance(stop.cause, KeyboardInterrupt)
    assert (stop.done, stop.total, stop.output) == (4, len(ROWS), destination)
    assert "4 of 9 rows" in str(stop) and str(destination) in str(stop) and "5-9" in str(stop)
    back = read_table(destination)
    assert len(back) == len(ROWS)
    assert back["prompt"].tolist() == [p for p, _ in ROWS]
    assert (back["score"].iloc[4:] == "").all(), "unscored rows must have empty score cells"
    scored = back["score"].iloc[:4].astype(float).to_numpy()
    assert_scores_close(scored, [e[0] for e in expected[:4]], scale=[e[0] for e in expected])


def test_a_failed_write_saves_a_rescue_copy(tmp_path, tiny_model):
    # A JSON column holding both numbers and text cannot be stored in Parquet.
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"prompt": "p", "response": "r", "id": 1}\n{"prompt": "q", "response": "s", "id": "x"}\n',
                      encoding="utf-8")
    with pytest.raises(FileProblem) as info:
        score_file(tiny_model, source, tmp_path / "out.parquet")
    rescue = tmp_path / "out.parquet.rescue.jsonl"
    assert str(rescue) in str(info.value)
    back = read_table(rescue)
    assert back["score"].notna().all() and back["id"].tolist() == [1, "x"]


def test_save_or_rescue_writes_normally_when_it_can(tmp_path):
    assert save_or_rescue(frame(), tmp_path / "ok.csv") == tmp_path / "ok.csv"
    assert not list(tmp_path.glob("*.rescue.jsonl"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=30), min_size=1, max_size=5),
       st.sampled_from(FORMATS))
def test_any_text_survives_a_write_and_read(tmp_path_factory, texts, ext):
    df = pd.DataFrame({"prompt": texts, "response": texts[::-1]})
    path = tmp_path_factory.mktemp("rt") / f"t.{ext}"
    write_table(df, path)
    back = read_table(path)
    assert back["prompt"].tolist() == texts and back["response"].tolist() == texts[::-1]


# -- bad input: refused before scoring, with a message that says where and what to change ---------


def refused(tmp_path, name, content, *args, **kwargs) -> str:
    """Write ``content`` to ``name``, check that loading it is refused, and return the message."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(FileProblem) as info:
        load_for_scoring(path, *args, **kwargs)
    message = str(info.value)
    assert name in message, f"the message does not name the file: {message}"
    return message


def test_missing_column_lists_the_columns_and_how_to_pick(tmp_path):
    message = refused(tmp_path, "qa.csv", "question,answer\nq,a\n")
    assert "'prompt'" in message and "'response'" in message
    assert "'question', 'answer'" in message
    assert "--prompt-column" in message and "--response-column" in message and "picker" in message


def test_missing_column_suggests_a_close_name(tmp_path):
    message = refused(tmp_path, "p.csv", "Prompt,response\nq,a\n")
    assert "did you mean 'Prompt'" in message


def test_semicolon_separated_csv_is_explained(tmp_path):
    message = refused(tmp_path, "excel.csv", "prompt;response\nq;a\n")
    assert "';'" in message


def test_non_utf8_names_the_byte_offset_and_line(tmp_path):
    before = b"prompt,response\nhello,world\ncaf"
    message = refused(tmp_path, "latin1.csv", before + b"\xe9,ok\n")
    assert "not UTF-8" in message and "0xE9" in message
    assert f"byte offset {len(before)} " in message  # counted from 0, as tools like `xxd` show it
    assert "line 3" in message and "UTF-8" in message


def test_non_utf8_after_a_bom_counts_from_the_first_byte(tmp_path):
    message = refused(tmp_path, "bom.csv", b"\xef\xbb\xbfprompt,response\nq\xff,a\n")
    assert "byte 0xFF at byte offset 20 (line 2, column 2)" in message


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt,response\nq,a\n")
    assert list(load_for_scoring(path).columns) == ["prompt", "response"]


@pytest.mark.parametrize("name, content, says", [
    ("really.csv", b"PAR1\x00\x00binary", "Parquet"),
    ("really.csv", b'{"prompt": "q", "response": "a"}\n', ".jsonl"),
    ("sheet.csv", b"PK\x03\x04\x14\x00\x06\x00", "Excel"),
    ("utf16.csv", "prompt,response\nq,a\n".encode("utf-16"), "UTF-16"),
    ("utf16le.csv", "prompt,response\nq,a\n".encode("utf-16-le"), "UTF-16"),
    ("zipped.csv", gzip.compress(b"prompt,response\nq,a\n"), ".gz"),
    ("plain.csv.gz", b"prompt,response\nq,a\n", "not a gzip file"),
    ("text.parquet", b"prompt,response\nq,a\n", "not a Parquet file"),
    ("table.jsonl", b"prompt,response\nq,a\n", "not valid JSON"),
    ("table.jsonl", b'{"prompt": "q", "response": "a"}\n{"prompt": "q", "response": }\n', "line 2"),
    ("table.jsonl", b'{"prompt": "q", "response": "a"}\n["q", "a"]\n', "line 2 is a JSON list"),
    ("table.json", b'{"prompt": "q"}', "not an array"),
    ("table.txt", b"prompt,response\nq,a\n", ".csv, .tsv, .jsonl"),
    ("bad.csv", b'prompt,response\nq,a\nx,y,z\n', "Expected 2 fields in line 3"),
    ("empty.csv", b"", "empty"),
    ("header.csv", b"prompt,response\n", "no data rows"),
    ("blank.csv", b"\n\n", "no header row"),
])
def test_files_that_are_not_what_they_claim(tmp_path, name, content, says):
    message = refused(tmp_path, name, content)
    assert says in message, message


@pytest.mark.parametrize("name, content, rows, column", [
    ("gaps.json", '[{"prompt": "q", "response": "a"}, {"prompt": "q", "response": null}, {"prompt": "q"}]',
     "rows 2 and 3", "response"),
    ("short.csv", "prompt,response\nq,a\nq\nq,\n", "row 2", "response"),  # row 3's "" is an empty text
    ("gaps.jsonl", '{"prompt": "q", "response": "a"}\n{"prompt": null, "response": "a"}\n', "row 2", "prompt"),
    ("gaps.jsonl", '{"prompt": "q", "response": "a"}\n{"prompt": "q"}\n{"prompt": "q"}\n', "rows 2 and 3",
     "response"),
])
def test_empty_cells_are_named_by_row_and_column(tmp_path, name, content, rows, column):
    message = refused(tmp_path, name, content)
    assert rows in message and f"column {column!r}" in message and "nothing was scored" in message


def test_empty_texts_are_scored_as_the_card_scores_them_and_counted(tmp_path, tiny_model, card_parts, score_scale):
    # A CSV cell is text exactly as written: an empty cell is the empty string, not a missing value.
    rows = [("q", ""), ("q", "   "), ("", "an answer"), ("", ""), ("q", "a")]
    source = tmp_path / "gaps.csv"
    source.write_text("prompt,response\n" + "".join(f'"{p}","{r}"\n' for p, r in rows), encoding="utf-8")
    result = score_file(tiny_model, source, tmp_path / "out.jsonl")
    assert result.summary.empty == 3
    card = [card_score(*card_parts, p, r) for p, r in rows]
    assert_scores_close(result.table["score"].tolist(), [c[0] for c in card], scale=score_scale)
    assert result.table["tokens"].tolist() == [c[1] for c in card]


def test_cells_that_are_not_text_are_refused(tmp_path):
    message = refused(tmp_path, "lists.jsonl", '{"prompt": "q", "response": ["a", "b"]}\n')
    assert "row 1" in message and "'response'" in message and "not text" in message


def test_over_the_row_limit_says_the_limit(tmp_path):
    message = refused(tmp_path, "many.csv", "prompt,response\n" + "q,a\n" * 11, max_rows=10)
    assert "more than 10 rows" in message
    message = refused(tmp_path, "many.jsonl", '{"prompt": "q", "response": "a"}\n' * 11, max_rows=10)
    assert "more than 10 rows" in message


def test_over_the_size_limit_says_the_limit(tmp_path):
    message = refused(tmp_path, "big.csv", "prompt,response\n" + "q,a\n" * 100, max_bytes=100)
    assert "the limit is 100 bytes" in message
    # Compressed files are measured by what they hold, so a small .gz cannot unpack to gigabytes.
    message = refused(tmp_path, "bomb.jsonl.gz", gzip.compress(b'{"prompt": "q", "response": "a"}\n' * 50),
                      max_bytes=1000)
    assert "decompressed" in message


def test_parquet_limits_are_checked_before_loading(tmp_path):
    path = tmp_path / "many.parquet"
    write_table(pd.DataFrame({"prompt": ["q"] * 20, "response": ["a"] * 20}), path)
    with pytest.raises(FileProblem, match="more than 10 rows"):
        read_table(path, max_rows=10)
    # Parquet compresses: the limit applies to the data it holds, not only to the file's size.
    packed = tmp_path / "packed.parquet"
    write_table(pd.DataFrame({"prompt": ["x" * 300 + str(i) for i in range(2000)], "response": ["a"] * 2000}),
                packed)
    assert packed.stat().st_size < 100_000
    with pytest.raises(FileProblem, match="of data uncompressed"):
        read_table(packed, max_bytes=100_000)


def test_existing_score_columns_are_not_overwritten(tmp_path):
    message = refused(tmp_path, "scored.csv", "prompt,response,score\nq,a,1\n")
    assert "'score'" in message and "Rename" in message


def test_limits_are_documented_constants():
    assert MAX_FILE_BYTES == 100 * 1024 * 1024 and MAX_ROWS == 100_000


def test_output_path_problems_are_found_before_scoring(tmp_path):
    source = tmp_path / "in.csv"
    write_table(frame(), source)
    with pytest.raises(FileProblem, match="is the input file"):
        check_output_path(source, source)
    with pytest.raises(FileProblem, match="does not exist"):
        check_output_path(tmp_path / "no" / "such" / "out.csv", source)
    with pytest.raises(FileProblem, match="does not say which format"):
        check_output_path(tmp_path / "out.xlsx", source)


# -- helpers for the page ------------------------------------------------------------------------


def test_rows_text():
    assert rows_text([3]) == "row 3"
    assert rows_text([3, 9, 12]) == "rows 3, 9 and 12"
    assert rows_text(list(range(1, 21))) == "rows 1, 2, 3, 4, 5, 6, 7, 8 and 12 more"
    assert rows_text([1234, 5678]) == "rows 1,234 and 5,678"


def test_scored_name_keeps_the_format():
    assert scored_name("/x/pairs.csv") == "pairs.scored.csv"
    assert scored_name("pairs.jsonl.gz") == "pairs.scored.jsonl.gz"


def test_histogram_counts_every_value_once():
    values = [-2.0, -1.0, 0.0, 0.5, 3.0, float("nan")]
    hist = histogram_frame(values, bins=4)
    assert hist["count"].sum() == 5
    assert hist["bin"].is_unique
    assert hist["start"].iloc[0] == -2.0 and hist["end"].iloc[-1] == 3.0
    assert histogram_frame([1.0, 1.0], bins=3)["count"].sum() == 2
    assert histogram_frame([], bins=3).empty


def test_preview_cuts_long_text():
    preview = preview_frame(frame(), rows=3, width=20)
    assert len(preview) == 3
    assert all(len(t) <= 20 for t in preview["response"])


def test_suggest_columns_for_the_pickers():
    assert suggest_columns(["id", "prompt", "response"]) == ("prompt", "response")
    assert suggest_columns(["Question", "Answer", "id"]) == ("Question", "Answer")
    assert suggest_columns(["instruction", "input", "output"]) == ("instruction", "output")
    assert suggest_columns(["a", "b"]) == (None, None)


@pytest.mark.parametrize("source, scored, evaluated", [
    ("pairs.csv", "pairs.scored.csv", "pairs.evaluated.csv"),
    ("my.scored.csv", "my.scored.scored.csv", "my.scored.evaluated.csv"),
    ("hh.jsonl.gz", "hh.scored.jsonl.gz", "hh.evaluated.jsonl.gz"),
])
def test_derived_names_keep_the_format_and_the_whole_stem(source, scored, evaluated):
    from reward.tables.formats import evaluated_name

    assert (scored_name(source), evaluated_name(source)) == (scored, evaluated)
