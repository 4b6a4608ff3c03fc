"""Command output in the formats OpenStack clients (cliff) print.

``table`` is for people. ``json`` and ``value`` are for scripts: json keeps the
types (numbers stay numbers, a missing value is null) and value prints bare
values with no header, so ``read`` or ``awk`` can take a row apart.
"""

import json
import sys

FORMATS = ("table", "json", "value")
# Shown for a missing value where an empty cell would shift the columns of a
# ``value`` row and look like a rendering glitch in a table.
MISSING = "-"
_SHOW_HEADINGS = ("Field", "Value")


def add_format_argument(parser):
    parser.add_argument(
        "-f",
        "--format",
        dest="format",
        choices=FORMATS,
        default="table",
        help="Output format (default: table).",
    )


def emit(columns, rows, fmt, single=False, stream=None):
    """Print ``rows`` (tuples in the order of ``columns``) in ``fmt``.

    ``single``: ``rows`` holds one row, printed as a show-style command prints
    it: a Field/Value table, one JSON object, or one value per line.
    """
    stream = stream or sys.stdout
    if single:
        [row] = rows
        text = _show(columns, row, fmt)
    elif fmt == "json":
        text = _json(columns, rows)
    else:
        text = _list(columns, rows, fmt)
    if text:
        stream.write(text + "\n")


def _json(columns, rows):
    return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=4)


def _show(columns, row, fmt):
    if fmt == "json":
        return json.dumps(dict(zip(columns, row, strict=True)), indent=4)
    if fmt == "value":
        return "\n".join(_text(value) for value in row)
    return _table(_SHOW_HEADINGS, list(zip(columns, row, strict=True)))


def _list(columns, rows, fmt):
    if fmt == "value":
        return "\n".join(" ".join(_text(value) for value in row) for row in rows)
    # An empty list still prints its header: "no rows" is then plain to see,
    # and a command that printed nothing is not taken for one that failed.
    return _table(columns, rows)


def _text(value):
    return MISSING if value is None else str(value)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table(columns, rows):
    cells = [[_text(value) for value in row] for row in rows]
    widths = [len(str(heading)) for heading in columns]
    for row in cells:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]
    # Numbers line up on the right, as cliff aligns int and float columns.
    numeric = [
        bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows)
        for i in range(len(columns))
    ]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    lines = [rule, _line(columns, widths, [False] * len(columns)), rule]
    lines.extend(_line(row, widths, numeric) for row in cells)
    lines.append(rule)
    return "\n".join(lines)


def _line(cells, widths, right):
    padded = [
        str(cell).rjust(width) if to_right else str(cell).ljust(width)
        for cell, width, to_right in zip(cells, widths, right, strict=True)
    ]
    return "| " + " | ".join(padded) + " |"
