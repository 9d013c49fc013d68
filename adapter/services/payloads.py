"""Upload job payloads: what each queued write sends upstream (reference dialect, §3).

Every job's payload has one shape, whatever the transaction::

    {"infno": "WI2301", "msgid": "<30 chars>", "insuplc_admdvs": "310100",
     "context": "<encounter id>", "input": {...}}

A queue handler sends it with ``gateway.submit(Infno(p["infno"]), job.idempotency_key,
p["input"], insuplc_admdvs=p["insuplc_admdvs"], context=p["context"])``; ``msgid`` equals the
job's idempotency key and is repeated here only so an operator reading the job sees it.

``input`` uses the dialect's field names: money as strings to the fen (``"123.45"``),
quantities as plain decimal strings, times as local ``YYYY-MM-DD HH:MM:SS``. The inputs:

* ``WI2401`` admission: ``mdtrt_id`` (our encounter id), ``psn_no``, ``begntime``,
  ``med_type``, ``filing_no``, ``injury_parts``, ``dept``, ``his_visit_id``, ``diseinfo``,
  ``psninfo``, ``medinsinfo``.
* ``WI2404`` admission revocation: ``mdtrt_id``, ``psn_no``, ``reason``.
* ``WI2501`` rehab plan: ``mdtrt_id``, ``psn_no``, ``plan_revision`` and the plan
  (``goals``, ``items``, ``frequency``, ``expected_days``).
* ``WI2301`` discharge record (N§33, B§31, B§32): ``mdtrt_id``, ``setl_id``, ``slip_no``,
  ``psn_no``, ``med_type``, ``setl_time``, ``begntime``, ``endtime``, ``psninfo`` (worker),
  ``medinsinfo`` (institution), ``diseinfo`` (discharge diagnoses), ``filing_no``,
  ``injury_parts``; the settlement ``medfee_sumamt`` = ``fund_pay_sumamt`` + ``psn_pay``
  and its ``breakdown`` (``out_of_catalogue``, ``over_limit``, ``non_work_injury``,
  ``excluded_total``), ``crosses_year``; ``feedetail``: every priced line with
  ``feedetl_sn`` (the HIS line id), ``init_feedetl_sn`` (the original, for a reversal) and
  ``batch_no`` — lines are numbered into batches of ``feedetail_batch_size`` (default 100),
  ``feedetail_batch_cnt`` batches in all, for dialects that take details batch by batch.
  The job does not hold ``feedetail``: its payload names the settlement (``"details_of":
  "<settlement id>"``) and the details are formatted from the settlement's snapshot when the
  job is delivered (:func:`adapter.services.uploads.fee_details`), the same lines every time
  it is sent. A 90-day stay's details are 10,000 lines, 3 MB of JSON: settling does not
  format, encode and store them while the clerk waits, nor does the queue keep them twice.
* ``WI2305`` settlement revocation: ``setl_id``, ``mdtrt_id``, ``psn_no``, ``reason``,
  ``omsgid`` (the discharge or device upload it revokes).
* ``WI2701`` device settlement (N§34, B§35): as ``WI2301`` without admission fields, plus
  ``approval_notice_no`` and ``device_assessment_no``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

from adapter.domain.commands import Diagnosis
from adapter.domain.encounters import Encounter
from adapter.domain.filings import Filing
from adapter.domain.money import to_fen
from adapter.domain.people import Person
from adapter.domain.pricing import PricedLine
from adapter.domain.settlement import Breakdown, Settlement
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext, wall_time


def job_payload(
    infno: Infno,
    msgid: str,
    input: Mapping[str, Any],
    *,
    insuplc_admdvs: str,
    context: str,
    details_of: str = "",
    revokes: str = "",
) -> dict[str, Any]:
    payload = {
        "infno": infno.value,
        "msgid": msgid,
        "insuplc_admdvs": insuplc_admdvs,
        "context": context,
        "input": dict(input),
    }
    if details_of:
        payload[DETAILS_OF] = details_of
    if revokes:
        payload[REVOKES] = revokes
    return payload


# The job's settlement whose snapshot lines are the write's ``feedetail``, added when the job
# is delivered (see the module docstring).
DETAILS_OF = "details_of"
# A revocation's (WI2305) original upload, by its job's key: its ``omsgid`` is set again when
# the revocation is delivered, to the msgid upstream then holds the upload under — IT may have
# re-sent a refused upload under a fresh msgid after the revocation was queued behind it.
REVOKES = "revokes"


def money(value: Decimal) -> str:
    return str(to_fen(value))


def number(value: Decimal) -> str:
    """A quantity or unit price without trailing zeros: ``Decimal('2.5000')`` → ``"2.5"``."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """How the store keeps a diagnosis: ``"<ICD-10 code> <name>"`` (codes have no spaces)."""
    return f"{diagnosis.code} {diagnosis.name}".strip()


def diagnosis_of(text: str) -> Diagnosis:
    code, _, name = text.partition(" ")
    return Diagnosis(code, name)


def diseinfo(diagnoses: Iterable[str], kind: str) -> list[dict[str, str]]:
    return [
        {"diag_code": d.code, "diag_name": d.name, "diag_type": kind, "diag_srt_no": str(n)}
        for n, d in enumerate((diagnosis_of(t) for t in diagnoses), start=1)
    ]


def psninfo(person: Person) -> dict[str, str]:
    """The worker: full citizen ID, because upstream matches on it (never logged: §3)."""
    return {
        "psn_no": person.psn_no,
        "psn_name": person.name,
        "gend": person.gender.value,
        "certno": person.citizen_id,
        "brdy": person.birth_date.isoformat() if person.birth_date else "",
        "insuplc_admdvs": person.insured_admdvs,
    }


def medinsinfo(ctx: ServiceContext) -> dict[str, str]:
    institution = ctx.institution
    return {
        "fixmedins_code": institution.code,
        "fixmedins_name": institution.name,
        "mdtrtarea_admvs": institution.admdvs,
    }


def admission_input(
    ctx: ServiceContext, encounter: Encounter, person: Person, filing: Filing
) -> dict[str, Any]:
    return {
        "mdtrt_id": encounter.id,
        "psn_no": encounter.psn_no,
        "begntime": ctx.wall_time(encounter.admitted_at),
        "med_type": encounter.kind.value,
        "filing_no": filing.filing_no,
        "injury_parts": list(encounter.injury_parts),
        "dept": encounter.department,
        "his_visit_id": encounter.his_visit_id,
        "diseinfo": diseinfo(encounter.diagnoses, "admission"),
        "psninfo": psninfo(person),
        "medinsinfo": medinsinfo(ctx),
    }


def admission_revoke_input(encounter: Encounter, reason: str) -> dict[str, Any]:
    return {"mdtrt_id": encounter.id, "psn_no": encounter.psn_no, "reason": reason}


def rehab_plan_input(
    encounter: Encounter, plan: Mapping[str, Any], revision: int
) -> dict[str, Any]:
    return {
        "mdtrt_id": encounter.id,
        "psn_no": encounter.psn_no,
        "plan_revision": revision,
        **dict(plan),
    }


def feedetail(lines: Sequence[PricedLine], *, size: int, zone: tzinfo) -> list[dict[str, Any]]:
    """The lines as upstream is sent them, numbered into batches of ``size``; fee times are
    local to ``zone``."""
    details = []
    # A stay's lines share a few fee times (a day's charges, one batch's), a few prices and
    # amounts, categories and reasons: each is formatted once, not once per line (a 90-day
    # stay's discharge record has 10,000 lines).
    times: dict[datetime, str] = {}
    fens: dict[Decimal, str] = {}
    numbers: dict[Decimal, str] = {}
    enums: dict[StrEnum | None, str] = {None: ""}

    def fen(value: Decimal) -> str:
        if not value:  # -0 equals 0 but formats as "-0.00", as it did before the cache
            return "-0.00" if value.is_signed() else "0.00"
        text = fens.get(value)
        if text is None:
            # keyed by value: Decimal("2") == Decimal("2.00"), and both format as "2.00"
            text = fens[value] = money(value)
        return text

    def plain(value: Decimal) -> str:
        text = numbers.get(value)
        if text is None:
            # Decimal("2.5") == Decimal("2.50") format alike here too (trailing zeros go)
            text = numbers[value] = number(value)
        return text

    def code(member: StrEnum | None) -> str:
        text = enums.get(member)
        if text is None:
            text = enums[member] = member.value if member is not None else ""
        return text

    # A reversal goes with its original's flag, which priced it and which upstream pairs it
    # with: a credit sent without one (an HL7 CD without ZFT reads as work injury) keeps its
    # own as the HIS sent it, so a resend is the same fee, and is uploaded as its original.
    flags: dict[str, bool] = {}
    for position, priced in enumerate(lines):
        line, item = priced.line, priced.item
        if line.is_reversal:
            work_injury = flags.get(line.reverses, line.work_injury)
        else:
            work_injury = flags[line.line_id] = line.work_injury
        occurred = times.get(line.occurred_at)
        if occurred is None:
            occurred = times[line.occurred_at] = wall_time(line.occurred_at, zone)
        rule = priced.rule
        details.append(
            {
                "feedetl_sn": line.line_id,
                "init_feedetl_sn": line.reverses if line.is_reversal else "",
                "batch_no": position // size + 1,
                "med_list_codg": line.item_code,
                "hilist_code": item.code if item else "",
                "hilist_name": item.name if item else line.item_name,
                "item_name": line.item_name,
                "med_chrgitm_type": code(line.category),
                "cnt": plain(line.quantity),
                "pric": plain(line.unit_price),
                "det_item_fee_sumamt": fen(line.amount),
                "fee_ocur_time": occurred,
                "work_injury": work_injury,
                "dept": line.department,
                "fund_pay": fen(priced.fund_pay),
                "psn_pay": fen(priced.personal_pay),
                "psn_pay_reason": code(priced.reason),
                "rule_code": rule.code,
                "rule_article": rule.article,
            }
        )
    return details


def settlement_totals(breakdown: Breakdown) -> dict[str, Any]:
    return {
        "medfee_sumamt": money(breakdown.total),
        "fund_pay_sumamt": money(breakdown.fund_pay),
        "psn_pay": money(breakdown.personal_pay),
        "breakdown": {
            "out_of_catalogue": money(breakdown.out_of_catalogue),
            "over_limit": money(breakdown.over_limit),
            "non_work_injury": money(breakdown.non_work_injury),
            "excluded_total": money(breakdown.excluded_total),
        },
    }


def _settlement_common(
    ctx: ServiceContext, settlement: Settlement, person: Person, filing: Filing
) -> dict[str, Any]:
    encounter = settlement.encounter
    size = ctx.policy.fee_batch_size
    return {
        "setl_id": settlement.id,
        "slip_no": settlement.slip_no,
        "psn_no": encounter.psn_no,
        "med_type": encounter.kind.value,
        "setl_time": ctx.wall_time(settlement.settled_at),
        "setl_date": settlement.settled_on(ctx.zone).isoformat(),  # the day of setl_time
        "psninfo": psninfo(person),
        "medinsinfo": medinsinfo(ctx),
        "filing_no": filing.filing_no,
        "injury_parts": list(encounter.injury_parts or filing.injury_parts),
        **settlement_totals(settlement.breakdown),
        "crosses_year": settlement.bill.crosses_year,
        "feedetail_batch_size": size,
        "feedetail_batch_cnt": (settlement.bill.line_count + size - 1) // size,
        "opter_name": settlement.operator,
    }


def discharge_input(
    ctx: ServiceContext, settlement: Settlement, person: Person, filing: Filing
) -> dict[str, Any]:
    encounter = settlement.encounter
    discharged = encounter.discharged_at or settlement.settled_at
    return {
        "mdtrt_id": encounter.id,
        **_settlement_common(ctx, settlement, person, filing),
        "begntime": ctx.wall_time(encounter.admitted_at),
        "endtime": ctx.wall_time(discharged),
        "dept": encounter.department,
        "his_visit_id": encounter.his_visit_id,
        "diseinfo": diseinfo(encounter.diagnoses, "discharge"),
    }


def device_input(
    ctx: ServiceContext, settlement: Settlement, person: Person, filing: Filing
) -> dict[str, Any]:
    return {
        "mdtrt_id": settlement.encounter.id,
        **_settlement_common(ctx, settlement, person, filing),
        "fitted_time": ctx.wall_time(settlement.encounter.admitted_at),
        "approval_notice_no": filing.approval_notice_no,
        "device_assessment_no": filing.device_assessment_no,
    }


def revoke_input(settlement: Settlement, reason: str, omsgid: str) -> dict[str, Any]:
    return {
        "setl_id": settlement.id,
        "mdtrt_id": settlement.encounter.id,
        "psn_no": settlement.encounter.psn_no,
        "reason": reason,
        "omsgid": omsgid,
    }
