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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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

# Slowly changing attributes, kept by the CRM as versions with an updated_at. A share of
# customers join the loyalty programme some weeks after signup (more often the frequent
# buyers); some members cancel in the weeks before they stop buying, which makes the segment
# a real but noisy signal, and only as of the time it changed. A few customers move country.
SEGMENTS = ("standard", "loyalty_member", "loyalty_cancelled")
JOIN_RATE_SCALE = 0.12  # P(join) = min(0.8, JOIN_RATE_SCALE * purchases per month)
MEAN_JOIN_DELAY_DAYS = 45.0
CANCEL_BEFORE_LEAVING = 0.45  # share of leaving members who cancel first
CANCEL_BY_CHANCE = 0.08  # share of staying members who cancel anyway
MOVE_SHARE = 0.04

MEAN_LIFETIME_DAYS = 520.0
MEAN_GAP_DAYS = 16.0  # mean days between purchases of an average customer
DECLINE_DAYS = 90.0  # purchases thin out over this many days before a customer leaves


@dataclass(frozen=True)
class GeneratedLog:
    customers: pd.DataFrame  # the CRM's current state: one row per customer, with updated_at
    transactions: pd.DataFrame
    customer_history: pd.DataFrame  # every attribute version the CRM exported, with updated_at


def generate(customers: int = 5000, seed: int = 7) -> GeneratedLog:
    """Draw ``customers`` customers and their transactions over three years from 2023-01-01."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng(seed)
    n = customers

    signup_day = rng.integers(0, DAYS - 30, size=n)
    channel, country, lifetime, rate, basket = _traits(rng, n)

    end_day = np.minimum(signup_day + lifetime, DAYS)
    owner, t = _purchases(rng, signup_day, end_day, signup_day + lifetime, rate)

    # Every customer makes a first purchase on signup.
    first = np.arange(n)
    first_t = signup_day + rng.uniform(0.0, 0.9, size=n)
    owner = np.concatenate([first, owner])
    t = np.concatenate([first_t, t])

    ids = np.array([f"C{i:07d}" for i in range(n)])
    transactions = _transactions(rng, owner, t, basket, ids, "T", 10)
    history = _attribute_history(
        np.random.default_rng([seed, 1]), ids, signup_day, country, rate, signup_day + lifetime
    )
    current = history.groupby("customer_id", sort=True).tail(1).set_index("customer_id")
    customer_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": (START + pd.to_timedelta(signup_day, unit="D")).date,
            "acquisition_channel": channel,
            "country": current.loc[ids, "country"].to_numpy(),
            "segment": current.loc[ids, "segment"].to_numpy(),
            "updated_at": current.loc[ids, "updated_at"].to_numpy(),
        }
    )
    return GeneratedLog(
        customers=customer_frame, transactions=transactions, customer_history=history
    )


def _traits(
    rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Channel, country, hidden lifetime (days), purchase rate (per day) and basket size of
    ``n`` customers, drawn in this order (the order fixes the log for a seed)."""
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
    return channel, country, lifetime, rate, basket


def _purchases(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    life_end: np.ndarray,
    rate: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, day) of each purchase in [start, end) at each customer's rate, thinned in the
    decline window before their hidden end of life."""
    active = np.maximum(end - start, 0.0)
    counts = rng.poisson(rate * active)
    owner = np.repeat(np.arange(start.size), counts)
    t = start[owner] + rng.uniform(0.0, 1.0, size=owner.size) * active[owner]
    into_decline = np.clip((t - (life_end[owner] - DECLINE_DAYS)) / DECLINE_DAYS, 0.0, 1.0)
    keep = rng.uniform(size=owner.size) >= 0.8 * into_decline
    return owner[keep], t[keep]


def _transactions(
    rng: np.random.Generator,
    owner: np.ndarray,
    t: np.ndarray,
    basket: np.ndarray,
    ids: np.ndarray,
    id_prefix: str,
    id_digits: int,
    scale: np.ndarray | None = None,
) -> pd.DataFrame:
    """The transactions of purchases (owner, day): amounts around each owner's basket (times
    ``scale`` where given), quantities, in time order; draws amounts, then quantities."""
    amount = basket[owner] * rng.lognormal(0.0, 0.35, size=owner.size)
    if scale is not None:
        amount = amount * scale
    amount = np.maximum(np.round(amount, 2), 0.5)
    quantity = 1 + rng.poisson(np.clip(basket[owner] / 30.0, 0.2, None))
    order = np.lexsort((owner, t))
    owner, t, amount, quantity = owner[order], t[order], amount[order], quantity[order]
    seconds = np.floor(t * 86400.0).astype("int64")
    return pd.DataFrame(
        {
            "transaction_id": _numbered(id_prefix, id_digits, owner.size),
            "customer_id": pa.array(ids, pa.large_string()).take(pa.array(owner)).to_pandas(),
            "transaction_ts": START + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "quantity": quantity.astype("int64"),
        }
    )


def _numbered(prefix: str, digits: int, n: int) -> pd.Series:
    """``prefix`` + 0..n-1 zero-padded, built in Arrow: a 50M-row log's ids as Python strings
    would take several GB on their way into the frame."""
    numbers = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.large_string())
    padded = pc.utf8_lpad(numbers, digits, "0")
    text = pa.large_string()
    joined = pc.binary_join_element_wise(pa.scalar(prefix, text), padded, pa.scalar("", text))
    return joined.to_pandas()


def continuation(
    customers: int = 5000,
    seed: int = 7,
    days: int = 120,
    drift_from: int | None = None,
    spend_scale: float = 1.0,
) -> GeneratedLog:
    """The ``days`` days after the log ``generate(customers, seed)`` ends: its customers buy
    on for as long as their hidden lifetimes last, and new customers sign up at the same rate
    as before (their CRM rows in ``customers``). From day ``drift_from`` of the continuation
    (0 = its first day) every basket is ``spend_scale`` times larger: a drift in spending that
    leaves the churn process alone. Deterministic for its arguments."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    rng = np.random.default_rng(seed)
    n = customers
    signup_day = rng.integers(0, DAYS - 30, size=n).astype(float)
    _, _, lifetime, rate, basket = _traits(rng, n)
    later = np.random.default_rng([seed, 2, days])
    arrivals = int(later.poisson(n / (DAYS - 30) * days))
    new_signup = np.sort(DAYS + later.uniform(0.0, days, size=arrivals))
    channel, country, new_lifetime, new_rate, new_basket = _traits(later, arrivals)

    life_end = np.concatenate([signup_day + lifetime, new_signup + new_lifetime])
    rates = np.concatenate([rate, new_rate])
    baskets = np.concatenate([basket, new_basket])
    starts = np.concatenate([np.full(n, float(DAYS)), new_signup])
    owner, t = _purchases(later, starts, np.minimum(life_end, DAYS + days), life_end, rates)
    owner = np.concatenate([np.arange(n, n + arrivals), owner])  # a first purchase on signup
    t = np.concatenate([new_signup, t])

    scale = None
    if drift_from is not None:
        scale = np.where(t >= DAYS + drift_from, spend_scale, 1.0)
    ids = np.array([f"C{i:07d}" for i in range(n + arrivals)])
    transactions = _transactions(later, owner, t, baskets, ids, f"T{seed}-{days}-", 9, scale)
    signed_up = START + pd.to_timedelta(np.floor(new_signup * 86400.0), unit="s")
    new_customers = pd.DataFrame(
        {
            "customer_id": ids[n:],
            "signup_date": signed_up.date,
            "acquisition_channel": channel,
            "country": country,
            "segment": SEGMENTS[0],
            "updated_at": signed_up,
        }
    )
    return GeneratedLog(
        customers=new_customers, transactions=transactions, customer_history=new_customers
    )


def write_days(log: GeneratedLog, folder: Path) -> list[Path]:
    """One ``<YYYY-MM-DD>.csv`` per day with transactions, and ``<YYYY-MM-DD>.customers.csv``
    with the CRM rows of the customers who signed up that day, as ``landing/`` takes them."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    days = log.transactions["transaction_ts"].dt.strftime("%Y-%m-%d")
    for day, rows in log.transactions.groupby(days, sort=True):
        rows.to_csv(folder / f"{day}.csv", index=False)
        written.append(folder / f"{day}.csv")
    signups = log.customers["updated_at"].dt.strftime("%Y-%m-%d")
    for day, rows in log.customers.groupby(signups, sort=True):
        rows.to_csv(folder / f"{day}.customers.csv", index=False)
        written.append(folder / f"{day}.customers.csv")
    return written


def _attribute_history(
    rng: np.random.Generator,
    ids: np.ndarray,
    signup_day: np.ndarray,
    country: np.ndarray,
    rate: np.ndarray,
    life_end: np.ndarray,
) -> pd.DataFrame:
    """Attribute versions (customer_id, updated_at, country, segment) up to the end of data.

    Drawn from their own generator so that the transactions stay byte-identical to those of
    earlier versions of this module for the same seed.
    """
    n = ids.size
    events: list[tuple[int, float, str, str]] = []  # (customer, day, country, segment)
    joins = rng.uniform(size=n) < np.minimum(0.8, JOIN_RATE_SCALE * rate * 30.0)
    join_day = signup_day + 1.0 + rng.exponential(MEAN_JOIN_DELAY_DAYS, size=n)
    leaving = life_end < DAYS
    cancels = rng.uniform(size=n) < np.where(leaving, CANCEL_BEFORE_LEAVING, CANCEL_BY_CHANCE)
    cancel_day = np.where(
        leaving,
        life_end - rng.uniform(0.0, DECLINE_DAYS, size=n),
        join_day + rng.uniform(30.0, 700.0, size=n),
    )
    moves = rng.uniform(size=n) < MOVE_SHARE
    move_day = signup_day + rng.uniform(0.0, DAYS, size=n)
    new_country = rng.choice(COUNTRIES, size=n, p=COUNTRY_WEIGHTS)
    seconds = rng.uniform(0.0, 86400.0, size=(n, 3))
    for i in range(n):
        changes = [(float(signup_day[i]), "signup")]
        if joins[i] and join_day[i] < DAYS:
            changes.append((join_day[i] + seconds[i, 0] / 86400.0, "join"))
            if cancels[i] and join_day[i] < cancel_day[i] < DAYS:
                changes.append((cancel_day[i] + seconds[i, 1] / 86400.0, "cancel"))
        if moves[i] and move_day[i] < DAYS and new_country[i] != country[i]:
            changes.append((move_day[i] + seconds[i, 2] / 86400.0, "move"))
        where, segment = country[i], SEGMENTS[0]
        for day, kind in sorted(changes):
            if kind == "join":
                segment = SEGMENTS[1]
            elif kind == "cancel":
                segment = SEGMENTS[2]
            elif kind == "move":
                where = new_country[i]
            events.append((i, day, where, segment))
    owner = np.array([e[0] for e in events])
    day = np.array([e[1] for e in events])
    return pd.DataFrame(
        {
            "customer_id": ids[owner],
            "updated_at": START + pd.to_timedelta(np.floor(day * 86400.0), unit="s"),
            "country": [e[2] for e in events],
            "segment": [e[3] for e in events],
        }
    )
