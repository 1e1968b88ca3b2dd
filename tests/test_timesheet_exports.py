"""CSV and XLSX: parsed back with the csv module and openpyxl."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from app.timesheets.exports import neutralise
from tests.factories import log, seed
from tests.test_timesheets import add

PERIOD = {"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-30"}


@pytest.fixture
async def logged(client):
    """Employee 10 (UTC): Mon 28 Oct task 250 1:30 and task 251 0:45; Tue 29 Oct task 250 2:00.
    Task 251 is renamed to a formula and a name with a comma, quote and accent."""
    await seed(client)
    await client.put("/tasks/251/", json={"projectId": 7, "name": '=HYPERLINK("x"), "Ünïcode", task'})
    await add(
        client,
        log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"),
        log(251, 10, "2024-10-28T11:00:00Z", "2024-10-28T11:45:00Z"),
        log(250, 10, "2024-10-29T22:00:00Z", "2024-10-30T00:00:00Z"),
    )
    return client


def parse_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv_has_a_header_and_one_row_per_group(logged):
    response = await logged.get("/timesheets/", params={**PERIOD, "format": "csv"})

    assert response.headers["content-disposition"] == 'attachment; filename="timesheet-10-2024-10-28-2024-10-30.csv"'
    assert parse_csv(response) == [
        ["Date", "Hours", "Time"],
        ["2024-10-28", "2.25", "2:15"],
        ["2024-10-29", "2.00", "2:00"],
        ["2024-10-30", "0.00", "0:00"],
    ]


async def test_csv_two_levels_one_row_per_inner_group_and_text_neutralised(logged):
    response = await logged.get("/timesheets/", params={**PERIOD, "groupBy": ["day", "task"], "format": "csv"})

    rows = parse_csv(response)
    assert rows[0] == ["Date", "Project ID", "Project", "Task ID", "Task", "Hours", "Time"]
    assert rows[1:] == [
        # Sorted by task name: "=" sorts before "T".
        ["2024-10-28", "7", "Website", "251", '\'=HYPERLINK("x"), "Ünïcode", task', "0.75", "0:45"],
        ["2024-10-28", "7", "Website", "250", "Task 250", "1.50", "1:30"],
        ["2024-10-29", "7", "Website", "250", "Task 250", "2.00", "2:00"],
    ]


async def test_project_csv_is_named_after_the_project(logged):
    response = await logged.get(
        "/timesheets/",
        params={
            "projectId": 7,
            "startDate": "2024-10-28",
            "endDate": "2024-10-28",
            "groupBy": "employee",
            "format": "csv",
        },
    )
    assert response.headers["content-disposition"].endswith('filename="timesheet-project-7-2024-10-28-2024-10-28.csv"')
    assert parse_csv(response) == [["Employee ID", "Employee", "Hours", "Time"], ["10", "Asha Rao", "2.25", "2:15"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("1+1", "1+1"),
        ("", ""),
    ],
)
def test_neutralise(text, expected):
    assert neutralise(text) == expected


async def test_month_export_one_line_per_log_and_day_with_descriptions_neutralised(client):
    await seed(client, timezone="Europe/Berlin")
    await add(
        client,
        log(250, 10, "2024-10-31T22:00:00Z", "2024-11-01T00:30:00Z", description="=1+1"),  # 23:00-01:30 CET
        log(260, 10, "2024-11-15T08:00:00Z", "2024-11-15T09:15:00Z", description='Says "hi", twice\nok'),
        log(250, 10, "2024-11-30T22:30:00Z", "2024-12-01T00:00:00Z", description="-nope"),
    )  # 23:30 - 01:00
    await add(client, log(250, 11, "2024-11-15T08:00:00Z", "2024-11-15T09:00:00Z"), user=11)

    response = await client.get("/api/company/1/user/10/export-csv-report/2024-11/")

    assert response.headers["content-disposition"] == 'attachment; filename="timesheet-10-2024-11-01-2024-11-30.csv"'
    rows = parse_csv(response)
    assert rows[0] == [
        "Date",
        "From",
        "To",
        "Hours",
        "Time",
        "Project ID",
        "Project",
        "Task ID",
        "Task",
        "Description",
        "Task log ID",
    ]
    body = [row[:10] for row in rows[1:]]
    assert body == [
        [
            "2024-11-01",
            "2024-11-01T00:00:00+01:00",
            "2024-11-01T01:30:00+01:00",
            "1.50",
            "1:30",
            "7",
            "Website",
            "250",
            "Task 250",
            "'=1+1",
        ],
        [
            "2024-11-15",
            "2024-11-15T09:00:00+01:00",
            "2024-11-15T10:15:00+01:00",
            "1.25",
            "1:15",
            "8",
            "Internal",
            "260",
            "Task 260",
            'Says "hi", twice\nok',
        ],
        [
            "2024-11-30",
            "2024-11-30T23:30:00+01:00",
            "2024-12-01T00:00:00+01:00",
            "0.50",
            "0:30",
            "7",
            "Website",
            "250",
            "Task 250",
            "'-nope",
        ],
    ]
    assert all(row[10].isdigit() for row in rows[1:])


async def test_month_export_rejects_a_bad_month(client):
    await seed(client)
    for month in ("2024-13", "2024-1", "november", "0001-01", "9999-12"):
        response = await client.get(f"/api/company/1/user/10/export-csv-report/{month}/")
        assert response.status_code == 422, month
        assert response.json()["errors"][0]["field"] == "month"


async def test_xlsx_is_a_real_workbook(logged):
    response = await logged.get("/timesheets/", params={**PERIOD, "groupBy": ["day", "task"], "format": "xlsx"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"].endswith('filename="timesheet-10-2024-10-28-2024-10-30.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = load_workbook(io.BytesIO(response.content), data_only=True).active

    assert sheet.title == "Timesheet"
    assert [c.value for c in sheet[1]] == ["Date", "Project ID", "Project", "Task ID", "Task", "Hours", "Time"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"

    date, project_id, _, task_id, task_name, hours, time = sheet[2]
    assert date.value == datetime(2024, 10, 28) and date.number_format == "yyyy-mm-dd"
    assert (project_id.value, task_id.value) == (7, 251)
    assert task_name.value == '=HYPERLINK("x"), "Ünïcode", task' and task_name.data_type == "s"  # text, not a formula
    assert hours.value == 0.75 and hours.number_format == "0.00"
    # A duration (fraction of a day with an [h]:mm format), which openpyxl reads as a timedelta.
    assert time.value == timedelta(minutes=45) and time.number_format == "[h]:mm"
    assert [sheet.cell(row=r, column=6).value for r in (3, 4)] == [1.5, 2.0]

    assert sheet.max_row == 5
    assert sheet["A5"].value == "Total" and sheet["A5"].font.bold
    assert sheet["F5"].value == "=SUM(F2:F4)" and sheet["F5"].number_format == "0.00"
    assert values["F5"].value == 4.25
    assert values["G5"].value == timedelta(hours=4, minutes=15)


async def test_xlsx_of_an_empty_report_still_has_header_and_totals(client):
    await seed(client)
    response = await client.get("/timesheets/", params={**PERIOD, "groupBy": "task", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]][-2:] == ["Hours", "Time"]
    assert sheet["A2"].value == "Total" and sheet["E2"].value == 0 and sheet["F2"].value == timedelta(0)
