"""Reading an import file into validated rows, without touching the database.

Line numbers are physical lines of the file, counted from 1, where a row starts: that is what
an editor shows, so a quoted CSV field spanning three lines moves the next row down by three.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Generic, Literal, NamedTuple, TypeVar

from pydantic import ValidationError

from candor.ats.schemas import StrictModel
from candor.importer.rows import SPECS, Kind, KindSpec

RowT = TypeVar("RowT", bound=StrictModel)

TRUE_WORDS = frozenset({"true", "1", "yes", "是"})
FALSE_WORDS = frozenset({"false", "0", "no", "否"})
LIST_SEPARATOR = "|"
# Small enough for a smooth progress bar, large enough that decoding costs nothing per line.
_BLOCK_SIZE = 64 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be imported: unknown kind or format, bad header, bad encoding."""


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


# Named tuples rather than frozen dataclasses: an import makes one per row, and a frozen
# dataclass takes five times as long to build.
class Parsed(NamedTuple, Generic[RowT]):
    line: int
    row: RowT


@dataclass(frozen=True, slots=True, order=True)
class InvalidRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ReadResult:
    kind: Kind
    format: FileFormat
    rows: list[Parsed[StrictModel]] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    rows_read: int = 0


class _Record(NamedTuple):
    line: int
    values: dict[str, Any]
    errors: dict[str, str]


def detect_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower().lstrip(".")
    try:
        return FileFormat(suffix)
    except ValueError:
        raise ImportFileError(
            f"{path.name}: unknown format {path.suffix or '(no extension)'!r}; "
            "the file name must end in .csv or .jsonl"
        ) from None


def detect_kind(path: Path, kind: str | None = None) -> Kind:
    """`kind` if given, otherwise the one kind named by a word of the file name's stem.

    Words rather than substrings, so `job_applications.csv` is applications and not jobs too.
    """
    choices = ", ".join(Kind)
    if kind is not None:
        try:
            return Kind(kind.strip().lower())
        except ValueError:
            raise ImportFileError(f"unknown kind {kind!r}; choose one of {choices}") from None
    words = set(re.split(r"[^0-9a-z]+", path.stem.lower()))
    named = [candidate for candidate in Kind if candidate.value in words]
    if len(named) == 1:
        return named[0]
    if not named:
        raise ImportFileError(
            f"cannot tell what {path.name} holds from its name; pass --kind ({choices}) "
            "or name it e.g. candidates.csv"
        )
    raise ImportFileError(
        f"{path.name} names several kinds ({', '.join(named)}); pass --kind to choose one"
    )


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true/false, 1/0, yes/no or 是/否, got {text!r}")


def split_list(text: str) -> list[str]:
    return [item for item in map(str.strip, text.split(LIST_SEPARATOR)) if item]


def iter_rows(
    path: Path,
    kind: Kind,
    *,
    encoding: str = "utf-8-sig",
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Parsed[StrictModel] | InvalidRow]:
    """Every row of `path` in file order, validated, or the reason it is invalid.

    Streams, so a large file never sits in memory; `on_progress` gets the bytes read since it
    was last called. The format and encoding are checked before the first row; other problems
    with the whole file (the header, undecodable bytes) raise ImportFileError when reached.
    """
    file_format = detect_format(path)
    _check_encoding(encoding)
    return _rows(path, SPECS[kind], file_format, encoding, on_progress)


def read_file(
    path: Path,
    kind: Kind,
    *,
    encoding: str = "utf-8-sig",
    on_progress: Callable[[int], None] | None = None,
) -> ReadResult:
    """`iter_rows` collected: the valid rows and the invalid ones, each in file order."""
    result = ReadResult(kind=kind, format=detect_format(path))
    for item in iter_rows(path, kind, encoding=encoding, on_progress=on_progress):
        result.rows_read += 1
        if isinstance(item, InvalidRow):
            result.invalid.append(item)
        else:
            result.rows.append(item)
    return result


def _rows(
    path: Path,
    spec: KindSpec,
    file_format: FileFormat,
    encoding: str,
    on_progress: Callable[[int], None] | None,
) -> Iterator[Parsed[StrictModel] | InvalidRow]:
    first_line: dict[str, int] = {}
    with path.open("rb") as stream:
        lines = _decoded_lines(stream, encoding, on_progress)
        records = _csv_records(lines, spec) if file_format is FileFormat.CSV else _jsonl(lines)
        for record in records:
            parsed = record if isinstance(record, InvalidRow) else _validate(spec, record)
            if isinstance(parsed, InvalidRow):
                yield parsed
                continue
            key = spec.key_of(parsed.row)
            first = first_line.setdefault(key, parsed.line)
            if first != parsed.line:
                yield InvalidRow(
                    parsed.line, f"duplicate {spec.key} {key!r} (first on line {first})"
                )
                continue
            yield parsed


def _check_encoding(encoding: str) -> None:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ImportFileError(f"unknown encoding {encoding!r}") from None
    # Lines are split on the byte b"\n" before decoding, so that a decoding error can name its
    # line; that only holds for ASCII-compatible encodings (UTF-8, GBK, GB18030, Big5, ...).
    if not "a\n".encode(name).endswith(b"a\n"):
        raise ImportFileError(
            f"encoding {encoding!r} is not supported; convert the file to UTF-8 or GBK first"
        )


def _decoded_lines(
    stream: BinaryIO, encoding: str, on_progress: Callable[[int], None] | None
) -> Iterator[str]:
    """The file's lines, each ending in "\n" but perhaps the last.

    Decoded a block of whole lines at a time (decoding line by line costs as much as parsing
    the CSV), so a decoding error is placed by counting the newlines before it.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    pending = b""
    while True:
        block = stream.read(_BLOCK_SIZE)
        final = not block
        if block and on_progress is not None:
            on_progress(len(block))
        data = pending + block
        if not final:
            cut = data.rfind(b"\n") + 1
            data, pending = data[:cut], data[cut:]
            if not data:
                continue
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise _decode_error(line + data.count(b"\n", 0, exc.start), encoding, exc) from exc
        if line == 1:
            # The BOM is not part of the first column's name even if the encoding keeps it.
            text = text.removeprefix("\ufeff")
        lines = text.split("\n")
        line += len(lines) - 1
        last = lines.pop()
        for piece in lines:
            yield piece + "\n"
        if final:
            if last:
                yield last
            return


def _decode_error(line: int, encoding: str, exc: UnicodeDecodeError) -> ImportFileError:
    hint = (
        "; is it GBK? try --encoding gbk" if codecs.lookup(encoding).name.startswith("utf") else ""
    )
    return ImportFileError(f"line {line}: not valid {encoding} ({exc.reason}){hint}")


def _csv_records(lines: Iterator[str], spec: KindSpec) -> Iterator[_Record | InvalidRow]:
    # strict: a stray quote is an invalid row rather than a silently mangled value.
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    columns: list[tuple[str, _Cell]] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if header is None:
                raise ImportFileError(f"line {start}: malformed CSV header: {exc}") from exc
            yield InvalidRow(start, f"malformed CSV: {exc}")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _check_header(start, cells, spec)
            columns = [(name, _cell_kind(name, spec)) for name in header]
            continue
        if len(cells) != len(header):
            yield InvalidRow(
                start, f"expected {len(header)} fields as in the header, found {len(cells)}"
            )
            continue
        yield _csv_record(start, columns, cells)


# Plain strings, not an Enum: looking up an Enum member costs more than converting the cell.
_Cell = Literal["text", "list", "bool"]


def _cell_kind(name: str, spec: KindSpec) -> _Cell:
    if name in spec.list_columns:
        return "list"
    return "bool" if name in spec.bool_columns else "text"


def _check_header(line: int, cells: list[str], spec: KindSpec) -> list[str]:
    header = [cell.strip() for cell in cells]
    problems = []
    unknown = [name for name in header if name not in spec.columns]
    if unknown:
        problems.append(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        problems.append(f"repeated column {', '.join(map(repr, duplicated))}")
    missing = [name for name in spec.columns if name in spec.required and name not in header]
    if missing:
        problems.append(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}"
        )
    if problems:
        raise ImportFileError(
            f"line {line}: {'; '.join(problems)} for {spec.kind} "
            f"(columns: {', '.join(spec.columns)})"
        )
    return header


def _csv_record(line: int, columns: list[tuple[str, _Cell]], cells: list[str]) -> _Record:
    """Cells to model input. An empty cell means the field's default; an empty list cell means
    an empty list, so that re-importing a user with no teams clears them."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for (name, cell_kind), cell in zip(columns, cells, strict=True):
        if cell_kind == "list":
            values[name] = split_list(cell)
        elif not cell or cell.isspace():
            continue
        elif cell_kind == "bool":
            try:
                values[name] = parse_bool(cell)
            except ValueError as exc:
                errors[name] = str(exc)
        else:
            values[name] = cell
    return _Record(line, values, errors)


def _jsonl(lines: Iterator[str]) -> Iterator[_Record | InvalidRow]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield InvalidRow(number, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield InvalidRow(number, f"expected a JSON object, found {type(data).__name__}")
            continue
        # null means "not given", as an empty CSV cell does.
        yield _Record(number, {k: v for k, v in data.items() if v is not None}, {})


def _validate(spec: KindSpec, record: _Record) -> Parsed[StrictModel] | InvalidRow:
    try:
        row = spec.model.model_validate(record.values)
    except ValidationError as exc:
        problems = dict(record.errors)
        for error in exc.errors(include_url=False):
            where = _location(error["loc"])
            # A cell that failed conversion was left out, so "Field required" would repeat it.
            if where.split(".")[0].split("[")[0] not in record.errors:
                problems.setdefault(where, error["msg"])
        return InvalidRow(record.line, _reason(problems))
    if record.errors:
        return InvalidRow(record.line, _reason(record.errors))
    return Parsed(record.line, row)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _reason(problems: dict[str, str]) -> str:
    return "; ".join(
        f"{where}: {message}" if where else message for where, message in problems.items()
    )
