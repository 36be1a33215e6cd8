"""Customers from a CSV or JSON Lines file into the store (``journeys customers import``).

Two streaming passes, so a file of a million rows never sits in memory: ``check_file``
reads every row and keeps only the ids (for duplicates) and the problems; ``write_file``
reads the file again and writes the good rows in batches of ``BATCH_SIZE``, one
transaction each. Checking everything first is what lets a bad file import nothing: a
half-imported file is worse than none, as whoever fixes it cannot tell which rows made it.

Cells and values: an empty CSV cell, or a JSON ``null`` or ``""``, means "not in the
file" and leaves the stored value as it is; an import never clears a field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journeys.customers.profiles import check_profile
from journeys.model.channels import CHANNELS
from journeys.store import Store

BATCH_SIZE = 500
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CONSENT_COLUMNS = {f"consent_{channel}": channel for channel in CHANNELS}
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class ImportFileError(Exception):
    """The file as a whole cannot be read (missing, unknown format, no id column, ...)."""


@dataclass(frozen=True)
class Problem:
    """One bad value, printed ``FILE:LINE: field: sentence`` (editors jump to the line)."""

    file: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {field}{self.message}"


@dataclass(frozen=True)
class Row:
    line: int
    customer_id: str
    columns: dict[str, Any]
    attributes: dict[str, Any]


@dataclass
class Checked:
    """What the first pass learned: how many rows are good, and which lines are not."""

    good: int = 0
    problems: list[Problem] = field(default_factory=list)
    bad_lines: set[int] = field(default_factory=set)


def source_for(path: Path) -> str:
    """The consent log's source: which file granted or withdrew a customer's consent."""
    return f"import:{path.name}"


def check_file(path: Path) -> Checked:
    """The first pass: every row checked, nothing written."""
    checked = Checked()
    seen: dict[str, int] = {}  # id -> first line: only ids are kept, never whole rows
    for line, row in _rows(path):
        if isinstance(row, list):
            checked.problems.extend(row)
            checked.bad_lines.add(line)
            continue
        if row.customer_id in seen:
            message = f"'{row.customer_id}' is already on line {seen[row.customer_id]}"
            checked.problems.append(Problem(str(path), line, "id", message))
            checked.bad_lines.add(line)
            continue
        seen[row.customer_id] = line
        checked.good += 1
    return checked


def write_file(
    path: Path,
    store: Store,
    checked: Checked,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """The second pass: the rows ``checked`` found good, in batches; returns (imported, created).

    A line ``checked`` found bad is skipped, so the first of two rows with one id is kept.
    """
    imported = created = 0
    batch: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    source = source_for(path)

    def flush() -> None:
        nonlocal imported, created
        created += store.customers.identify_many(batch, source=source)
        imported += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for line, row in _rows(path):
        if line in checked.bad_lines:
            continue
        if isinstance(row, list):  # it was good a moment ago
            raise ImportFileError(f"{path}:{line}: the file changed while it was imported")
        batch.append((row.customer_id, row.columns, row.attributes))
        if len(batch) >= BATCH_SIZE:
            flush()
    if batch:
        flush()
    return imported, created


# Reading -----------------------------------------------------------------------------


def _rows(path: Path) -> Iterator[tuple[int, Row | list[Problem]]]:
    """(line, row or its problems) for every record of the file, streamed."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ImportFileError(f"{path}: name the file .csv or .jsonl to say what it holds")
    records = _csv_records(path) if kind == "csv" else _jsonl_records(path)
    try:
        for line, record in records:
            yield line, record if isinstance(record, list) else _row(path, line, record)
    except OSError as err:
        raise ImportFileError(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: not UTF-8 text: save it as UTF-8") from None


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | list[Problem]]]:
    # utf-8-sig: spreadsheets often start a UTF-8 CSV with a byte-order mark
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = [name.strip() for name in next(reader, [])]
        _check_header(path, header)
        end = reader.line_num
        for cells in reader:
            line, end = end + 1, reader.line_num  # a quoted cell may span several lines
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                message = f"{len(cells)} cells, but the first line names {len(header)} columns"
                yield line, [Problem(str(path), line, None, message)]
                continue
            record: dict[str, Any] = {}
            for name, cell in zip(header, cells, strict=False):
                if cell.strip():
                    record[name] = cell.strip()
            if "" in record:
                yield line, [Problem(str(path), line, None, "a value in a column with no name")]
                continue
            yield line, record


def _check_header(path: Path, header: list[str]) -> None:
    if "id" not in header:
        raise ImportFileError(
            f"{path}:1: no 'id' column: the first line names the columns, separated by "
            "commas, and one of them is id"
        )
    for name in ("consent", "attributes"):
        if name in header:
            channels = ", ".join(CONSENT_COLUMNS)
            raise ImportFileError(f"{path}:1: no '{name}' column in a CSV: use {channels}")
    named = [name for name in header if name]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}:1: column(s) named twice: {', '.join(repeated)}")


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | list[Problem]]]:
    with path.open(encoding="utf-8-sig") as file:
        for line, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                message = f"not JSON: {err.msg} (column {err.colno})"
                yield line, [Problem(str(path), line, None, message)]
                continue
            if not isinstance(record, dict):
                yield line, [Problem(str(path), line, None, "not a JSON object: {...}")]
                continue
            yield line, record


def _row(path: Path, line: int, record: Mapping[str, Any]) -> Row | list[Problem]:
    """A record (CSV cells or a JSON object) as a checked row, or its problems."""
    problems: list[Problem] = []
    profile: dict[str, Any] = {}
    consent: dict[str, Any] = {}
    for name, value in record.items():
        if value is None or value == "":
            continue
        if name in CONSENT_COLUMNS:
            flag = _flag(value)
            if flag is None:
                problems.append(Problem(str(path), line, name, _not_a_flag(value)))
            else:
                consent[CONSENT_COLUMNS[name]] = flag
        elif name == "consent":
            if not isinstance(value, Mapping):
                message = f"must map channels to true/false, not {value!r}"
                problems.append(Problem(str(path), line, name, message))
                continue
            for channel, raw in value.items():
                if raw is not None:
                    flag = _flag(raw)
                    consent[channel] = raw if flag is None else flag  # check_profile says why
        elif name == "attributes" and isinstance(value, Mapping):
            profile[name] = {k: v for k, v in value.items() if v is not None and v != ""}
        else:
            profile[name] = value
    if consent:
        profile["consent"] = consent
    customer_id = profile.pop("id", None)
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        customer_id = str(customer_id)  # {"id": 42} in JSON is customer 42, as in a CSV
    checked = check_profile(customer_id, profile)
    problems += [Problem(str(path), line, p.field, p.message) for p in checked.problems]
    if problems:
        column = {name: index for index, name in enumerate(record)}  # left to right
        return sorted(problems, key=lambda p: column.get((p.field or "").split(".")[0], 0))
    assert isinstance(customer_id, str)
    return Row(line, customer_id, checked.columns, checked.attributes)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return _FLAGS.get(value.strip().lower()) if isinstance(value, str) else None


def _not_a_flag(value: Any) -> str:
    return f"{value!r} is not true or false (write true/false, yes/no or 1/0)"
