"""Line breaks a CSV file holds where its writer meant none: a carriage return outside quotes.

CSV readers (pandas, Arrow, Spark, Python's csv module) end a row at a carriage return
(\\r) outside quotes, as old Mac files end their lines. A writer that ends lines with \\n
may still leave a \\r inside a cell unquoted (Python 3.11's csv module and pandas.to_csv
do): every reader then splits that row in two. pandas fills the short halves with missing
values and reads on, so the file is checked before it is read.
"""

from __future__ import annotations

import csv
from pathlib import Path

BLOCK = 1 << 22


def stray_carriage_return(path: str | Path, sep: str = ",") -> str | None:
    """Where the file holds a carriage return outside quotes, in a file whose lines end
    with \\n (or \\r\\n): a description of the first one, for a message; None if none."""
    if len(sep) != 1 or not _bare_carriage_return(path):
        return None  # the usual case, found by one pass over the bytes (or a regex sep)
    # Lines split at \n only, as the writer meant them: the csv module reads quoted cells
    # across them, and stops at a \r outside quotes that no \n follows.
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        reader = csv.reader(handle, delimiter=sep)
        try:
            for _ in reader:
                pass
        except csv.Error as err:
            if "new-line character seen in unquoted field" in str(err):
                return (
                    f"line {reader.line_num} holds a carriage return (\\r) outside quotes, "
                    "which CSV readers take for the end of a row; put the cells that hold "
                    "one in quotes (or remove the carriage returns) and write the file again"
                )
    return None  # in quoted cells only (or a malformed file, said by the reader)


def _bare_carriage_return(path: str | Path) -> bool:
    """Whether the file holds a \\r that no \\n follows, in a file that has \\n line ends
    (a file whose lines all end with \\r alone is read as such)."""
    bare, newline, last = 0, False, b""
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            newline = newline or b"\n" in block
            carriage = block.count(b"\r")  # none in most files: one pass
            if carriage:
                bare += carriage - block.count(b"\r\n")
            if last == b"\r" and block[:1] == b"\n":  # \r\n across two blocks
                bare -= 1
            last = block[-1:]
    return newline and bare > 0
