"""The upstream gateway: what the adapter needs from the provincial/national system.

The port is :class:`UpstreamGateway`: one method per read of the reference dialect, and
:meth:`~UpstreamGateway.submit` for every write, by its ``infno`` (interfaces.md §3).
Filings are read from, and settlements sent to, the national system through the provincial
one, never typed in by hand (N§5, B§5: electronic transfer of filing and settlement
information). ``connectors/upstream/`` implements it per dialect; the
composition root wires one in; tests may hand in a fake that really behaves.

Contract shared by every implementation:

* **Reads** (sign-in, person, e-card, filings, institution, catalogue, reconciliation,
  deductions) return domain types. A clerk may be waiting, so an implementation may retry a
  read briefly, bounded by its read budget, never longer.
* **Writes** take an explicit ``msgid`` — the upload queue's idempotency key, made by
  :func:`make_msgid` — and a JSON-able ``input`` dict. An implementation sends the write
  exactly once per call and never retries it: the queue owns retries, and re-sends the
  *same* ``msgid``, which upstream answers with its first reply (interfaces.md §3). A write
  whose reply was lost and which the institution abandons is undone by a reversal
  (``WI2601``) naming the original ``omsgid`` and ``oinfno``.
* ``insuplc_admdvs`` is the worker's insured place, taken from the person query; pass it
  whenever the call concerns one worker. ``context`` names what the call is for (usually
  the encounter id) so the call log can be searched by it; it is not sent upstream.
* Failures raise :class:`~adapter.domain.errors.UpstreamError`:
  ``UpstreamUnavailable`` (transient — retry later), ``UpstreamRejected`` (permanent —
  upstream's ``err_msg`` kept in ``upstream_message``) or ``UpstreamMalformed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.filings import Filing
from adapter.domain.institutions import Institution
from adapter.domain.people import Person, Suspension


class Infno(StrEnum):
    """The reference dialect's transaction numbers (interfaces.md §3)."""

    SIGN_IN = "WI9001"
    PERSON = "WI1101"
    ECARD = "WI1102"
    FILINGS = "WI1201"
    INSTITUTION = "WI1301"
    CATALOGUE = "WI1401"
    ADMISSION = "WI2401"
    ADMISSION_REVOKE = "WI2404"
    REHAB_PLAN = "WI2501"
    DISCHARGE = "WI2301"
    SETTLEMENT_REVOKE = "WI2305"
    REVERSAL = "WI2601"
    DEVICE_SETTLEMENT = "WI2701"
    RECONCILIATION = "WI3201"
    DEDUCTIONS = "WI3202"
    DEVICE_FUNDS_CONFIRM = "WI3301"

    @property
    def is_write(self) -> bool:
        return self in WRITE_INFNOS


WRITE_INFNOS: frozenset[Infno] = frozenset(
    {
        Infno.ADMISSION,
        Infno.ADMISSION_REVOKE,
        Infno.REHAB_PLAN,
        Infno.DISCHARGE,
        Infno.SETTLEMENT_REVOKE,
        Infno.REVERSAL,
        Infno.DEVICE_SETTLEMENT,
        Infno.DEVICE_FUNDS_CONFIRM,
    }
)


class CertType(StrEnum):
    """``mdtrt_cert_type`` of the person query (WI1101)."""

    ECARD_TOKEN = "01"  # 电子社保卡令牌
    CITIZEN_ID = "02"  # 居民身份证号码
    SOCIAL_SECURITY_CARD = "03"  # 社会保障卡 (card number, with card_sn)


# What a clerk or IT reads for an upload job's status (the queue's own words are English)
UPLOAD_STATUS_LABELS = {
    "pending": "等待上传",
    "leased": "上传中",
    "in_flight": "上传中",
    "delivered": "已送达",
    "dead": "上传失败",
    # a refused settlement upload and its revocation: upstream holds nothing, nothing is sent
    "withdrawn": "已撤回（无需上传）",
}

MSGID_LENGTH = 30


def make_msgid(institution_code: str, at: datetime, sequence: int) -> str:
    """The 30-character message id: institution (12) + ``yyyyMMddHHmmss`` (14) + sequence (4).

    ``at`` is the local time of the institution (the caller converts); ``sequence`` is
    0–9999 and tells apart messages made in the same second.

    >>> make_msgid("H11010000001", datetime(2026, 11, 24, 9, 30, 5), 7)
    'H11010000001202611240930050007'
    """
    if len(institution_code) != 12 or not institution_code.isalnum():
        raise ValueError(f"institution code must be 12 letters or digits: {institution_code!r}")
    if not 0 <= sequence <= 9999:
        raise ValueError(f"msgid sequence must be 0..9999, got {sequence}")
    return f"{institution_code}{at:%Y%m%d%H%M%S}{sequence:04d}"


@dataclass(frozen=True)
class PersonRecord:
    """The person query's answer (WI1101/WI1102): the worker and any suspension (N§49, B§52).

    :class:`Person` carries no suspensions, so the two travel together.
    """

    person: Person
    suspensions: tuple[Suspension, ...] = ()
    token_expires_at: datetime | None = None  # e-card tokens only (WI1102)


@dataclass(frozen=True)
class WriteAck:
    """Upstream accepted a write. ``output`` is the dialect's ``output`` object, as sent."""

    infno: str
    msgid: str
    refmsgid: str  # inf_refmsgid: upstream's own reference for this message
    respond_time: str
    output: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReconciledSettlement:
    """One settlement as upstream recorded it for the month (WI3201)."""

    setl_id: str  # the settlement's id as uploaded (the discharge/device upload's setl_id)
    msgid: str  # the upload that carried it
    psn_no: str
    kind: str  # "medical", "rehab", "device"
    setl_date: date
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    revoked: bool = False


@dataclass(frozen=True)
class ReconciliationFigures:
    """Upstream's monthly figures for the institution (N§35, B§33, B§37)."""

    fixmedins_code: str
    month: str  # yyyy-mm
    settlement_count: int
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    settlements: tuple[ReconciledSettlement, ...] = ()


@dataclass(frozen=True)
class AuditDeduction:
    """A non-compliant fee the district agency deducted on audit (N§37, B§25)."""

    deduction_no: str
    month: str  # yyyy-mm the deduction belongs to
    setl_id: str
    psn_no: str
    item_code: str
    item_name: str
    amount: Decimal
    reason: str  # upstream's words, Chinese


class UpstreamGateway(Protocol):
    """Every transaction of the reference dialect (interfaces.md §3)."""

    # --- reads -------------------------------------------------------------------------

    def sign_in(self, *, context: str = "") -> str:
        """WI9001: the day's sign-in; returns the new ``sign_no``."""
        ...

    def query_person(
        self,
        cert_type: CertType,
        cert_no: str,
        *,
        card_sn: str = "",
        name: str = "",
        context: str = "",
    ) -> PersonRecord:
        """WI1101: the worker by citizen ID, social-security card (with ``card_sn``) or token."""
        ...

    def verify_ecard(self, qr_token: str, *, context: str = "") -> PersonRecord:
        """WI1102: verify an electronic social-security card QR token; the worker it names."""
        ...

    def query_filings(
        self, psn_no: str, *, insuplc_admdvs: str = "", context: str = ""
    ) -> list[Filing]:
        """WI1201: every filing of the worker, in every status (the domain picks)."""
        ...

    def institution_status(self, fixmedins_code: str, *, context: str = "") -> Institution:
        """WI1301: an institution's direct-settlement status (N§17, B§23)."""
        ...

    def download_catalogue(
        self, kind: CatalogueKind, region: str, *, since_version: str = "", context: str = ""
    ) -> list[CatalogueItem]:
        """WI1401: catalogue items of ``kind`` for ``region`` newer than ``since_version``."""
        ...

    def reconciliation(self, month: str, *, context: str = "") -> ReconciliationFigures:
        """WI3201: this institution's figures for ``month`` (yyyy-mm)."""
        ...

    def audit_deductions(self, month: str, *, context: str = "") -> list[AuditDeduction]:
        """WI3202: the audit deductions for ``month`` (yyyy-mm)."""
        ...

    # --- writes (sent once, never retried here; see the module docstring) ---------------

    def submit(
        self,
        infno: Infno,
        msgid: str,
        input: Mapping[str, Any],
        *,
        insuplc_admdvs: str = "",
        context: str = "",
    ) -> WriteAck:
        """The write ``infno`` (WI2401 admission, WI2404 its revocation, WI2501 rehab plan,
        WI2301 discharge, WI2305 settlement revocation, WI2601 reversal, WI2701 device
        settlement, WI3301 device funds) — what a queue worker calls with a stored job. A
        WI2601 ``input`` names ``omsgid`` and ``oinfno``, or ``ValueError``."""
        ...


def require_write(infno: str) -> Infno:
    """The :class:`Infno` of a write, or ``ValueError`` naming what was given."""
    try:
        parsed = Infno(infno)
    except ValueError as exc:
        raise ValueError(f"unknown infno {infno!r}") from exc
    if not parsed.is_write:
        raise ValueError(f"{infno} is a read, not a write")
    return parsed


def write_infnos() -> Sequence[Infno]:
    """The writes, in the order of the dialect table."""
    return [i for i in Infno if i.is_write]
