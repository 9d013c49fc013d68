"""A clerk's day at each desk: the work list the desk opens on, the warning before the click,
the confirmation of what happens upstream (issue 19 items 1–3). Screenshots at 1366 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import text

from adapter.domain.upstream import Infno
from adapter.services.uploads import uploads_for
from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, ZONE, Site
from tests.e2e.web.stays import (
    admit_with_fees,
    at,
    close_open_stay,
    his,
    readmitted_at,
    refused_upload,
    settle_by_api,
)
from tests.integration.services.device_world import NOTICE, device_worker
from tests.support.polling import eventually

WIDE = {"width": 1366, "height": 900}


def _admit(site: Site, psn_no: str, visit: str, kind: str, days: int) -> str:
    close_open_stay(site, psn_no, kind)
    body = {
        "card": {"kind": "physical", "card_no": CARDS.get(psn_no, "330100K0010")},
        "his_visit_id": visit,
        "kind": kind,
        "admitted_at": readmitted_at(site, psn_no, at(days)),
        "injury_parts": site.person_filing_parts(psn_no)[:1],
    }
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    return str(admitted.json()["id"])


def _evening_of(site: Site, encounter_id: str) -> str:
    """20:00 of the stay's admission day, as the desk's time field takes it."""
    from adapter.store.uow import UnitOfWork

    with UnitOfWork(site.engine) as uow:
        admitted = uow.encounters.get(encounter_id).encounter.admitted_at.astimezone(ZONE)
    return f"{admitted:%Y-%m-%d}T20:00"


def _masked(site: Site, psn_no: str) -> tuple[str, str]:
    name = str(site.person(psn_no)["psn_name"])
    return name, name[0] + "*" * (len(name) - 1)


def test_n32_billing_desk_work_list_to_a_warned_stay_keeps_typed_diagnoses_and_labels(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    visit = f"ZY-DESK-{datetime.now(ZONE):%H%M%S%f}"
    # its bed is settled (住院服务费): on a day of its own, discharged that day at 20:00
    encounter_id = admit_with_fees(site, visit, own_day=True)
    discharged = _evening_of(site, encounter_id)
    sign_in(page, site, USERS["billing"], path="/web/billing")
    worklist = page.get_by_test_id("worklist")
    row = worklist.locator(f"tr[data-encounter='{encounter_id}']")
    expect(row).to_contain_text("在院")
    name, masked = _masked(site, "P001")
    expect(row).to_contain_text(masked)
    assert name not in worklist.inner_text()  # names masked in lists
    shot(page, "billing-worklist")

    # Keyboard only: type into the filter, ↓ to the row, Enter opens the stay.
    page.locator("#worklist-filter").fill(visit)
    expect(worklist.locator("tbody tr[data-href]:visible")).to_have_count(1)
    page.locator("#worklist-filter").press("ArrowDown")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site.base}/web/billing/{encounter_id}")

    warnings = page.get_by_test_id("warnings")
    expect(warnings).to_contain_text("结算前请注意")
    unmapped = warnings.locator("li[data-code=UNMAPPED_LINES]")
    expect(unmapped).to_contain_text("L3、L5")
    expect(unmapped.locator(".article")).to_have_text("N§32")
    shot(page, "billing-warning")

    typed = "S62.301 左手第三掌骨骨折"
    page.get_by_label("出院诊断（每行：编码 名称）").fill(typed)
    page.get_by_label("出院时间", exact=True).fill(discharged)
    page.get_by_role("button", name="确认结算").click()  # refused: lines not mapped
    error = page.get_by_test_id("error")
    expect(error).to_contain_text("L3、L5")
    assert error.inner_text().count("N§32") == 1  # the article once
    expect(page.get_by_label("出院诊断（每行：编码 名称）")).to_have_value(typed)

    billing = {"Authorization": f"Bearer {site.tokens['billing']}"}
    for line_id, body in (
        ("L3", {"catalogue_code": "XJ01DCC061"}),
        ("L5", {"out_of_catalogue": True}),
    ):
        mapped = httpx.put(
            f"{site.base}/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping",
            json=body,
            headers=billing,
        )
        assert mapped.status_code < 300, mapped.text
    page.goto(f"{site.base}/web/billing/{encounter_id}")
    expect(page.get_by_test_id("warnings")).to_have_count(0)
    page.get_by_label("出院诊断（每行：编码 名称）").fill(typed)
    page.get_by_label("出院时间", exact=True).fill(discharged)
    page.get_by_role("button", name="预结算").click()
    categories = page.get_by_test_id("preview-category")
    expect(categories.first).to_be_visible()
    shown = categories.all_inner_texts()
    assert "药品费" in shown and "住院服务费" in shown
    assert not {"drug", "treatment", "service"} & set(shown)
    expect(page.get_by_label("出院诊断（每行：编码 名称）")).to_have_value(typed)
    shot(page, "billing-presettle")

    page.get_by_role("button", name="确认结算").click()
    expect(page.get_by_test_id("status")).to_have_text("已结算")
    page.get_by_label("撤销原因").fill("出院诊断录入有误")
    page.get_by_role("button", name="撤销结算").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm.get_by_test_id("confirm-upstream")).to_contain_text("WI2305")
    shot(page, "billing-revoke-confirm")
    confirm.get_by_role("link", name="返回，不办理").click()
    expect(page.get_by_test_id("status")).to_have_text("已结算")  # nothing was revoked


def test_n13_b32_ready_stays_are_listed_with_the_rehab_plan_flag_and_expiry_as_information(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    rehab = _admit(site, "P010", f"ZY-RHB-{stamp}", "rehab", -3)
    # P003's filing expired ten days ago: admitted twelve days ago, inside its validity.
    expired = _admit(site, "P003", f"ZY-EXP-{stamp}", "medical", -12)
    stays = site.runtime.services.stays
    for encounter_id in (rehab, expired):
        stays.mark_ready(encounter_id, discharged_at=datetime.now(ZONE), actor="HIS")

    sign_in(page, site, USERS["billing"], path="/web/billing?f=ready")
    worklist = page.get_by_test_id("worklist")
    rehab_row = worklist.locator(f"tr[data-encounter='{rehab}']")
    expect(rehab_row).to_contain_text("待出院结算")
    expect(rehab_row.get_by_test_id("flag")).to_contain_text("N§33、B§32")
    expect(worklist.locator(f"tr[data-encounter='{expired}']")).to_contain_text("待出院结算")
    expect(worklist.locator("tbody tr[data-queue=in_hospital]")).to_have_count(0)
    shot(page, "billing-ready")

    rehab_row.click()
    rehab_row.press("Enter")
    expect(page).to_have_url(f"{site.base}/web/billing/{rehab}")
    plan = page.get_by_test_id("warnings").locator("li[data-code=REHAB_PLAN_NOT_DELIVERED]")
    expect(plan).to_contain_text("康复方案尚未填写")
    expect(plan.locator(".article")).to_have_text("N§33、B§32")
    shot(page, "billing-rehab-warning")

    page.goto(f"{site.base}/web/billing/{expired}")
    info = page.get_by_test_id("information")
    expect(info).to_contain_text("仍可正常直接结算")
    expect(info).to_contain_text("重新备案")
    expect(info.locator(".article")).to_have_text("N§13")
    expect(page.get_by_test_id("warnings")).to_have_count(0)  # information, not a warning
    shot(page, "billing-expiry-information")


def test_n38_b27_manual_claim_asks_for_a_confirmation_naming_what_happens_upstream(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    visit = f"ZY-MC-{datetime.now(ZONE):%H%M%S%f}"
    encounter_id = admit_with_fees(site, visit)
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    page.get_by_label("原因").select_option("card_failure")
    page.get_by_label("具体情况").fill("社保卡芯片损坏，无法读卡")
    page.get_by_role("button", name="转手工报销").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_contain_text("确认转参保地手工报销")
    expect(confirm.get_by_test_id("confirm-upstream")).to_contain_text("不能再直接结算")
    expect(page.get_by_test_id("status")).to_have_text("在院")  # not yet
    shot(page, "manual-claim-confirm")
    confirm.get_by_role("button", name="确认转手工报销").click()
    expect(page.get_by_test_id("status")).to_have_text("转手工报销")


def test_b28_admission_desk_lists_todays_admissions_and_cancellations_after_a_confirmation(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    visit = f"ZY-ADM-{datetime.now(ZONE):%H%M%S%f}"
    close_open_stay(site, "P001")
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    page.locator("#his_visit_id").fill(visit)
    page.locator("#his_visit_id").press("Enter")
    expect(page.get_by_test_id("admitted")).to_contain_text("已登记")

    page.goto(f"{site.base}/web/admission")
    worklist = page.get_by_test_id("worklist")
    row = worklist.locator("tbody tr", has_text=visit)
    expect(row).to_contain_text("今日入院")
    name, masked = _masked(site, "P001")
    expect(row).to_contain_text(masked)
    assert name not in worklist.inner_text()
    shot(page, "admission-worklist")

    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    open_stay = page.get_by_test_id("open-stay")
    open_stay.get_by_label("取消原因").fill("误登记")
    open_stay.get_by_role("button", name="取消该入院登记").click()
    confirm = open_stay.get_by_test_id("confirm")
    expect(confirm.get_by_test_id("confirm-upstream")).to_contain_text("WI2404")
    expect(confirm).to_contain_text(visit)
    shot(page, "admission-cancel-confirm")
    confirm.get_by_role("button", name="确认取消入院登记").click()
    expect(page.get_by_test_id("cancelled")).to_contain_text(visit)

    page.goto(f"{site.base}/web/admission?f=cancelled")
    row = page.get_by_test_id("worklist").locator("tbody tr", has_text=visit)
    expect(row).to_contain_text("今日取消入院")
    expect(row).to_contain_text("入院已取消")
    shot(page, "admission-cancelled")


def test_b40_device_counter_lists_todays_fittings_and_months_awaiting_funds_confirmation(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    card_no = device_worker(site.simulator.url, "P091")  # a worker of its own: no earlier fit
    sign_in(page, site, USERS["device"], path="/web/device")
    page.locator("#card").fill(card_no)
    page.locator("#notice").fill(NOTICE)
    page.locator("#notice").press("Enter")
    page.get_by_label("前臂假肢（肌电控制）实际费用").fill("1200.00")
    page.get_by_label("前臂假肢（肌电控制）实际费用").press("Enter")
    expect(page.get_by_test_id("fitted")).to_contain_text("配置结算成功")

    page.goto(f"{site.base}/web/device")
    worklist = page.get_by_test_id("worklist")
    expect(worklist.locator("tbody tr[data-queue=fitted]").first).to_contain_text("已结算")
    assert "钱芳" not in worklist.inner_text() and "钱*" in worklist.inner_text()
    month = datetime.now(ZONE).strftime("%Y-%m")
    pending = page.get_by_test_id("funds-pending").locator(f"tr[data-month='{month}']")
    # this month is not over: not due yet, nothing to confirm (B§40)
    expect(pending).to_contain_text("本月未结束，待清算")
    expect(pending).not_to_contain_text("未确认到账")
    expect(pending.get_by_role("link", name=month)).to_have_attribute(
        "href", f"/web/reconciliation?month={month}"
    )
    shot(page, "device-worklist")


def _upload(site: Site, encounter_id: str, infno: str) -> tuple[str, str]:
    """(msgid, status) of the stay's upload ``infno``."""
    with UnitOfWork(site.engine) as uow:
        (upload,) = [u for u in uploads_for(uow, encounter_id) if u.infno == infno]
        state = site.runtime.outbox.job_state(uow.session, upload.msgid)
    return upload.msgid, state[0] if state else ""


def _upload_state(site: Site, encounter_id: str, infno: str) -> str:
    return _upload(site, encounter_id, infno)[1]


def test_n33_b31_settlements_whose_upload_died_or_is_past_30_minutes_are_listed_as_failed(
    page: Page, site: Site
) -> None:
    page.set_viewport_size(WIDE)
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    # Dead: upstream no longer holds the stay's admission registration (the insured place
    # revoked it on its side), so it refuses the discharge record for good.
    dead = admit_with_fees(site, f"ZY-DEAD-{stamp}")
    eventually(lambda: _upload_state(site, dead, "WI2401") == "delivered")
    revocation = site.runtime.msgids.next()
    site.runtime.gateway.submit(
        Infno.ADMISSION_REVOKE,
        revocation,
        {"mdtrt_id": dead, "psn_no": "P001", "reason": "参保地撤销入院登记"},
        insuplc_admdvs=str(site.person("P001")["insuplc_admdvs"]),
        context=dead,
    )
    settle_by_api(site, dead)
    eventually(lambda: _upload_state(site, dead, "WI2301") == "dead")

    # Late: a stay settled on an earlier day whose discharge record waits behind a refused
    # upload, still undelivered past its 30-minute deadline (the clock moved in the database:
    # half an hour is not waited out in a test).
    late = admit_with_fees(site, f"ZY-LATE-{stamp}")
    blocker = refused_upload(site, late)
    blocked = next(
        j for j in site.runtime.queue.list_jobs(status="dead", limit=1000) if j.id == blocker
    )
    settle_by_api(site, late)
    msgid, status = _upload(site, late, "WI2301")
    assert status == "pending"
    past = datetime.now(UTC) - timedelta(minutes=5)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with site.engine.begin() as db:
        db.execute(
            text("UPDATE upload_job SET deadline = :t WHERE idempotency_key = :m"),
            {"t": past, "m": msgid},
        )
        db.execute(
            text("UPDATE service_upload SET deadline = :t WHERE msgid = :m"),
            {"t": past, "m": msgid},
        )
        db.execute(
            text("UPDATE encounter SET updated_at = :t WHERE id = :e"), {"t": yesterday, "e": late}
        )

    sign_in(page, site, USERS["billing"], path="/web/billing")
    worklist = page.get_by_test_id("worklist")
    dead_row = worklist.locator(f"tr[data-encounter='{dead}']")
    late_row = worklist.locator(f"tr[data-encounter='{late}']")
    for row in (dead_row, late_row):
        expect(row).to_have_attribute("data-queue", "upload_failed")
        expect(row).to_contain_text("结算上传失败或超时")
        expect(row.get_by_test_id("flag")).to_contain_text("N§33、B§31")
    expect(dead_row.get_by_test_id("flag")).to_contain_text("WI2301 上传失败")
    expect(dead_row.get_by_test_id("flag")).to_contain_text("不存在或已撤销")  # upstream's reason
    expect(late_row.get_by_test_id("flag")).to_contain_text("超过30分钟上传期限仍未送达")
    # the most urgent group comes first
    first = worklist.locator("tbody tr").first
    expect(first).to_have_attribute("data-queue", "upload_failed")
    shot(page, "billing-upload-failed")

    page.get_by_test_id("worklist-filter").get_by_label("类别").select_option("upload_failed")
    page.get_by_test_id("worklist-filter").get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"f=upload_failed"))
    shown = {r.get_attribute("data-queue") for r in worklist.locator("tbody tr").all()}
    assert shown == {"upload_failed"}
    expect(worklist.locator(f"tr[data-encounter='{dead}']")).to_have_count(1)
    expect(worklist.locator(f"tr[data-encounter='{late}']")).to_have_count(1)
    expect(page.get_by_test_id("worklist-filter").get_by_label("类别")).to_contain_text(
        "结算上传失败或超时"
    )

    # IT repairs both, as it would (the site is shared: later tests count on every settlement
    # having reached upstream): the insured place undoes its revocation (冲正) and IT re-sends
    # the refused discharge record; IT corrects the refused upload the other one waits behind.
    runtime = site.runtime
    runtime.gateway.submit(
        Infno.REVERSAL,
        runtime.msgids.next(),
        {"omsgid": revocation, "oinfno": "WI2404"},
        insuplc_admdvs=str(site.person("P001")["insuplc_admdvs"]),
        context=dead,
    )
    refused = next(
        j for j in runtime.queue.list_jobs(status="dead", limit=1000)
        if j.kind == "WI2301" and j.ordering_key == dead
    )  # fmt: skip
    runtime.operations.resend_job(refused.id, actor="信息科-01", note="上级系统已重新登记入院")
    runtime.operations.resend_job(
        blocker,
        actor="信息科-01",
        payload={**blocked.payload, "input": {**blocked.payload["input"], "psn_no": "P001",
                                              "begntime": "2026-11-24 09:00:00"}},
        note="补人员编号和入院时间",
    )  # fmt: skip
    for encounter_id in (dead, late):
        eventually(lambda e=encounter_id: _upload_state(site, e, "WI2301") == "delivered")


def test_b28_admission_clerk_opens_a_stay_from_the_list_sees_its_filing_and_cancels_it(
    page: Page, site: Site
) -> None:
    visit = f"ZY-STAY-{datetime.now(ZONE):%H%M%S%f}"
    close_open_stay(site, "P001")
    body = {
        "card": {"kind": "physical", "card_no": CARDS["P001"]},
        "his_visit_id": visit,
        "kind": "medical",
        "admitted_at": readmitted_at(site, "P001", at(0, 0)),  # today
        "department": "骨科",
        "injury_parts": site.person_filing_parts("P001")[:1],
    }
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    encounter_id = str(admitted.json()["id"])
    filing_no = str(admitted.json()["filing_no"])

    sign_in(page, site, USERS["admission"], path="/web/admission")
    worklist = page.get_by_test_id("worklist")
    row = worklist.locator(f"tr[data-encounter='{encounter_id}']")
    expect(row).to_contain_text("今日入院")
    page.wait_for_load_state()
    page.locator("#worklist-filter").fill(visit)
    expect(worklist.locator("tbody tr[data-href]:visible")).to_have_count(1)
    page.locator("#worklist-filter").press("ArrowDown")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site.base}/web/stays/{encounter_id}")

    stay = page.get_by_test_id("stay")
    expect(stay).to_contain_text(visit)
    expect(page.get_by_test_id("status")).to_have_text("在院")
    filing = page.get_by_test_id("filing")
    expect(filing).to_contain_text(filing_no)
    expect(filing.get_by_test_id("filing-status")).to_have_text("有效")
    expect(page.get_by_test_id("uploads")).to_contain_text("WI2401")
    expect(page.get_by_test_id("to-billing")).to_have_count(0)  # not a billing clerk
    shot(page, "admission-stay")

    actions = page.get_by_test_id("actions")
    actions.get_by_label("取消原因").fill("误登记")
    actions.get_by_role("button", name="取消入院登记").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm.get_by_test_id("confirm-upstream")).to_contain_text("WI2404")
    expect(confirm).to_contain_text(visit)
    expect(page.get_by_test_id("status")).to_have_text("在院")  # not yet
    shot(page, "admission-stay-cancel-confirm")
    confirm.get_by_role("link", name="返回，不办理").click()
    expect(page).to_have_url(f"{site.base}/web/stays/{encounter_id}")
    expect(page.get_by_test_id("status")).to_have_text("在院")

    actions.get_by_label("取消原因").fill("误登记")
    actions.get_by_role("button", name="取消入院登记").click()
    page.get_by_test_id("confirm").get_by_role("button", name="确认取消入院登记").click()
    expect(page.get_by_test_id("done")).to_contain_text("WI2404")
    expect(page.get_by_test_id("status")).to_have_text("入院已取消")
    expect(page.get_by_test_id("cancel-stay")).to_have_count(0)
    expect(page.get_by_test_id("uploads")).to_contain_text("WI2404")
    shot(page, "admission-stay-cancelled")
