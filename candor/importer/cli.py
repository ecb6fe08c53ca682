"""`candor import FILE`: run one import and tell the person at the terminal what happened.

Exit codes: 0 written (with --skip-invalid, even if some rows were invalid), 1 invalid rows
and nothing written, 2 the file itself cannot be imported (kind, format, header, encoding).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

from candor.ats.codes import CodeSpaceExhaustedError
from candor.importer.pipeline import ImportReport, import_file
from candor.importer.reader import ImportFileError
from candor.runtime import open_runtime
from candor.settings import Settings

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE_FILE = 2


def run_import(
    settings: Settings,
    file: Path,
    *,
    kind: str | None = None,
    skip_invalid: bool = False,
    encoding: str = "utf-8-sig",
) -> int:
    """Import `file`, print the invalid rows (stderr) and a summary (stdout); the exit code."""
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)

    async def main() -> ImportReport:
        async with open_runtime(settings) as runtime:
            return await import_file(
                runtime, file, kind=kind, skip_invalid=skip_invalid, encoding=encoding, console=err
            )

    try:
        report = asyncio.run(main())
    except ImportFileError as exc:
        _say(err, f"error: {exc}; nothing written")
        return EXIT_UNUSABLE_FILE
    except CodeSpaceExhaustedError as exc:
        _say(err, f"error: {exc}; nothing written")
        return EXIT_INVALID
    for problem in report.invalid:
        _say(err, str(problem))
    if not report.written:
        _say(
            err,
            f"nothing written: {_rows(len(report.invalid))} invalid; fix them, or pass "
            "--skip-invalid to write the valid rows",
        )
    _say(out, _summary(report))
    return EXIT_OK if report.written else EXIT_INVALID


def _say(console: Console, text: str) -> None:
    # Row data is not markup, and a line number must stay on the line it names.
    console.print(text, markup=False, soft_wrap=True)


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _summary(report: ImportReport) -> str:
    return (
        f"{report.kind}: {_rows(report.rows_read)} read, {report.inserted:,} inserted, "
        f"{report.updated:,} updated, {len(report.invalid):,} invalid"
        f"{'' if report.written else ' (nothing written)'}; "
        f"{report.elapsed:.2f} s, {report.rows_per_second:,.0f} rows/s"
    )
