"""Reports as files: CSV (RFC 4180, UTF-8, header row) and XLSX (XlsxWriter).

A report first becomes a `Table` (typed columns, durations kept in seconds),
and each format renders the types its own way: in CSV a duration is decimal
hours and H:MM text; in XLSX it is a number with a number format, so a
spreadsheet can add it up."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from app.core.timeutil import hours_minutes
from app.timesheets.service import LogLines, Report

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# A spreadsheet evaluates a cell starting with one of these as a formula
# (OWASP "CSV injection"): an employee's task description could run code
# on an admin's machine when the export is opened.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # "text" | "id" | "date" | "hours" | "time" (hours and time cells hold seconds)
    width: int = 12


@dataclass
class Table:
    sheet: str
    columns: list[Column]
    rows: list[list[Any]]


class GroupColumn(NamedTuple):
    """A column of a grouped report and the row key it shows."""

    column: Column
    key: str


_DIMENSION_COLUMNS: dict[str, list[GroupColumn]] = {
    "day": [GroupColumn(Column("Date", "date"), "date")],
    "week": [GroupColumn(Column("Week start", "date"), "weekStart")],
    "month": [GroupColumn(Column("Month", "text", 9), "month")],
    "task": [
        GroupColumn(Column("Project ID", "id", 10), "projectId"),
        GroupColumn(Column("Project", "text", 24), "projectName"),
        GroupColumn(Column("Task ID", "id", 10), "taskId"),
        GroupColumn(Column("Task", "text", 30), "taskName"),
    ],
    "project": [
        GroupColumn(Column("Project ID", "id", 10), "projectId"),
        GroupColumn(Column("Project", "text", 24), "projectName"),
    ],
    "employee": [
        GroupColumn(Column("Employee ID", "id", 11), "employeeId"),
        GroupColumn(Column("Employee", "text", 24), "employeeName"),
    ],
}
_DURATION_COLUMNS = [Column("Hours", "hours", 9), Column("Time", "time", 9)]


def _values(dimension: str, row: dict[str, Any]) -> list[Any]:
    return [row[each.key] for each in _DIMENSION_COLUMNS[dimension]]


def report_table(report: Report) -> Table:
    """One line per group; a two-level report has one line per inner group,
    carrying the keys of both levels."""
    dims = report.group_by
    columns = [each.column for d in dims for each in _DIMENSION_COLUMNS[d]] + _DURATION_COLUMNS

    def lines() -> Iterator[list[Any]]:
        for row in report.rows:
            if len(dims) == 1:
                yield [*_values(dims[0], row), row["totalSeconds"], row["totalSeconds"]]
                continue
            for child in row["children"]:
                yield [*_values(dims[0], row), *_values(dims[1], child), child["totalSeconds"], child["totalSeconds"]]

    return Table("Timesheet", columns, list(lines()))


def lines_table(result: LogLines) -> Table:
    """One line per log and local day (a log across midnight is two lines,
    each with its share), so the Hours column adds up to the month."""
    columns = [
        Column("Date", "date"),
        Column("From", "text", 26),
        Column("To", "text", 26),
        *_DURATION_COLUMNS,
        Column("Project ID", "id", 10),
        Column("Project", "text", 24),
        Column("Task ID", "id", 10),
        Column("Task", "text", 30),
        Column("Description", "text", 50),
        Column("Task log ID", "id", 11),
    ]
    rows = [
        [
            line["date"],
            line["localStart"],
            line["localEnd"],
            line["totalSeconds"],
            line["totalSeconds"],
            line["projectId"],
            line["projectName"],
            line["taskId"],
            line["taskName"],
            line["description"],
            line["taskLogId"],
        ]
        for line in result.lines
    ]
    return Table("Working hours", columns, rows)


# ---------------------------------------------------------------- CSV


def neutralise(text: str) -> str:
    """Text a spreadsheet will show as text: a leading formula character is
    escaped with a single quote (the usual spreadsheet convention)."""
    return f"'{text}" if text.startswith(_FORMULA_TRIGGERS) else text


def _csv_cell(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "hours":
        return f"{value / 3600:.2f}"
    if kind == "time":
        return hours_minutes(value)
    if kind == "text":
        return neutralise(str(value))
    return str(value)


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    # csv's defaults are RFC 4180: CRLF line ends, quotes doubled inside quoted fields.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.title for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(c.kind, v) for c, v in zip(table.columns, row, strict=True)])
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------- XLSX


def to_xlsx(table: Table) -> bytes:
    """A workbook with a styled, frozen header row, numbers as numbers and a
    totals row whose SUM formulas carry their computed values (so readers
    that do not recalculate still see them). Text is written with
    write_string, which a spreadsheet never evaluates, so it needs no escaping."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(table.sheet)
    header = workbook.add_format(
        {
            "bold": True,
            "font_color": "#FFFFFF",
            "bg_color": "#1F4E78",
            "border": 1,
            "align": "center",
            "valign": "vcenter",
        }
    )
    formats = {
        "hours": workbook.add_format({"num_format": "0.00"}),
        "time": workbook.add_format({"num_format": "[h]:mm"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "id": workbook.add_format({"num_format": "0"}),
        "text": workbook.add_format({}),
    }
    total_formats = {
        kind: workbook.add_format({"bold": True, "top": 1, **({"num_format": fmt} if fmt else {})})
        for kind, fmt in (("hours", "0.00"), ("time", "[h]:mm"), ("label", None))
    }

    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.title, header)
        sheet.set_column(col, col, column.width)
    for r, row in enumerate(table.rows, start=1):
        for col, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            _xlsx_cell(sheet, r, col, column.kind, value, formats[column.kind])

    last = len(table.rows)  # data rows are 1..last (0-based); totals go below them
    sheet.write_string(last + 1, 0, "Total", total_formats["label"])
    for col, column in enumerate(table.columns):
        if column.kind not in ("hours", "time"):
            continue
        seconds = sum(row[col] for row in table.rows)
        value = round(seconds / 3600, 2) if column.kind == "hours" else seconds / 86400
        if table.rows:
            letter = xl_col_to_name(col)
            cells = f"{letter}2:{letter}{last + 1}"
            sheet.write_formula(last + 1, col, f"=SUM({cells})", total_formats[column.kind], value)
        else:
            sheet.write_number(last + 1, col, value, total_formats[column.kind])
    sheet.freeze_panes(1, 0)
    if table.rows:
        sheet.autofilter(0, 0, last, len(table.columns) - 1)
    workbook.close()
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, row: int, col: int, kind: str, value: Any, fmt: Any) -> None:
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif kind == "hours":
        sheet.write_number(row, col, round(value / 3600, 2), fmt)
    elif kind == "time":
        sheet.write_number(row, col, value / 86400, fmt)  # a spreadsheet duration is a fraction of a day
    elif kind == "date":
        sheet.write_datetime(row, col, date.fromisoformat(value), fmt)
    elif kind == "id":
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)
