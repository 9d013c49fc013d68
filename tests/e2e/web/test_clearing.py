"""The IT page lists settlements at risk of missing clearing (N§35, B§33, B§37; N§40, N§43, B§44):
a settlement whose discharge record (WI2301) waits behind a refused upload of its encounter
is shown with its monthly cutoff and the days left, and leaves the list once delivered."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from adapter.domain.clearing import ClearingCalendar
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, refused_upload, settle_by_api
from tests.support.polling import eventually


def _status(site: Site, job_id: int) -> str:
    for status in ("pending", "in_flight", "delivered", "dead"):
        if any(j.id == job_id for j in site.runtime.queue.list_jobs(status=status, limit=1000)):
            return status
    raise AssertionError(f"job {job_id} not found")


def test_n35_a_settlement_whose_upload_waits_is_listed_at_risk_on_the_it_page(
    page: Page, site: Site
) -> None:
    encounter_id = admit_with_fees(site, "V-CLEARING-1")
    blocker = refused_upload(site, encounter_id)
    settled = settle_by_api(site, encounter_id)
    setl_id = settled["id"]
    today = datetime.now(ZONE).date()
    cutoff = ClearingCalendar().monthly(today)
    assert cutoff.on == (date(today.year + (today.month == 12), today.month % 12 + 1, 20))

    sign_in(page, site, USERS["it"], path="/web/monitor")
    table = page.get_by_test_id("at-risk")
    row = table.locator(f"tr[data-setl='{setl_id}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("WI2301")
    expect(row).to_contain_text(settled["slip_no"])
    expect(row.get_by_test_id("reason")).to_have_text("等待上传")
    expect(row.get_by_test_id("cutoff")).to_have_text(cutoff.on.isoformat())
    expect(row.get_by_test_id("days-left")).to_have_text(str(cutoff.days_left(today)))
    expect(row).to_contain_text("月度申报截止")
    shot(page, "clearing-at-risk")

    # IT fixes the refused upload; everything of the encounter then reaches upstream in time
    fixed = {"mdtrt_id": f"BLOCK-{encounter_id}", "psn_no": "P001",
             "begntime": "2026-11-24 09:00:00"}  # fmt: skip
    stored = next(j for j in site.runtime.queue.list_jobs(status="dead", limit=1000)
                  if j.id == blocker)  # fmt: skip
    site.runtime.operations.resend_job(
        blocker, actor="信息科-01", payload={**stored.payload, "input": fixed}, note="补入院时间"
    )

    def delivered() -> bool:
        return not any(i.setl_id == setl_id for i in site.runtime.monthly.clearing.at_risk().items)

    eventually(delivered, timeout=30)
    page.reload()
    expect(page.get_by_test_id("at-risk").locator(f"tr[data-setl='{setl_id}']")).to_have_count(0)
    shot(page, "clearing-delivered")


def test_n40_a_month_with_differences_unresolved_at_its_half_yearly_cutoff_is_flagged(
    page: Page, site: Site
) -> None:
    today = datetime.now(ZONE).date()
    month = today.replace(day=1)
    for _ in range(7):  # seven months back: its half-yearly cutoff has passed
        month = (month - timedelta(days=1)).replace(day=1)
    label = f"{month:%Y-%m}"
    _, half_yearly = ClearingCalendar().month_cutoffs(label)
    assert half_yearly.on <= today
    code = site.runtime.services.context.institution.code
    reply = httpx.post(
        f"{site.simulator.url}/_sim/seed",
        json={"figures": [{
            "fixmedins_code": code, "month": label, "total": "0.00", "fund_pay": "0.00",
            "psn_pay": "0.00",
            "settlements": [{"setl_id": f"SX-HALF-{label}", "msgid": "SEEDED", "psn_no": "P001",
                             "kind": "medical", "setl_date": f"{label}-15", "total": "99.00",
                             "fund_pay": "99.00", "psn_pay": "0.00", "revoked": False}],
        }]},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    run = site.runtime.monthly.reconciliation.run(label, actor="system:schedule")
    assert run.run.outcome == "differences"

    sign_in(page, site, USERS["billing"], path=f"/web/reconciliation?month={label}")
    flagged = page.get_by_test_id("unresolved-at-clearing")
    expect(flagged.get_by_test_id("month-unresolved")).to_contain_text(
        f"半年清算截止日（{half_yearly.on.isoformat()}）仍未解决"
    )
    expect(flagged.locator(f"li[data-month='{label}']")).to_contain_text("有差异")
    shot(page, "unresolved-at-clearing")
    # every month's page lists it, so it is not missed from the month IT usually opens
    page.goto(f"{site.base}/web/reconciliation")
    listed = page.get_by_test_id("unresolved-at-clearing").locator(f"li[data-month='{label}']")
    expect(listed).to_have_count(1)
    expect(page.get_by_test_id("month-unresolved")).to_have_count(0)
