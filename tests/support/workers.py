"""Distinct workers for load and reliability runs: one open stay per worker and kind is the
rule (N§33, B§28), so a run that keeps many stays open at once admits each for its own worker.

:func:`worker_for` seeds, into a running simulator, a worker with a valid Beijing medical
filing whose numbers derive from a key (a visit id), and returns the card number to admit with.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

SHANGHAI = ZoneInfo("Asia/Shanghai")


def worker_rows(key: str, today: date | None = None) -> tuple[str, dict[str, list[dict]]]:
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % 10**9
    psn_no = f"W{digest:09d}"
    card_no = f"310100W{digest:09d}"
    # The adapter's day (Shanghai), not the machine's (UTC on CI): the filing is checked
    # against the admission's local date.
    day = today or datetime.now(SHANGHAI).date()
    seed = filed_worker(
        psn_no,
        card_no,
        f"310102198001{digest % 10**6:06d}",
        name="负载测试",
        filing_no=f"F{psn_no}",
        begndate=(day - timedelta(days=100)).isoformat(),
        enddate=(day + timedelta(days=300)).isoformat(),
        filed_on=(day - timedelta(days=101)).isoformat(),
    )
    return card_no, seed


def filed_worker(
    psn_no: str, card_no: str, certno: str, *, name: str, filing_no: str, **filing: Any
) -> dict[str, list[dict]]:
    """The simulator's seed of one worker insured in Shanghai (310100) with an active
    long-term-residence filing for medical treatment in Beijing, of 左手; ``filing`` adds to
    the filing or overrides it (its dates, its status)."""
    return {
        "people": [
            {"psn_no": psn_no, "certno": certno, "psn_name": name,
             "gend": "1", "brdy": "1980-01-01", "insuplc_admdvs": "310100", "card_no": card_no,
             "card_status": "normal"}
        ],
        "filings": [
            {"filing_no": filing_no, "psn_no": psn_no, "category": "long_term_residence",
             "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
             "injury_parts": ["左手"], "insuplc_admdvs": "310100", **filing}
        ],
    }  # fmt: skip


def worker_citizen_id(key: str) -> str:
    """The citizen ID of the worker :func:`seeded_worker` seeds for ``key``: what a HIS sends
    in PID-3 (``NI``) with every later message of the stay."""
    return str(worker_rows(key, date(2000, 1, 1))[1]["people"][0]["certno"])


def worker_for(sim_url: str, key: str) -> str:
    """Seed the worker for ``key`` into the simulator at ``sim_url``; return their card."""
    return seeded_worker(sim_url, key)[0]


def seeded_worker(sim_url: str, key: str) -> tuple[str, str, str]:
    """Seed the worker for ``key``; return (card number, citizen ID, name) as HL7 PID sends."""
    card_no, seed = worker_rows(key)
    reply = httpx.post(f"{sim_url}/_sim/seed", json=seed, timeout=30)
    if reply.status_code != 200:
        raise RuntimeError(f"seeding worker {key}: {reply.text}")
    person = seed["people"][0]
    return card_no, str(person["certno"]), str(person["psn_name"])
