"""What a byte scan tells about a CSV file before a reader splits it into parts."""

from __future__ import annotations

from mlops_template.io import csv_lines


def test_only_a_file_with_quotes_may_hold_line_breaks_in_cells(tmp_path, monkeypatch):
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text("a,b\n1,2\n" * 50)
    quoted.write_text("a,b\n1,2\n" * 50 + '"two\nlines",3\n')
    monkeypatch.setattr(csv_lines, "BLOCK", 16)  # the quote lies past the first block
    assert not csv_lines.has_quotes(plain)
    assert csv_lines.has_quotes(quoted)
