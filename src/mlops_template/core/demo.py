"""The bundled demo table: a subscription service's customers and whether they churned.

It has what real tables have: an ID, a date, categoricals, counts and amounts, missing
cells and a minority class (about one customer in five churns). It is generated from a
seed, offline, so the same settings give the same rows on every machine; dates are ISO
text, as a CSV file or a REST request holds them, so they take the same reading path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# The day the table was drawn: signup dates and tenure are counted back from it.
AS_OF = pd.Timestamp("2025-06-30")
PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")
PAYMENTS = ("card", "bank_transfer", "invoice")
# Share of missing cells per column, as a CRM export has them.
MISSING = {"region": 0.03, "monthly_charges": 0.02, "last_login_days": 0.08}


def customers(n_rows: int, seed: int, target: str = "churned") -> pd.DataFrame:
    """`n_rows` customers; every random draw comes from `seed`."""
    rng = np.random.default_rng(seed)
    tenure_days = rng.integers(30, 4 * 365, n_rows)
    plan = rng.choice(PLANS, n_rows, p=[0.5, 0.3, 0.2])
    payment = rng.choice(PAYMENTS, n_rows, p=[0.55, 0.3, 0.15])
    base = np.select([plan == "basic", plan == "standard"], [19.0, 39.0], 79.0)
    tickets = rng.poisson(np.where(plan == "basic", 1.2, 0.7))
    last_login = np.round(rng.exponential(12.0, n_rows))
    autopay = rng.random(n_rows) < np.where(payment == "invoice", 0.1, 0.7)
    # Churn follows what a retention team would expect: short tenure, many tickets, long
    # absence, the cheapest plan and paying by invoice raise it; autopay lowers it.
    logit = (
        -1.6
        + 1.2 * (plan == "basic")
        - 0.8 * (plan == "premium")
        + 0.8 * tickets
        + 0.09 * last_login
        - 1.5 * autopay
        + 0.8 * (payment == "invoice")
        - 1.3 * tenure_days / 365
    )
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{seed:02d}-{i:06d}" for i in range(n_rows)],
            "signup_date": (AS_OF - pd.to_timedelta(tenure_days, unit="D")).strftime("%Y-%m-%d"),
            "plan": plan,
            "region": rng.choice(REGIONS, n_rows, p=[0.3, 0.3, 0.25, 0.15]),
            "payment_method": payment,
            "autopay": autopay,
            "monthly_charges": np.round(base * rng.normal(1.0, 0.08, n_rows), 2),
            "support_tickets": tickets,
            "last_login_days": last_login,
            target: np.where(churned, "yes", "no"),
        }
    )
    for column, share in MISSING.items():
        frame.loc[rng.random(n_rows) < share, column] = None
    return frame.astype({"plan": "str", "region": "str", "payment_method": "str"})
