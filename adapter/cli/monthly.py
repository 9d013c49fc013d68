"""The monthly work from the command line (operators, cron on sites that prefer it):

* ``reconcile YYYY-MM`` — reconcile the month now against upstream (WI3201); prints the
  totals and every difference with what to do; exits 0 when the month balances, 1 when it
  found differences (or could not run), so a script or a cron job can alert on it;
* ``deductions YYYY-MM [--no-fetch]`` — fetch (WI3202) and show the month's audit deductions;
* ``catalogue sync`` — download catalogue updates (WI1401);
  ``catalogue import --kind K --region R --version V FILE`` — load a CSV (checked whole);
  ``catalogue unmapped [--on YYYY-MM-DD]`` — HIS item codes with no catalogue item in force;
* ``device-funds confirm YYYY-MM AMOUNT [--received-on D] [--note N]`` — record that the
  month's device funds arrived and queue WI3301 (the running adapter's queue delivers it);
  ``device-funds status`` — months and whether their funds are confirmed.

Each command uses the configured database and upstream, as ``serve`` would; ``--json``
prints machine-readable output. A refusal is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapter.cli.events import changed
from adapter.cli.progress import progress_bar
from adapter.services.catalogue_import import CatalogueFileRefused
from adapter.services.monthly import MonthlyServices
from adapter.settings import load_settings

ACTOR = "cli"


def register(subparsers: Any) -> None:
    reconcile = subparsers.add_parser(
        "reconcile",
        help="对账 / reconcile a month with upstream; exit 1 when it finds differences",
    )
    reconcile.add_argument("month", help="YYYY-MM")
    reconcile.add_argument("--json", action="store_true", help="print JSON")
    reconcile.set_defaults(handler=_with_monthly(_reconcile))

    deductions = subparsers.add_parser("deductions", help="a month's audit deductions")
    deductions.add_argument("month", help="YYYY-MM")
    deductions.add_argument("--no-fetch", action="store_true", help="show what is kept only")
    deductions.add_argument("--json", action="store_true", help="print JSON")
    deductions.set_defaults(handler=_with_monthly(_deductions))

    catalogue = subparsers.add_parser("catalogue", help="catalogue download, import, report")
    actions = catalogue.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = actions.add_parser("sync", help="download catalogue updates now (WI1401)")
    sync.add_argument("--json", action="store_true", help="print JSON")
    sync.set_defaults(handler=_with_monthly(_sync))
    load = actions.add_parser("import", help="load a catalogue CSV file")
    load.add_argument("--kind", required=True, help="drug, treatment, service_standard, …")
    load.add_argument("--region", required=True, help="6-digit division code, e.g. 110100")
    load.add_argument("--version", required=True, help="the file's version, e.g. 2026.2")
    load.add_argument("file", type=Path)
    load.add_argument(
        "--progress",
        action="store_true",
        help="进度条 / draw a progress bar on stderr (drawn anyway on a terminal)",
    )
    load.set_defaults(handler=_with_monthly(_import))
    unmapped = actions.add_parser("unmapped", help="HIS codes with no catalogue item in force")
    unmapped.add_argument("--on", type=date.fromisoformat, help="YYYY-MM-DD (default today)")
    unmapped.add_argument("--since-days", type=int, default=180)
    unmapped.add_argument("--json", action="store_true", help="print JSON")
    unmapped.set_defaults(handler=_with_monthly(_unmapped))

    funds = subparsers.add_parser("device-funds", help="device fund receipts (B§40)")
    funds_actions = funds.add_subparsers(dest="action", required=True, metavar="ACTION")
    confirm = funds_actions.add_parser("confirm", help="record receipt; queue WI3301")
    confirm.add_argument("month", help="YYYY-MM")
    confirm.add_argument("amount", help="yuan, to the fen, e.g. 29800.00")
    confirm.add_argument("--received-on", type=date.fromisoformat, help="YYYY-MM-DD")
    confirm.add_argument("--note", default="")
    confirm.set_defaults(handler=_with_monthly(_confirm))
    status = funds_actions.add_parser("status", help="months and their confirmation")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_with_monthly(_status))


Action = Callable[[argparse.Namespace, MonthlyServices], int]


def _with_monthly(action: Action) -> Callable[[argparse.Namespace], int]:
    """Build the runtime as ``serve`` does (no queue workers, no HL7) around ``action``."""

    def handler(args: argparse.Namespace) -> int:
        from adapter.wiring.runtime import build_runtime

        settings = load_settings()
        runtime = build_runtime(settings, workers=0, hl7=False, scheduled=False)
        try:
            return action(args, runtime.monthly)
        finally:
            runtime.stop()

    return handler


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _dump(value: Any) -> None:
    print(json.dumps(_plain(value), ensure_ascii=False, indent=2))


def _reconcile(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    report = monthly.reconciliation.run(args.month, actor=ACTOR)
    result = report.result
    balanced = result is not None and result.balanced
    # the run is kept whatever it found: IT's log says which run, and whether to look
    changed("reconciliation.run", month=args.month, run_id=report.run.id,
            outcome=report.run.outcome, balanced=balanced,
            differences=len(result.differences) if result is not None else None)  # fmt: skip
    if args.json:
        _dump({"run": report.run, "result": result, "settlements": list(report.lines)})
        return 0 if balanced else 1
    print(f"{args.month} 对账：{report.run.message}（运行 #{report.run.id}）")
    if result is None:
        return 1
    for side, totals in (("本地", result.local), ("上级", result.upstream)):
        a = totals.amounts
        print(f"  {side}: {totals.count}笔 总费用{a.total} 基金{a.fund_pay} 个人{a.personal_pay}")
    for d in result.differences:
        print(f"  [{d.kind.label}] {d.setl_id} {d.psn_no} {d.settles_on or ''}: {d.message}")
        print(f"      处理：{d.action}")
    return 0 if balanced else 1


def _deductions(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    month = (
        monthly.deductions.month(args.month)
        if args.no_fetch
        else monthly.deductions.fetch(args.month, actor=ACTOR)
    )
    if not args.no_fetch:  # only a fetch changes what is kept
        changed("deductions.fetched", month=month.month, settlements=month.count,
                total=str(month.total))  # fmt: skip
    if args.json:
        _dump(month)
        return 0
    print(f"{month.month} 审核扣款：{month.count}笔，合计{month.total}元")
    for s in month.settlements:
        where = f"结算单{s.slip_no}" if s.known_here else "（本地无此结算）"
        print(f"  {s.setl_id} {where} {s.psn_no}: {s.total}元")
        if s.warning:
            print(f"    ！{s.warning}")
        for d in s.deductions:
            print(f"    {d.deduction_no} {d.item_code} {d.item_name} {d.amount}元 — {d.reason}")
    return 0


def _sync(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    updates = monthly.catalogue.download(actor=ACTOR)
    changed("catalogue.synced", items=sum(u.items for u in updates),
            versions=[f"{u.kind} {u.region} {u.since_version or '-'}→{u.version or '-'}"
                      for u in updates])  # fmt: skip
    if args.json:
        _dump(updates)
        return 0
    for u in updates:
        print(
            f"{u.kind:<17} {u.region}  {u.since_version or '-'} → {u.version or '-'}  {u.items}项"
        )
    return 0


def _import(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"wi-adapter: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        update = monthly.catalogue_import.import_csv(
            data,
            kind=args.kind,
            region=args.region,
            version=args.version,
            actor=ACTOR,
            progress=progress_bar(args.progress),
        )
    except CatalogueFileRefused as exc:
        print("wi-adapter: 目录文件有误，未导入任何项目：", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem.text}", file=sys.stderr)
        return 1
    changed("catalogue.imported", kind=update.kind, region=update.region,
            version=update.version, items=update.items, file=str(args.file))  # fmt: skip
    print(f"已导入 {update.kind} {update.region} 版本{update.version}：{update.items}项")
    return 0


def _unmapped(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    found = monthly.catalogue.unmapped(args.on, since_days=args.since_days)
    if args.json:
        _dump(found)
        return 0
    labels = {"no_longer_in_force": "已失效", "never_mapped": "未对照"}
    for u in found:
        until = f"（最后版本{u.last_version}，至{u.last_valid_to}）" if u.last_version else ""
        print(
            f"{labels[u.status]} {u.category:<9} {u.item_code:<16} {u.item_name} "
            f"{u.lines}条/{u.encounters}次就诊{until}"
        )
    if not found:
        print("所有费用明细项目均有有效目录对照")
    return 0


def _confirm(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    try:
        amount = Decimal(args.amount)
    except InvalidOperation:
        print(f"wi-adapter: amount {args.amount!r} is not an amount of money", file=sys.stderr)
        return 1
    receipt = monthly.device_funds.confirm(
        args.month, amount, actor=ACTOR, received_on=args.received_on, note=args.note
    )
    changed("device_funds.confirmed", month=receipt.month, amount=str(receipt.amount),
            msgid=receipt.msgid, delivered=receipt.confirmed_upstream)  # fmt: skip
    state = "已送达上级" if receipt.confirmed_upstream else "已排队上传"
    print(
        f"{receipt.month} 月度结算资金{receipt.amount}元已确认到账；WI3301 {receipt.msgid} {state}"
    )
    return 0


def _status(args: argparse.Namespace, monthly: MonthlyServices) -> int:
    months = monthly.device_funds.months()
    if args.json:
        _dump([{**asdict(m), "due": m.due, "status": m.status} for m in months])
        return 0
    if not months:
        print("暂无辅助器具结算月份，无需确认资金到账")
        return 0
    labels = {"unconfirmed": "未确认", "queued": "已排队", "confirmed": "已确认"}
    for m in months:
        late = "  ⚠ 逾期未确认（B§40）" if m.overdue else ""
        taken = f"  审核扣款{m.deducted}元  应到账{m.due}元" if m.deducted else ""
        print(f"{m.month}  {m.settlements}笔  基金{m.fund_pay}元{taken}  {labels[m.status]}{late}")
    return 0
