from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candor.importer import reader
from candor.importer.reader import (
    FALSE_WORDS,
    TRUE_WORDS,
    FileFormat,
    ImportFileError,
    InvalidRow,
    detect_format,
    detect_kind,
    parse_bool,
    read_file,
    split_list,
)
from candor.importer.rows import CandidateRow, Kind
from tests.candor.importer.helpers import candidate, write_csv, write_jsonl

HEADER = (
    "external_id,name,mobile,email,locale,consent_contact,consent_talent_pool,"
    "consent_wechat_subscription,preferred_channels\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("candidates.csv", Kind.CANDIDATES),
        ("2026_candidates.jsonl", Kind.CANDIDATES),
        ("Moka-Export.Applications.csv", Kind.APPLICATIONS),
        ("job_applications.csv", Kind.APPLICATIONS),
        ("hr users.csv", Kind.USERS),
        ("teams.jsonl", Kind.TEAMS),
    ],
)
def test_kind_is_inferred_from_a_word_of_the_file_name(name: str, kind: Kind) -> None:
    assert detect_kind(Path(name)) is kind


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("export.csv", "cannot tell what export.csv holds from its name; pass --kind"),
        ("mycandidates.csv", "cannot tell what mycandidates.csv holds"),
        ("jobs_and_candidates.csv", "names several kinds (jobs, candidates); pass --kind"),
    ],
)
def test_unknown_or_ambiguous_file_names_need_kind(name: str, message: str) -> None:
    with pytest.raises(ImportFileError) as raised:
        detect_kind(Path(name))

    assert message in str(raised.value)


def test_kind_option_wins_over_the_file_name_and_must_be_known() -> None:
    assert detect_kind(Path("jobs_and_candidates.csv"), "Candidates") is Kind.CANDIDATES
    with pytest.raises(ImportFileError, match="unknown kind 'people'; choose one of teams, users"):
        detect_kind(Path("candidates.csv"), "people")


def test_format_comes_from_the_extension() -> None:
    assert detect_format(Path("a/candidates.CSV")) is FileFormat.CSV
    assert detect_format(Path("candidates.jsonl")) is FileFormat.JSONL
    with pytest.raises(ImportFileError, match=r"unknown format '\.xlsx'.*\.csv or \.jsonl"):
        detect_format(Path("candidates.xlsx"))


def test_valid_csv_rows_become_models_with_their_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "candidates.csv",
        HEADER
        + "C1,李雷,13800138000,LiLei@example.com,zh-CN,是,否,yes,wechat|email\n"
        + "\n"
        + "C2,Han Meimei,,,en,,,,\n",
    )

    result = read_file(path, Kind.CANDIDATES)

    assert result.invalid == []
    assert result.rows_read == 2
    assert [parsed.line for parsed in result.rows] == [2, 4]
    first, second = (parsed.row for parsed in result.rows)
    assert isinstance(first, CandidateRow)
    assert isinstance(second, CandidateRow)
    assert first.consent_contact is True
    assert first.consent_talent_pool is False
    assert first.consent_wechat_subscription is True
    assert [channel.value for channel in first.preferred_channels] == ["wechat", "email"]
    # Empty cells take the defaults, as if the column were absent.
    assert second.mobile is None
    assert second.consent_contact is True
    assert second.preferred_channels == []


def test_line_numbers_count_physical_lines_of_multi_line_quoted_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "interviews.csv",
        "external_id,application_external_id,kind,summary\n"
        'I1,A1,phone,"first line\nsecond line\nthird line"\n'
        "I2,A1,phone,fine\n"
        'I3,A1,teleport,"two\nlines"\n'
        "I4,A1,phone,ok\n",
    )

    result = read_file(path, Kind.INTERVIEWS)

    assert [parsed.line for parsed in result.rows] == [2, 5, 8]
    assert [str(problem) for problem in result.invalid] == [
        "line 6: kind: Input should be 'ai_video', 'phone' or 'onsite'"
    ]


def test_a_row_with_the_wrong_number_of_fields_is_invalid(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", "external_id,name\nT1,一组\nT2\nT3,三组,extra\nT4,四组\n")

    result = read_file(path, Kind.TEAMS)

    assert [parsed.line for parsed in result.rows] == [2, 5]
    assert result.invalid == [
        InvalidRow(3, "expected 2 fields as in the header, found 1"),
        InvalidRow(4, "expected 2 fields as in the header, found 3"),
    ]


def test_a_stray_quote_is_an_invalid_row_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", 'external_id,name\nT1,"一组"x\nT2,二组\n')

    result = read_file(path, Kind.TEAMS)

    assert [parsed.line for parsed in result.rows] == [3]
    assert result.invalid == [InvalidRow(2, "malformed CSV: ',' expected after '\"'")]


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", "external_id,name,colour,size\nT1,一组,red,3\n")

    with pytest.raises(ImportFileError) as raised:
        read_file(path, Kind.TEAMS)

    assert str(raised.value) == (
        "line 1: unknown columns 'colour', 'size' for teams (columns: external_id, name)"
    )


def test_missing_required_and_repeated_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "jobs.csv", "external_id,title,title\nJ1,a,b\n")

    with pytest.raises(ImportFileError) as raised:
        read_file(path, Kind.JOBS)

    assert "repeated column 'title'" in str(raised.value)
    assert "missing required column 'team_external_id'" in str(raised.value)


def test_bad_booleans_and_field_errors_are_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "candidates.csv",
        HEADER + "C1,,13800138000,not-an-email,fr,maybe,,,\n",
    )

    (problem,) = read_file(path, Kind.CANDIDATES).invalid

    assert problem.line == 2
    assert "consent_contact: expected true/false, 1/0, yes/no or 是/否, got 'maybe'" in (
        problem.reason
    )
    assert "name: Field required" in problem.reason
    assert "email: value is not a valid email address" in problem.reason
    assert "locale: Input should be 'zh-CN' or 'en'" in problem.reason


def test_duplicate_keys_name_the_first_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "users.csv",
        [
            {"email": "wang@example.com", "display_name": "王", "role": "recruiter"},
            {"email": "li@example.com", "display_name": "李", "role": "recruiter"},
            {"email": "WANG@example.com", "display_name": "王二", "role": "admin"},
        ],
    )

    result = read_file(path, Kind.USERS)

    assert [parsed.line for parsed in result.rows] == [2, 3]
    assert result.invalid == [InvalidRow(4, "duplicate email 'wang@example.com' (first on line 2)")]


def test_jsonl_broken_lines_are_invalid_and_the_rest_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "candidates.jsonl",
        '{"external_id": "C1", "name": "李雷", "preferred_channels": ["telegram"]}\n'
        '{"external_id": "C2", "name": \n'
        "\n"
        '["not", "an", "object"]\n'
        '{"external_id": "C3", "name": "韩梅梅", "mobile": null, "colour": "red"}\n'
        '{"external_id": "C4", "name": "Lucy", "preferred_channels": "wechat|email"}\n'
        '{"external_id": "C5", "name": "Lily", "consent_contact": false}\n',
    )

    result = read_file(path, Kind.CANDIDATES)

    assert [parsed.line for parsed in result.rows] == [1, 7]
    assert [str(problem) for problem in result.invalid] == [
        "line 2: invalid JSON: Expecting value at column 31",
        "line 4: expected a JSON object, found list",
        "line 5: colour: Extra inputs are not permitted",
        "line 6: preferred_channels: Input should be a valid list",
    ]
    assert result.rows_read == 6


def test_gbk_needs_the_encoding_option(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", "external_id,name\nT1,招聘一组\n", encoding="gbk")

    with pytest.raises(ImportFileError, match=r"line 2: not valid utf-8-sig .*--encoding gbk"):
        read_file(path, Kind.TEAMS)
    (parsed,) = read_file(path, Kind.TEAMS, encoding="gbk").rows

    assert parsed.row.model_dump() == {"external_id": "T1", "name": "招聘一组"}


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", "\ufeffexternal_id,name\nT1,一组\n")

    assert len(read_file(path, Kind.TEAMS, encoding="utf-8").rows) == 1
    assert len(read_file(path, Kind.TEAMS, encoding="utf-8-sig").rows) == 1


def test_unknown_or_unsupported_encodings_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "teams.csv", "external_id,name\n")

    with pytest.raises(ImportFileError, match="unknown encoding 'klingon'"):
        read_file(path, Kind.TEAMS, encoding="klingon")
    with pytest.raises(ImportFileError, match="'utf-16' is not supported"):
        read_file(path, Kind.TEAMS, encoding="utf-16")


def test_progress_reports_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "_BLOCK_SIZE", 1024)
    path = write_jsonl(tmp_path / "candidates.jsonl", [candidate(n) for n in range(50)])
    reported: list[int] = []

    read_file(path, Kind.CANDIDATES, on_progress=reported.append)

    assert sum(reported) == path.stat().st_size
    assert len(reported) > 1


@given(
    word=st.sampled_from(sorted(TRUE_WORDS | FALSE_WORDS)),
    case=st.sampled_from([str.lower, str.upper, str.title]),
    pad=st.sampled_from(["", " ", "\t"]),
)
def test_booleans_accept_every_spelling_in_any_case(
    word: str, case: Callable[[str], str], pad: str
) -> None:
    assert parse_bool(f"{pad}{case(word)}{pad}") is (word in TRUE_WORDS)


@given(st.text(max_size=10).filter(lambda t: t.strip().lower() not in TRUE_WORDS | FALSE_WORDS))
def test_anything_else_is_not_a_boolean(text: str) -> None:
    with pytest.raises(ValueError, match="expected true/false"):
        parse_bool(text)


ITEM = st.text(st.characters(codec="utf-8", exclude_characters="|"), min_size=1).filter(
    lambda item: item.strip() == item and item != ""
)


@given(st.lists(ITEM, max_size=6))
def test_lists_round_trip_through_the_pipe_separator(items: list[str]) -> None:
    assert split_list("|".join(items)) == items
    assert split_list(" | ".join(items)) == items


SUMMARY = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(summaries=st.lists(SUMMARY, min_size=1, max_size=8))
def test_each_row_is_numbered_by_the_physical_line_it_starts_on(
    tmp_path: Path, summaries: list[str]
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "application_external_id", "kind", "summary"])
    expected = []
    for number, summary in enumerate(summaries):
        expected.append(buffer.getvalue().count("\n") + 1)
        writer.writerow([f"I{number}", "A1", "phone", summary])
    path = tmp_path / "interviews.csv"
    path.write_bytes(buffer.getvalue().encode())

    result = read_file(path, Kind.INTERVIEWS)

    assert result.invalid == []
    assert [parsed.line for parsed in result.rows] == expected


def test_lines_are_counted_across_read_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "_BLOCK_SIZE", 16)
    path = write(
        tmp_path / "interviews.csv",
        "external_id,application_external_id,kind,summary\n"
        + "".join(f'I{n},A1,phone,"第{n}轮\n很长的一段评语，跨过读取块的边界"\n' for n in range(5))
        + "I9,A1,phone,完\n",
    )
    broken = write(tmp_path / "teams.csv", "external_id,name\nT1,一组\nT2,二组\n")
    broken.write_bytes(broken.read_bytes() + "T3,三组\n".encode("gbk"))

    result = read_file(path, Kind.INTERVIEWS)

    assert [parsed.line for parsed in result.rows] == [2, 4, 6, 8, 10, 12]
    with pytest.raises(ImportFileError, match="line 4: not valid utf-8"):
        read_file(broken, Kind.TEAMS)
