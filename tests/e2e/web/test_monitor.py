"""The IT queue monitor: a job at risk while upstream is out, a dead job re-sent with an
edited payload, the chart, the call log and the HL7 log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from adapter.services.operations import reversal_key
from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, Site
from tests.support.polling import eventually
from tests.support.uploads import queue_admission


def _enqueue(site: Site, context: str, input: dict[str, Any], deadline: timedelta) -> int:
    return queue_admission(site.runtime, context, input, datetime.now(UTC) + deadline)


def _status(site: Site, job_id: int) -> str:
    for status in ("pending", "in_flight", "delivered", "dead"):
        if any(j.id == job_id for j in site.runtime.queue.list_jobs(status=status, limit=1000)):
            return status
    raise AssertionError(f"job {job_id} not found")


def test_a_job_at_risk_during_an_outage_is_highlighted(page: Page, site: Site) -> None:
    faults = f"{site.simulator.url}/_sim/faults"
    assert httpx.post(faults, json={"outage": True}).status_code == 200
    try:
        input = {"mdtrt_id": "E-RISK", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"}
        job_id = _enqueue(site, "E-RISK", input, timedelta(minutes=4))
        eventually(lambda: site.runtime.queue.summary().at_risk >= 1)
        sign_in(page, site, USERS["it"], path="/web/monitor")
        row = page.get_by_test_id("waiting").locator(f"tr[data-job='{job_id}']")
        expect(row).to_have_class("at-risk")
        expect(row).to_contain_text("E-RISK")
        expect(row).to_contain_text("分")
        assert int(page.get_by_test_id("count-at-risk").inner_text()) >= 1
        shot(page, "at-risk")
    finally:
        assert httpx.post(faults, json={}).status_code == 200
    eventually(lambda: _status(site, job_id) == "delivered", timeout=30)
    # The live block follows without a reload: the job leaves the waiting list.
    expect(page.get_by_test_id("waiting").locator(f"tr[data-job='{job_id}']")).to_have_count(
        0, timeout=15_000
    )


def test_a_dead_job_is_resent_with_an_edited_payload(page: Page, site: Site) -> None:
    certno = site.person("P001")["certno"]
    input = {"mdtrt_id": "E-DEAD", "psn_no": "P001", "certno": certno}  # begntime missing
    job_id = _enqueue(site, "E-DEAD", input, timedelta(hours=1))
    eventually(lambda: _status(site, job_id) == "dead")
    refused_msgid = next(
        j for j in site.runtime.queue.list_jobs(status="dead", limit=1000) if j.id == job_id
    ).payload["msgid"]

    sign_in(page, site, USERS["it"], path="/web/monitor")
    dead = page.locator(f"form.dead-job[data-job='{job_id}']")
    expect(dead.get_by_test_id("upstream-message")).to_contain_text("begntime")
    # before: "上级系统返回：UpstreamRefused: 工伤保险信息系统拒绝了本次请求：…"
    expect(dead.get_by_test_id("upstream-message")).not_to_contain_text("UpstreamRefused")
    box = dead.get_by_label(f"任务{job_id}的上传报文")
    shown = json.loads(box.input_value())
    assert shown["input"]["certno"] == certno[:6] + "********" + certno[-4:]
    assert certno not in page.content()
    chart = page.get_by_test_id("history-chart")
    expect(chart).to_have_attribute("data-points", "25")
    expect(page.get_by_test_id("calls")).to_contain_text(refused_msgid)
    expect(page.get_by_test_id("hl7")).to_be_visible()
    shot(page, "dead")

    shown["input"]["begntime"] = "2026-11-24 09:00:00"
    typed = json.dumps(shown, ensure_ascii=False, indent=2)
    box.fill(typed[:-1])  # the closing brace lost while editing
    note = dead.get_by_label(f"任务{job_id}的重发说明")
    note.fill("补入院时间")
    dead.get_by_role("button", name="重发").click()
    expect(page.get_by_test_id("error")).to_contain_text("不是有效的 JSON")
    # before: the box back to the stored payload, the edit and the note gone
    expect(box).to_have_value(typed[:-1])
    expect(note).to_have_value("补入院时间")
    box.fill(typed)
    dead.get_by_role("button", name="重发").click()
    expect(page.get_by_test_id("done")).to_have_text(f"任务 {job_id} 已重新排队上传。")
    eventually(lambda: _status(site, job_id) == "delivered")
    (resent,) = [
        j for j in site.runtime.queue.list_jobs(status="delivered", limit=1000) if j.id == job_id
    ]
    assert resent.payload["msgid"] != refused_msgid  # upstream refused it: a fresh msgid
    assert resent.payload["refused_msgids"] == [refused_msgid]
    assert resent.payload["input"]["certno"] == certno  # the masked value was restored
    received = httpx.get(
        f"{site.simulator.url}/_sim/received", params={"msgid": resent.payload["msgid"]}
    ).json()
    (write,) = received["writes"]
    assert write["took_effect"] and write["input"]["begntime"] == "2026-11-24 09:00:00"
    page.reload()
    expect(page.locator(f"form.dead-job[data-job='{job_id}']")).to_have_count(0)
    shot(page, "resent")


def test_a_broken_payload_is_not_resent(page: Page, site: Site) -> None:
    job_id = _enqueue(site, "E-BAD", {"mdtrt_id": "E-BAD", "psn_no": "P001"}, timedelta(hours=1))
    eventually(lambda: _status(site, job_id) == "dead")
    sign_in(page, site, USERS["it"], path="/web/monitor")
    dead = page.locator(f"form.dead-job[data-job='{job_id}']")
    dead.get_by_label(f"任务{job_id}的上传报文").fill("{not json")
    dead.get_by_role("button", name="重发").click()
    expect(page.get_by_test_id("error")).to_contain_text("不是有效的 JSON")
    assert _status(site, job_id) == "dead"


def test_a_job_held_back_behind_its_stays_dead_upload_says_which(page: Page, site: Site) -> None:
    """A stay's uploads go in order: the upload after a refused one waits with no attempt and
    no error of its own; its row names the dead job IT must see to first."""
    refused = _enqueue(site, "E-HELD", {"mdtrt_id": "E-HELD", "psn_no": "P001"}, timedelta(hours=1))
    eventually(lambda: _status(site, refused) == "dead")
    input = {"mdtrt_id": "E-HELD2", "psn_no": "P001", "begntime": "2026-11-24 09:00:00"}
    held = _enqueue(site, "E-HELD", input, timedelta(hours=1))
    sign_in(page, site, USERS["it"], path="/web/monitor")
    row = page.get_by_test_id("waiting").locator(f"tr[data-job='{held}']")
    expect(row.get_by_test_id("waiting-for")).to_contain_text(f"任务 {refused} 之后")
    dead = page.locator(f"form.dead-job[data-job='{refused}']")
    expect(dead.get_by_test_id("dead-holds")).to_contain_text("另有 1 件上传排在本任务之后")
    assert _status(site, held) == "pending"


def test_a_refused_job_is_not_reversed_and_the_page_says_what_to_do(page: Page, site: Site) -> None:
    """The reversal (WI2601) is for a write whose reply never came; one upstream refused
    took no effect, and the page says to correct and re-send it instead. Nothing is queued."""
    job_id = _enqueue(site, "E-REV", {"mdtrt_id": "E-REV", "psn_no": "P001"}, timedelta(hours=1))
    eventually(lambda: _status(site, job_id) == "dead")
    sign_in(page, site, USERS["it"], path="/web/monitor")
    reverse = page.locator(f"form.reverse-job[data-job='{job_id}']")
    expect(reverse).to_contain_text("冲正（WI2601）")
    reverse.get_by_label(f"任务{job_id}的冲正说明").fill("误点")
    reverse.get_by_role("button", name="冲正原交易").click()
    expect(page.get_by_test_id("error")).to_contain_text("直接更正后重发")
    assert site.runtime.queue.list_jobs(kind="WI2601") == []
    assert _status(site, job_id) == "dead"


def test_a_dead_job_being_reversed_says_so_and_waits_for_the_reversal(
    page: Page, site: Site
) -> None:
    """Once IT has had a dead job's write reversed (WI2601), its card says how the reversal
    stands instead of offering it again, and a re-send waits until upstream has it."""
    job_id = _enqueue(site, "E-REV2", {"mdtrt_id": "E-REV2", "psn_no": "P001"}, timedelta(hours=1))
    eventually(lambda: _status(site, job_id) == "dead")
    (dead,) = [j for j in site.runtime.queue.list_jobs(status="dead", limit=1000) if j.id == job_id]
    msgid = dead.payload["msgid"]
    faults = f"{site.simulator.url}/_sim/faults"
    assert httpx.post(faults, json={"outage": True}).status_code == 200
    try:
        with UnitOfWork(site.runtime.engine) as uow:  # queued as `reverse_job` queues it
            reversal = site.runtime.outbox.enqueue(
                uow.session,
                kind="WI2601",
                payload={"msgid": site.runtime.msgids.next(), "insuplc_admdvs": "310100",
                         "context": "E-REV2", "input": {"omsgid": msgid, "oinfno": "WI2401"}},
                idempotency_key=reversal_key(msgid),
                ordering_key=reversal_key(msgid),
                deadline=datetime.now(UTC) + timedelta(minutes=30),
            )  # fmt: skip
            uow.commit()
        sign_in(page, site, USERS["it"], path="/web/monitor")
        state = page.locator(f"[data-testid='reversal-state'][data-job='{job_id}']")
        expect(state).to_contain_text("正在冲正")
        expect(page.locator(f"form.reverse-job[data-job='{job_id}']")).to_have_count(0)
        page.locator(f"form.dead-job[data-job='{job_id}']").get_by_role(
            "button", name="重发"
        ).click()
        expect(page.get_by_test_id("error")).to_contain_text("冲正送达后才能重发")
        assert _status(site, job_id) == "dead"
    finally:
        assert httpx.post(faults, json={}).status_code == 200
    site.runtime.queue.retry(reversal.job_id)
    site.runtime.wake()
    eventually(lambda: _status(site, reversal.job_id) == "delivered", timeout=30)
    page.goto(f"{site.base}/web/monitor")
    state = page.locator(f"[data-testid='reversal-state'][data-job='{job_id}']")
    expect(state).to_contain_text("已冲正")
    shot(page, "reversed")
