"""The month the month-end benchmark (:mod:`benchmarks.month_end`) reconciles: ``count``
settlements seeded in bulk, and upstream's figures for the same month.

One stay per settlement, each with its discharge (``WI2301``) or device (``WI2701``) upload:
99 % delivered (in the queue's delivery ledger), 1 % still queued; one in 200 revoked, each
with its revocation (``WI2305``) delivered, but one in four of those still queued.
Upstream's figures (``WI3201``) are built by an in-process gateway from the same numbers, with
a few differences planted (amounts, missing on either side, one in ten revoked settlements
still in effect there: their revocations' uploads are looked up), so the comparison has
work to do. Every figure is a function of the settlement's number, so the seeding process and the
measuring processes agree on the month without sharing anything but the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
INSTITUTION = "H11010000001"
KINDS = ("medical", "medical", "medical", "medical", "medical", "rehab", "rehab", "device")


def last_month(today: date) -> str:
    first = today.replace(day=1)
    last = first - timedelta(days=1)
    return f"{last:%Y-%m}"


def period(month: str) -> tuple[datetime, datetime]:
    year, number = (int(x) for x in month.split("-"))
    start = datetime(year, number, 1, tzinfo=ZONE)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=ZONE)
    return start, end


def _amounts(n: int) -> tuple[Decimal, Decimal, Decimal]:
    total = Decimal(800 + n % 9000) + Decimal(n % 100) / 100
    fund = (total * Decimal("0.9")).quantize(Decimal("0.01"))
    return total, fund, total - fund


def _settled_at(n: int, count: int, month: str) -> datetime:
    start, end = period(month)
    step = (end - start) / (count + 1)
    return (start + step * (n + 1)).astimezone(UTC)


def _revoked(n: int) -> bool:
    return n % 200 == 7


def _delivered(n: int) -> bool:
    return n % 100 != 3


def _revocation_delivered(n: int) -> bool:
    return n % 800 != 7  # of the revoked (n % 200 == 7): one in four still queued


def _still_in_effect_upstream(n: int) -> bool:
    return n % 2000 == 7  # of the revoked: one in ten


# -- seeding ------------------------------------------------------------------------------------


def seed(url: str, count: int, month: str) -> None:
    from sqlalchemy import insert

    from adapter.store.db import make_engine
    from adapter.store.migrate import upgrade
    from adapter.store.sql import table
    from adapter.store.tables import EncounterRow, SettlementRow
    from adapter.store.tables.workflow import service_upload
    from upload_queue.tables import upload_delivery, upload_job

    engine = make_engine(url)
    upgrade(engine)
    encounter, settlement = table(EncounterRow), table(SettlementRow)
    chunk = 5_000
    with engine.begin() as connection:
        for first in range(0, count, chunk):
            encounters, settlements, uploads, ledger, jobs = [], [], [], [], []
            for n in range(first, min(count, first + chunk)):
                kind = KINDS[n % len(KINDS)]
                at = _settled_at(n, count, month)
                admitted = at - timedelta(days=5 + n % 40)
                total, fund, personal = _amounts(n)
                infno = "WI2701" if kind == "device" else "WI2301"
                encounters.append(
                    {
                        "id": f"E{n:08d}", "kind": kind, "psn_no": f"P{n % 30000:08d}",
                        "filing_no": f"F{n % 30000:08d}", "institution_code": INSTITUTION,
                        "his_visit_id": f"V{n:08d}", "admitted_at": admitted,
                        "discharged_at": at, "status": "settled", "insured_admdvs": "310100",
                        "department": "骨科", "diagnoses": ["S62.301"], "injury_parts": ["左手"],
                        "version": 3, "ready_to_settle": False, "created_at": admitted,
                        "updated_at": at,
                    }
                )  # fmt: skip
                settlements.append(
                    {
                        "id": f"S{n:08d}", "encounter_id": f"E{n:08d}", "slip_no": f"J{n:09d}",
                        "settled_at": at, "discharged_on": at.astimezone(ZONE).date(),
                        "month": month, "total": total, "fund_pay": fund,
                        "personal_pay": personal, "out_of_catalogue": Decimal(0),
                        "over_limit": Decimal(0), "non_work_injury": Decimal(0),
                        "excluded_total": Decimal(0), "crosses_year": False, "notes": [],
                        "operator": "收费员", "status": "revoked" if _revoked(n) else "settled",
                        "revoked_at": at + timedelta(hours=1) if _revoked(n) else None,
                        "revoke_reason": "费用有误" if _revoked(n) else "",
                    }
                )  # fmt: skip
                uploads.append(
                    {
                        "encounter_id": f"E{n:08d}", "settlement_id": f"S{n:08d}",
                        "infno": infno, "msgid": f"M{n:08d}", "job_id": n + 1,
                        "deadline": at + timedelta(minutes=30), "created_at": at,
                    }
                )  # fmt: skip
                if _revoked(n):
                    revocation = {"msgid": f"R{n:08d}", "job_id": count + n + 1}
                    uploads.append(
                        {
                            "encounter_id": f"E{n:08d}", "settlement_id": f"S{n:08d}",
                            "infno": "WI2305", **revocation,
                            "deadline": at + timedelta(hours=2), "created_at": at,
                        }
                    )  # fmt: skip
                    if _revocation_delivered(n):
                        ledger.append(
                            {
                                "job_id": count + n + 1, "kind": "WI2305",
                                "ordering_key": f"E{n:08d}", "idempotency_key": f"R{n:08d}",
                                "reference": f"R{n:08d}",
                                "delivered_at": at + timedelta(hours=1, seconds=30),
                                "reply_code": "0", "reply_ref": "",
                            }
                        )  # fmt: skip
                    else:
                        jobs.append(
                            {
                                "kind": "WI2305", "payload": {"msgid": f"R{n:08d}"},
                                "idempotency_key": f"R{n:08d}", "ordering_key": f"E{n:08d}",
                                "deadline": at + timedelta(hours=2), "created_at": at,
                                "status": "pending", "available_at": at, "attempts": 1,
                                "total_attempts": 1, "round_started_at": at,
                            }
                        )  # fmt: skip
                if _delivered(n):
                    ledger.append(
                        {
                            "job_id": n + 1, "kind": infno, "ordering_key": f"E{n:08d}",
                            "idempotency_key": f"M{n:08d}", "reference": f"M{n:08d}",
                            "delivered_at": at + timedelta(seconds=30), "reply_code": "0",
                            "reply_ref": "",
                        }
                    )  # fmt: skip
                else:
                    jobs.append(
                        {
                            "kind": infno, "payload": {"msgid": f"M{n:08d}"},
                            "idempotency_key": f"M{n:08d}", "ordering_key": f"E{n:08d}",
                            "deadline": at + timedelta(minutes=30), "created_at": at,
                            "status": "pending", "available_at": at, "attempts": 3,
                            "total_attempts": 3, "round_started_at": at,
                        }
                    )  # fmt: skip
            connection.execute(insert(encounter), encounters)
            connection.execute(insert(settlement), settlements)
            connection.execute(insert(service_upload), uploads)
            connection.execute(insert(upload_delivery), ledger)
            if jobs:
                connection.execute(insert(upload_job), jobs)
    engine.dispose()


# -- upstream's figures -------------------------------------------------------------------------


class FiguresGateway:
    """``WI3201`` answered in-process from the seeded numbers, with planted differences:
    every 1,000th settlement's amount differs, every 2,500th is missing upstream, and two
    settlements upstream does not know are listed. Other calls go to ``inner``."""

    def __init__(self, inner: Any, count: int) -> None:
        self._inner = inner
        self._count = count
        self._figures: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reconciliation(self, month: str, *, context: str = "") -> Any:
        if self._figures is None or self._figures.month != month:
            self._figures = self._build(month)
        return self._figures

    def _build(self, month: str) -> Any:
        from adapter.domain.upstream import ReconciledSettlement, ReconciliationFigures

        items = []
        for n in range(self._count):
            if n % 2500 == 11 or not _delivered(n):
                continue
            total, fund, personal = _amounts(n)
            if n % 1000 == 5:
                total, fund = total + 1, fund + 1
            items.append(
                ReconciledSettlement(
                    f"S{n:08d}", f"M{n:08d}", f"P{n % 30000:08d}", KINDS[n % len(KINDS)],
                    _settled_at(n, self._count, month).astimezone(ZONE).date(),
                    total, fund, personal,
                    revoked=_revoked(n) and not _still_in_effect_upstream(n),
                )
            )  # fmt: skip
        for extra in range(2):
            items.append(
                ReconciledSettlement(
                    f"X{extra:08d}", f"XM{extra}", "P99999999", "medical",
                    period(month)[0].date(), Decimal("100.00"), Decimal("90.00"),
                    Decimal("10.00"),
                )
            )  # fmt: skip
        effective = [i for i in items if not i.revoked]
        return ReconciliationFigures(
            INSTITUTION,
            month,
            len(effective),
            sum((i.total for i in effective), Decimal(0)),
            sum((i.fund_pay for i in effective), Decimal(0)),
            sum((i.personal_pay for i in effective), Decimal(0)),
            tuple(items),
        )
