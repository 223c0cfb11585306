"""CSV downloads: every export of the site writes its file through csv_response.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and a
leading tab or carriage return can hide one), so a product name or any other text a
customer or the gateway chose could run in the reader's spreadsheet ("CSV injection").
As OWASP advises, such a text cell gets a leading apostrophe: spreadsheets show it as the
text it is. Numbers stay numbers: ints, Decimals and strings that are a plain decimal
number (the API's "-1.500000") are written as they are.
"""

import csv
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def csv_cell(value: object) -> object:
    """The value as a spreadsheet may safely read it (see the module's docstring)."""
    if isinstance(value, (int, float, Decimal)) or value is None:
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_response(*, filename: str, rows: Iterable[Sequence[object]]) -> HttpResponse:
    """An attachment named `filename` holding `rows` (the header row first), every cell
    neutralised by csv_cell."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response


class _Echo:
    """A file-like object whose write() returns the line, for a streamed csv.writer."""

    def write(self, value):
        return value


def csv_streaming_response(*, filename: str, rows: Iterable[Sequence[object]]) -> StreamingHttpResponse:
    """csv_response for exports that may be long (a ledger of millions of rows): the rows are
    written as they are read, never held in memory whole; the same neutralised cells."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([csv_cell(value) for value in row]) for row in rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
