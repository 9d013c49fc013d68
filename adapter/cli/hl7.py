"""``hl7 log`` and ``hl7 reprocess``: the operator's view of the HL7 message log."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from adapter.cli.events import changed
from adapter.cli.output import dump
from adapter.settings import load_settings


def register(subparsers: Any) -> None:
    from connectors.hl7.message_log import OUTCOMES

    hl7 = subparsers.add_parser("hl7", help="HL7 message log: search and re-process")
    actions = hl7.add_subparsers(dest="action", required=True, metavar="ACTION")
    log = actions.add_parser("log", help="list logged HL7 messages, newest first")
    log.add_argument("--control-id", help="MSH-10")
    log.add_argument("--visit", help="PV1-19 visit number")
    log.add_argument("--type", help="message type: ADT^A01, or ADT for every ADT")
    log.add_argument("--outcome", choices=OUTCOMES)
    log.add_argument("--since", type=datetime.fromisoformat, help="ISO time, e.g. 2026-03-01")
    log.add_argument("--until", type=datetime.fromisoformat, help="ISO time (exclusive)")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--json", action="store_true", help="print JSON (raw messages left out)")
    log.set_defaults(handler=_log)
    again = actions.add_parser("reprocess", help="process a logged message again (after a fix)")
    again.add_argument("id", type=int, help="the message's id, as `hl7 log` shows it")
    again.add_argument(
        "--profile", default=None, help="the HL7 site profile file (default: [hl7] site_profile)"
    )
    again.set_defaults(handler=_reprocess)


def _engine() -> Any:
    from adapter.cli.database import open_migrated

    return open_migrated(load_settings().database.url)


def _log(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from connectors.hl7.message_log import MessageLog

    settings = load_settings()
    zone = settings.zone
    since, until = (_aware(value, zone) for value in (args.since, args.until))
    engine = _engine()
    try:
        rows = MessageLog(engine).search(
            control_id=args.control_id,
            visit_number=args.visit,
            message_type=args.type,
            outcome=args.outcome,
            since=since,
            until=until,
            limit=args.limit,
        )
    except (OperationalError, ProgrammingError) as exc:
        print(
            f"wi-adapter: cannot read the HL7 message log ({exc.orig}); "
            "has `wi-adapter migrate` been run?",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()
    if args.json:
        fields = ("id", "received_at", "processed_at", "peer", "sender_application",
                  "sender_facility", "message_type", "control_id", "visit_number", "ack_code",
                  "outcome", "attempts")  # fmt: skip
        dump([{k: getattr(row, k, None) for k in fields} for row in rows], zone)
        return 0
    print(
        f"{'id':>6}  {'received':<19}  {'peer':<15} {'sender':<16} {'type':<8} "
        f"{'control id':<20} {'visit':<12} {'ack':<3} {'outcome':<9} tries"
    )
    for row in rows:
        received = row.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        sender = f"{row.sender_application}^{row.sender_facility}"
        print(
            f"{row.id:>6}  {received:<19}  {row.peer:<15} {sender[:16]:<16} "
            f"{row.message_type:<8} {(row.control_id or '-')[:20]:<20} "
            f"{(row.visit_number or '-')[:12]:<12} {row.ack_code or '-':<3} "
            f"{row.outcome or 'pending':<9} {row.attempts}"
        )
    return 0


def _reprocess(args: argparse.Namespace) -> int:
    import adapter.bootstrap as bootstrap

    factory = getattr(bootstrap, "encounter_commands", None)
    if factory is None:
        print(
            "wi-adapter: hl7 reprocess needs the encounter services, and "
            "adapter.bootstrap.encounter_commands(settings, engine) is not wired yet",
            file=sys.stderr,
        )
        return 2
    from connectors.hl7 import build_inbound, load_site_profile

    settings = load_settings()
    engine = _engine()
    try:
        commands = factory(settings, engine)
        profile = load_site_profile(args.profile or settings.hl7.site_profile)
        inbound = build_inbound(engine, commands, profile)
        message = inbound.reprocess(args.id, actor="cli")
    finally:
        engine.dispose()
    # processed again whatever the outcome: the attempt is counted and the reply kept
    changed("hl7.reprocessed", message_id=message.id, control_id=message.control_id,
            message_type=message.message_type, outcome=message.outcome,
            ack_code=message.ack_code, attempts=message.attempts)  # fmt: skip
    print(
        f"message {message.id}: {message.outcome} ({message.ack_code}), attempt {message.attempts}"
    )
    if message.detail:
        print(message.detail)
    return 0 if message.outcome == "accepted" else 1


def _aware(value: datetime | None, zone: Any) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=zone)
