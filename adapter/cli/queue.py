"""``queue list|summary|show|retry|reverse|withdraw|purge``: IT's view of the upload queue.

Reads the database named by the settings (``database.url``). Times are shown in the
institution's time zone; ``--json`` prints machine-readable output (ISO 8601 times with the
site's offset).
Delivering jobs is the running adapter's work (``serve`` starts the queue's workers); these
commands only look, re-send and clean up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, inspect

from adapter.cli.database import NoStore, open_existing
from adapter.cli.events import actor, changed
from adapter.cli.output import dump
from adapter.domain.errors import AdapterError
from adapter.domain.masking import mask_body
from adapter.domain.months import day_began
from adapter.settings import Settings, load_settings
from adapter.wiring.runtime import build_runtime
from upload_queue import admin, ledger, reporting
from upload_queue.errors import QueueError
from upload_queue.jobs import Job
from upload_queue.tables import STATUSES


def register(subparsers: Any) -> None:
    queue = subparsers.add_parser("queue", help="look at and manage the upload queue")
    actions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="list jobs, earliest deadline first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--kind", help="job kind, e.g. the upstream infno")
    listing.add_argument("--key", dest="ordering_key", help="ordering key (the encounter)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    summary = actions.add_parser("summary", help="counts by status and kind, deadlines at risk")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=_summary)

    show = actions.add_parser("show", help="one job with its attempts and replaced payloads")
    show.add_argument("job_id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_show)

    retry = actions.add_parser(
        "retry",
        help="re-send a dead (or waiting) job now, as the IT page does: a job upstream refused "
        "gets a fresh msgid; audited",
    )
    retry.add_argument("job_id", type=int)
    retry.add_argument("--payload", type=Path, help="JSON file with the corrected payload")
    retry.add_argument("--note", help="why the payload was corrected (kept in the history)")
    retry.set_defaults(handler=_retry)
    reverse = actions.add_parser(
        "reverse",
        help="have upstream reverse (WI2601) the write a dead job may have made, so that "
        "it can be corrected; once delivered, `retry` sends the job under a fresh msgid",
    )
    reverse.add_argument("job_id", type=int)
    reverse.add_argument("--note", help="why the write is reversed (kept in the audit log)")
    reverse.set_defaults(handler=_reverse)
    withdraw = actions.add_parser(
        "withdraw",
        help="withdraw a dead settlement upload (WI2301, WI2701) whose settlement was revoked, "
        "with its revocation (WI2305), when upstream holds nothing of it (every attempt "
        "refused, or reversed by a delivered WI2601): neither is sent, the stay's later "
        "uploads go; audited, as the automatic withdrawal",
    )
    withdraw.add_argument("job_id", type=int)
    withdraw.set_defaults(handler=_withdraw)

    purge = actions.add_parser(
        "purge",
        help="delete the payloads and attempt history of delivered jobs older than the "
        "retention (the delivery ledger keeps that they were delivered)",
    )
    purge.add_argument(
        "--older-than-days",
        type=int,
        metavar="N",
        help="delivered more than N days ago (at least 1; default: queue.retention_days)",
    )
    purge.add_argument(
        "--ledger-months",
        type=int,
        metavar="M",
        help="also forget deliveries older than M months from the ledger "
        f"(at least {ledger.MIN_MONTHS}; default: queue.ledger_months)",
    )
    purge.set_defaults(handler=_purge)


class _Refused(Exception):
    pass


Command = Callable[[argparse.Namespace], int]
Action = Callable[[argparse.Namespace, Settings, Engine], int]


def _run(action: Action) -> Command:
    """Open the configured database for ``action``; a refusal is one line on stderr, exit 1."""

    def handler(args: argparse.Namespace) -> int:
        settings = load_settings()
        try:
            engine = open_existing(settings.database.url)
        except NoStore as exc:
            print(f"wi-adapter: {exc}", file=sys.stderr)
            return 1
        try:
            if not inspect(engine).has_table("upload_job"):
                raise _Refused(
                    "the database has no upload queue tables; run `wi-adapter migrate` first"
                )
            return action(args, settings, engine)
        except (QueueError, _Refused, ValueError) as exc:
            print(f"wi-adapter: {exc}", file=sys.stderr)
            return 1
        except AdapterError as exc:  # the use case's refusal (e.g. no such job), in Chinese
            print(f"wi-adapter: {exc.message}", file=sys.stderr)
            return 1
        finally:
            engine.dispose()

    return handler


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _dump(value: Any, zone: ZoneInfo) -> None:
    dump(value, zone)


def _job_line(job: Job, zone: ZoneInfo, behind: int | None = None) -> str:
    error = (job.last_error or "").replace("\n", " ")
    return (
        f"{job.id:>7}  {job.status:<9} {job.kind:<16} {(job.ordering_key or '-'):<20} "
        f"{_local(job.deadline, zone):<19}  {job.total_attempts:>3}  {behind or '-':>7}  "
        f"{error[:60]}"
    )


def _held_back(engine: Engine, jobs: list[Job]) -> dict[int, int]:
    """A stay's uploads go in order: a pending job with no error of its own may be waiting
    behind an earlier one of its stay (a dead one waits for IT), which IT must see to first."""
    return admin.held_back_by(engine, (job.id for job in jobs if job.status == "pending"))


@_run
def _list(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    jobs = admin.list_jobs(
        engine,
        status=args.status,
        kind=args.kind,
        ordering_key=args.ordering_key,
        limit=args.limit,
        offset=args.offset,
    )
    held = _held_back(engine, jobs)
    if args.json:
        _dump([_shown(job) | {"waiting_for": held.get(job.id)} for job in jobs], settings.zone)
        return 0
    print(
        f"{'id':>7}  {'status':<9} {'kind':<16} {'key':<20} {'deadline':<19}  try  "
        f"{'behind':>7}  last error"
    )
    for job in jobs:
        print(_job_line(job, settings.zone, held.get(job.id)))
    return 0


@_run
def _summary(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    margin = timedelta(minutes=settings.queue.at_risk_minutes)
    now = datetime.now(UTC)
    current = reporting.summary(engine, now, margin=margin, since=day_began(now, settings.zone))
    if args.json:
        _dump(asdict(current), settings.zone)
        return 0
    zone = settings.zone
    width = max([8, *map(len, current.by_kind)])
    print(f"{'kind':<{width}} " + "  ".join(f"{status:>9}" for status in STATUSES))
    print(f"{'(all)':<{width}} " + "  ".join(f"{current.by_status[s]:>9}" for s in STATUSES))
    for kind, counts in current.by_kind.items():
        print(f"{kind:<{width}} " + "  ".join(f"{counts[s]:>9}" for s in STATUSES))
    oldest = current.oldest_pending
    if oldest is not None:
        print(
            f"oldest pending: job {oldest.id} ({oldest.kind}), "
            f"enqueued {_local(oldest.created_at, zone)}"
        )
    print(f"next deadline: {_local(current.next_deadline, zone)}")
    print(
        f"at risk (deadline within {settings.queue.at_risk_minutes} min): {current.at_risk}; "
        f"past deadline, not delivered: {current.missed}; "
        f"deadlines missed today (late deliveries too): {current.missed_since}"
    )
    return 0


@_run
def _show(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    job = admin.get_job(engine, args.job_id)
    history = admin.attempts(engine, args.job_id)
    replaced = admin.revisions(engine, args.job_id)
    behind = _held_back(engine, [job]).get(job.id)
    if args.json:
        _dump(
            {
                "job": _shown(job) | {"waiting_for": behind},
                "attempts": [asdict(a) for a in history],
                "replaced_payloads": [_shown(r) for r in replaced],
            },
            settings.zone,
        )
        return 0
    zone = settings.zone
    print(_job_line(job, zone, behind))
    if behind is not None:
        print(f"waits behind job {behind} of the same stay: it goes first (queue show {behind})")
    if job.withdrawn_at is not None:
        print(f"withdrawn {_local(job.withdrawn_at, zone)}, never to be sent: {job.last_error}")
    print(f"idempotency key: {job.idempotency_key}; enqueued {_local(job.created_at, zone)}")
    print("payload: " + json.dumps(mask_body(job.payload), ensure_ascii=False))
    for attempt in history:
        print(
            # a refusal is upstream's own "no": the write certainly took no effect there
            f"  #{attempt.number:<3} {_local(attempt.started_at, zone)}  "
            f"{'refused' if attempt.refused else attempt.outcome:<13} "
            f"{attempt.duration_s:8.3f}s  {attempt.worker or '-'}  {attempt.error or ''}"
        )
    for revision in replaced:
        print(
            f"  replaced {_local(revision.replaced_at, zone)} ({revision.note or 'no note'}): "
            + json.dumps(mask_body(revision.payload), ensure_ascii=False)
        )
    return 0


def _shown(record: Any) -> dict[str, Any]:
    """A job or a replaced payload as IT sees it: the worker's personal data in its payload
    masked, as GET /api/v1/queue/jobs shows it (a corrected payload written from it gets the
    masked values back on re-send)."""
    body: dict[str, Any] = asdict(record)
    body["payload"] = mask_body(body["payload"])
    return body


@_run
def _retry(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    payload = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise _Refused(f"cannot read the payload file {args.payload}: {exc}") from exc
        if not isinstance(payload, dict):
            raise _Refused(f"the payload file {args.payload} must hold a JSON object")
    # The same use case as the REST route and the IT page: a refused job gets a fresh msgid
    # (upstream repeats its first reply per msgid), and the re-send is audited.
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    try:
        job = runtime.operations.resend_job(
            args.job_id,
            actor=actor(),
            payload=payload,
            note=args.note or "",
            via="cli",
        )
    finally:
        runtime.stop()
    changed("queue.job_resent", job_id=job.id, kind=job.kind, corrected=payload is not None,
            note=args.note or "")  # fmt: skip
    corrected = " with the corrected payload" if payload is not None else ""
    fresh = ""
    if job.payload.get("refused_msgids"):
        fresh = f"; upstream refused it, so it goes as msgid {job.payload.get('msgid')}"
    print(f"job {job.id} ({job.kind}) will be re-sent now{corrected}{fresh}")
    return 0


@_run
def _reverse(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    # The same use case as the REST route and the IT page; the running adapter's workers
    # deliver the reversal (this command only queues it).
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    try:
        queued = runtime.operations.reverse_job(
            args.job_id, actor=actor(), note=args.note or "", via="cli"
        )
    finally:
        runtime.stop()
    changed("queue.job_reversal_queued", job_id=args.job_id, reversal_job_id=queued.job_id,
            note=args.note or "")  # fmt: skip
    print(
        f"job {args.job_id}: its write is to be reversed by job {queued.job_id} (WI2601, due "
        f"{_local(queued.deadline, settings.zone)}); once that is delivered, "
        f"`wi-adapter queue retry {args.job_id}` sends it under a fresh msgid"
    )
    return 0


@_run
def _withdraw(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    # The same use case as the REST route and the IT page: the same check as the automatic
    # withdrawal, under the stay's and the job's locks; a refusal says why, in Chinese.
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    try:
        done = runtime.operations.withdraw_job(args.job_id, actor=actor(), via="cli")
    finally:
        runtime.stop()
    revocation = f" and its revocation, job {done.revocation_job}" if done.revocation_job else ""
    if done.already:
        print(f"job {done.job_id}{revocation}: withdrawn already, nothing changed")
        return 0
    changed("queue.job_withdrawn", job_id=done.job_id, revocation_job_id=done.revocation_job)
    print(
        f"job {done.job_id}{revocation} withdrawn: upstream holds nothing of the settlement, "
        "neither is sent; the stay's later uploads go"
    )
    return 0


@_run
def _purge(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    days = settings.queue.retention_days if args.older_than_days is None else args.older_than_days
    if days < 1:
        raise _Refused(f"--older-than-days must be at least 1 (got {days})")
    months = settings.queue.ledger_months if args.ledger_months is None else args.ledger_months
    if months < ledger.MIN_MONTHS:
        raise _Refused(
            f"--ledger-months must be at least {ledger.MIN_MONTHS} (got {months}): a year's "
            "clearing reaches well into the next (N§43, B§44), so a delivery is never "
            "forgotten sooner"
        )
    now = datetime.now(UTC)
    removed = admin.purge(engine, timedelta(days=days), now)
    forgotten = ledger.trim(engine, months, now)
    changed("queue.purged", jobs=removed, older_than_days=days, ledger_entries=forgotten,
            ledger_months=months)  # fmt: skip
    print(
        f"purged {removed} delivered job(s) older than {days} day(s); their deliveries stay "
        f"in the ledger ({forgotten} ledger entr{'y' if forgotten == 1 else 'ies'} older than "
        f"{months} months removed)"
    )
    return 0
