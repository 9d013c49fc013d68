"""Device workers and insured places' device catalogues seeded into the simulator over HTTP:
what the device tests (use case, REST, pages) need beyond the demo seed.

The demo seed publishes device catalogues for 310100 (上海市) and 130100 (石家庄市), and for the
province 320000 (江苏省); none for any other region. A worker insured in a district of one of
those (310104 徐汇区) falls back to the city's; in 320102 (南京市玄武区) to the province's; in
370102 (济南市历下区) finds none.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from connectors.upstream.simulator.demo_seed import citizen_id, demo_seed
from tests.integration.services.helpers import CARD_NO, TODAY

NOTICE = "沪工伤辅核〔2026〕第0421号"
ARM, ORTHOSIS, WHEELCHAIR = "SH-FZ-0101", "SH-FZ-0305", "SH-FZ-0501"
NAMES = {ARM: "前臂假肢（肌电控制）", ORTHOSIS: "腕手矫形器", WHEELCHAIR: "普通轮椅"}


def seed(sim_url: str, **rows: list[dict[str, Any]]) -> None:
    reply = httpx.post(f"{sim_url}/_sim/seed", json=rows, timeout=10)
    assert reply.status_code == 200, reply.text


def device_worker(
    sim_url: str,
    psn_no: str,
    *,
    insured: str = "310100",
    notice: str = NOTICE,
    filing_no: str = "",
    devices: list[dict[str, Any]] | None = None,
    person: bool = True,
) -> str:
    """Seed a worker insured in ``insured`` with a device filing under ``notice`` (P011's,
    copied); returns the card number (also added to ``CARD_NO`` so ``card()`` finds it)."""
    base = demo_seed(TODAY)
    card_no = f"{insured}Z{psn_no[1:]:0>4}"
    rows: dict[str, list[dict[str, Any]]] = {}
    if person:
        worker = dict(next(p for p in base["people"] if p["psn_no"] == "P011"))
        worker.update(
            psn_no=psn_no,
            psn_name="钱芳",
            certno=citizen_id(insured[:4] + "02", date(1980, 4, 4), int(psn_no[1:]) % 1000),
            insuplc_admdvs=insured,
            card_no=card_no,
            card_sn=f"{insured}D156{psn_no[1:]:0>8}",
        )
        rows["people"] = [worker]
    filing = dict(next(f for f in base["filings"] if f["psn_no"] == "P011"))
    filing.update(filing_no=filing_no or f"F{psn_no[1:]}", psn_no=psn_no, approval_notice_no=notice)
    if devices is not None:
        filing["devices"] = devices
    rows["filings"] = [filing]
    seed(sim_url, **rows)
    CARD_NO[psn_no] = card_no
    return card_no


def filed_item(code: str, limit: str, min_years: int = 2) -> dict[str, Any]:
    """One item of a device filing (附表2), its limit written as upstream sends it."""
    return {"device_code": code, "device_name": NAMES[code], "min_years": min_years,
            "limit": limit}  # fmt: skip


def renew_notice(sim_url: str, psn_no: str, old_filing: str, new_filing: str, notice: str) -> None:
    """The insured place approves a replacement: the old device filing is changed (变更) into
    a new one carrying a new approval notice (N§15)."""
    base = demo_seed(TODAY)
    template = next(f for f in base["filings"] if f["psn_no"] == "P011")
    old = dict(template, filing_no=old_filing, psn_no=psn_no, status="changed",
               successor_no=new_filing)  # fmt: skip
    new = dict(template, filing_no=new_filing, psn_no=psn_no, approval_notice_no=notice,
               filing_type="change", filed_on=(TODAY - timedelta(days=1)).isoformat())  # fmt: skip
    seed(sim_url, filings=[old, new])


def device_catalogue(sim_url: str, region: str, *items: tuple[str, str, str]) -> None:
    """Publish a device catalogue for ``region`` (code, name, limit), version ``<year>.7``."""
    version = f"{TODAY.year}.7"
    rows = [
        {"kind": "device", "code": code, "name": name, "region": region, "unit": "具",
         "price_cap": None, "limit": limit, "version": version,
         "begndate": date(TODAY.year, 1, 1).isoformat()}
        for code, name, limit in items
    ]  # fmt: skip
    seed(sim_url, catalogue=rows)
