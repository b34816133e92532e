"""Shares of rows as people read them: never 0% or 100% when it is not."""

from __future__ import annotations


def percent(share: float, digits: int = 1) -> str:
    """`share` (0 to 1) as a percentage with `digits` decimals, and more where rounding
    would say all or none when it is not: 4 of 20,765 is 99.98%, never 100.0%."""
    places = digits
    text = f"{share:.{places}%}"
    # Nine more places tell apart one row in a billion from all or none.
    while places < digits + 9 and float(text[:-1]) in (0, 100) and 0 < share < 1:
        places += 1
        text = f"{share:.{places}%}"
    return text
