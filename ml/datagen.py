"""Deterministic generator of an e-commerce transaction log with a real churn process.

Churn must be learnable but not trivial, so the process has the ingredients real logs have:
each customer buys at their own rate and basket size, lives for a hidden lifetime (longer for
some acquisition channels and countries) after which they stop buying, and buys less often in
the weeks before they leave. Low-rate customers also go quiet by chance, which keeps the
ceiling on any model honest. Everything is drawn from one seeded generator, so the same seed
gives the same log, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")
DAYS = 3 * 365

CHANNELS = ["organic", "paid_search", "social", "referral", "email"]
CHANNEL_WEIGHTS = [0.35, 0.25, 0.2, 0.1, 0.1]
CHANNEL_LIFETIME = {
    "organic": 1.0,
    "paid_search": 0.75,
    "social": 0.6,
    "referral": 1.4,
    "email": 1.1,
}
COUNTRIES = ["DE", "FR", "GB", "NL", "ES", "IT"]
COUNTRY_WEIGHTS = [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]
COUNTRY_LIFETIME = {"DE": 1.1, "FR": 1.0, "GB": 0.9, "NL": 1.15, "ES": 0.85, "IT": 0.95}

MEAN_LIFETIME_DAYS = 520.0
MEAN_GAP_DAYS = 16.0  # mean days between purchases of an average customer
DECLINE_DAYS = 90.0  # purchases thin out over this many days before a customer leaves


@dataclass(frozen=True)
class GeneratedLog:
    customers: pd.DataFrame
    transactions: pd.DataFrame


def generate(customers: int = 5000, seed: int = 7) -> GeneratedLog:
    """Draw ``customers`` customers and their transactions over three years from 2023-01-01."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng(seed)
    n = customers

    signup_day = rng.integers(0, DAYS - 30, size=n)
    channel = rng.choice(CHANNELS, size=n, p=CHANNEL_WEIGHTS)
    country = rng.choice(COUNTRIES, size=n, p=COUNTRY_WEIGHTS)
    lifetime_scale = (
        MEAN_LIFETIME_DAYS
        * np.vectorize(CHANNEL_LIFETIME.get)(channel)
        * np.vectorize(COUNTRY_LIFETIME.get)(country)
    )
    lifetime = lifetime_scale * rng.weibull(1.3, size=n)
    rate = rng.gamma(shape=2.0, scale=1.0 / (2.0 * MEAN_GAP_DAYS), size=n)
    basket = rng.lognormal(mean=np.log(45.0), sigma=0.5, size=n)

    end_day = np.minimum(signup_day + lifetime, DAYS)
    active = end_day - signup_day
    counts = rng.poisson(rate * active)

    owner = np.repeat(np.arange(n), counts)
    offset = rng.uniform(0.0, 1.0, size=owner.size) * active[owner]
    # Thin purchases in the decline window before the hidden end of life.
    life_end = signup_day[owner] + lifetime[owner]
    t = signup_day[owner] + offset
    into_decline = np.clip((t - (life_end - DECLINE_DAYS)) / DECLINE_DAYS, 0.0, 1.0)
    keep = rng.uniform(size=owner.size) >= 0.8 * into_decline
    owner, t = owner[keep], t[keep]

    # Every customer makes a first purchase on signup.
    first = np.arange(n)
    first_t = signup_day + rng.uniform(0.0, 0.9, size=n)
    owner = np.concatenate([first, owner])
    t = np.concatenate([first_t, t])

    amount = np.round(basket[owner] * rng.lognormal(0.0, 0.35, size=owner.size), 2)
    amount = np.maximum(amount, 0.5)
    quantity = 1 + rng.poisson(np.clip(basket[owner] / 30.0, 0.2, None))

    order = np.lexsort((owner, t))
    owner, t, amount, quantity = owner[order], t[order], amount[order], quantity[order]
    seconds = np.floor(t * 86400.0).astype("int64")

    ids = np.array([f"C{i:07d}" for i in range(n)])
    transactions = pd.DataFrame(
        {
            "transaction_id": [f"T{i:010d}" for i in range(owner.size)],
            "customer_id": ids[owner],
            "transaction_ts": START + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "quantity": quantity.astype("int64"),
        }
    )
    customer_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": (START + pd.to_timedelta(signup_day, unit="D")).date,
            "country": country,
            "acquisition_channel": channel,
        }
    )
    return GeneratedLog(customers=customer_frame, transactions=transactions)
