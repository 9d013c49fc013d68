"""A settlement revoked here that upstream still lists in effect (N§35, B§33): what to do
follows where its revocation's upload (WI2305, N§33) stands — asked of the agency once
delivered, waited for while on its way, re-sent by IT once dead, raised as a defect when it
was never sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapter.domain.ports import UploadProgress
from adapter.domain.reconciliation import (
    Difference,
    DifferenceKind,
    ReconciliationResult,
    Totals,
    with_revocations,
)
from adapter.domain.reconciliation_lines import Amounts
from adapter.domain.reconciliation_revocations import (
    RevocationState,
    RevocationUpload,
    revocation_action,
)

ZONE = ZoneInfo("Asia/Shanghai")
COMPARED = datetime(2026, 2, 3, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
MSGID = "H110100000012026010811000001"
S = RevocationState


def upload(status: str, **fields: Any) -> RevocationUpload:
    progress = UploadProgress(job_id=42, status=status, msgid=MSGID, **fields)
    return RevocationUpload.of(MSGID, 42, progress, ZONE)


def action(u: RevocationUpload) -> str:
    return revocation_action(u, COMPARED, "撤销该结算，不予拨付")


def test_delivered_before_the_run_asks_the_agency_naming_the_msgid_and_when() -> None:
    u = upload("delivered", delivered_at=datetime(2026, 1, 8, 3, 5, tzinfo=UTC))
    assert u.state is S.DELIVERED and u.delivered_at == datetime(2026, 1, 8, 11, 5, tzinfo=ZONE)
    text = action(u)
    assert f"msgid {MSGID}" in text and "2026-01-08 11:05" in text  # local time
    assert "未执行撤销" in text and "请区级经办机构按该撤销信息" in text
    assert "撤销该结算，不予拨付" in text


def test_delivered_after_the_run_says_to_reconcile_again() -> None:
    u = upload("delivered", delivered_at=datetime(2026, 2, 3, 7, 0, tzinfo=UTC))
    text = action(u)
    assert "晚于本次对账" in text and "请重新对账" in text and "2026-02-03 15:00" in text


def test_queued_says_wait_naming_the_job_and_when_it_goes() -> None:
    u = upload("pending", next_attempt_at=datetime(2026, 2, 3, 6, 30, tzinfo=UTC))
    assert u.state is S.QUEUED
    text = action(u)
    assert "上传任务42" in text and "2026-02-03 14:30起发送" in text and "无需处理" in text
    assert "正在发送" in action(upload("in_flight"))


def test_retrying_names_the_attempts_and_the_next_one() -> None:
    u = upload("pending", attempts=3, next_attempt_at=datetime(2026, 2, 3, 6, 45, tzinfo=UTC))
    assert u.state is S.RETRYING and u.state.label == "重试中"
    text = action(u)
    assert "上传任务42）已发送3次未成功" in text and "将于2026-02-03 14:45再次发送" in text


def test_held_back_names_the_upload_it_waits_behind() -> None:
    text = action(upload("pending", held_back_by=17))
    assert "排在本次住院的上传任务17之后" in text and "先处理该任务" in text


def test_dead_sends_it_to_the_upload_queue_page_naming_the_job_and_the_reason() -> None:
    u = upload("dead", attempts=1, last_error="结算ID S1 不存在或已撤销")
    assert u.state is S.DEAD
    text = action(u)
    assert "上传任务42）上传失败（结算ID S1 不存在或已撤销）" in text
    assert "“上传队列监控”页面" in text and "重发任务42" in text


@pytest.mark.parametrize(
    ("made", "state", "said"),
    [
        (upload("withdrawn", last_error="原上传被拒收"), S.WITHDRAWN, "已撤回、未发送"),
        (RevocationUpload.of("", None, None, ZONE), S.NONE, "本地没有该结算的撤销上传"),
        (RevocationUpload.of(MSGID, 42, None, ZONE), S.NONE, "上传队列中无此任务"),
    ],
)
def test_never_sent_is_a_defect_to_raise(made: RevocationUpload, state: S, said: str) -> None:
    assert made.state is state
    text = action(made)
    assert said in text and "系统缺陷" in text and "信息科上报" in text


def _difference(kind: DifferenceKind, setl_id: str) -> Difference:
    a = Amounts(Decimal("36.50"), Decimal("36.50"), Decimal("0.00"))
    return Difference(kind, setl_id, "P001", date(2026, 1, 7), a, a, "…", "原建议")


def test_with_revocations_tells_revoked_here_and_other_months_revoked_ones_only() -> None:
    none = Totals(0, Amounts(Decimal(0), Decimal(0), Decimal(0)))
    result = ReconciliationResult(
        "2026-01",
        none,
        none,
        (
            _difference(DifferenceKind.REVOKED_HERE_ONLY, "S1"),
            _difference(DifferenceKind.OTHER_MONTH_HERE, "S2"),
            _difference(DifferenceKind.AMOUNT_DIFFERS, "S3"),
        ),
    )
    dead = upload("dead")
    told = with_revocations(result, {"S1": dead, "S2": dead, "S3": dead}, COMPARED)
    [s1, s2, s3] = told.differences
    assert s1.revocation_upload == dead and "重发任务42" in s1.action
    assert s2.revocation_upload == dead and "将其从2026-01中删除" not in s2.action  # dead: IT
    delivered = upload("delivered", delivered_at=datetime(2026, 1, 8, 3, 5, tzinfo=UTC))
    s2 = with_revocations(result, {"S2": delivered}, COMPARED).differences[1]
    assert "将其从2026-01中删除，不予拨付" in s2.action
    assert s3.revocation_upload is None and s3.action == "原建议"  # not revoked here
