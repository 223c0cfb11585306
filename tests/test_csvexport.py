"""Every CSV export goes through config.csvexport: no cell reaches a spreadsheet as a formula."""

from decimal import Decimal

import pytest

from config.csvexport import csv_cell, csv_response


@pytest.mark.parametrize("text", ["=1+2", "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)",
                                  "\t=1+2", "\r=1+2", "-", "@"])
def test_a_text_cell_a_spreadsheet_would_run_is_neutralised(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["document.invoice", "key_abc", "2026-11-28", "a=b", "-1.500000",
                                   "12", 7, -3, Decimal("-0.5"), ""])
def test_plain_text_and_numbers_are_left_alone(value):
    assert csv_cell(value) == value


def test_the_response_is_an_attachment_with_every_cell_neutralised():
    response = csv_response(filename="x.csv", rows=[["name", "credits"], ["=1+2", "-4.000000"]])
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response.content.decode().splitlines() == ["name,credits", "'=1+2,-4.000000"]
