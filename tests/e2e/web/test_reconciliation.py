"""The monthly page (对账): two stays settled and delivered upstream, upstream's figures seeded
with a settlement unknown here and a second, cheaper record of one of ours; the billing clerk
reconciles the month from the browser and reads every difference with its kind and what to
do, fetches the month's audit deductions with upstream's reasons, and sees the earlier runs.
Clerks of other desks are refused the page."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from adapter.domain.months import previous_month
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import USERS, ZONE, Site
from tests.e2e.web.stays import admit_with_fees, settle_by_api
from tests.support.polling import eventually

D = Decimal


def _settled_and_delivered(site: Site, visit: str) -> dict[str, Any]:
    settled = settle_by_api(site, admit_with_fees(site, visit))

    def delivered() -> bool:
        writes = httpx.get(
            f"{site.simulator.url}/_sim/received", params={"infno": "WI2301"}
        ).json()["writes"]
        return any(w["input"].get("setl_id") == settled["id"] and w["took_effect"] for w in writes)

    eventually(delivered, timeout=30)  # upstream holds it: it is in its monthly figures
    return settled


def _seed(site: Site, **lists: list[dict[str, Any]]) -> None:
    reply = httpx.post(f"{site.simulator.url}/_sim/seed", json=lists)
    assert reply.status_code == 200, reply.text


def _upstream(setl_id: str, day: str, total: str, fund: str) -> dict[str, Any]:
    return {
        "setl_id": setl_id,
        "msgid": f"{setl_id}-SEEDED",
        "psn_no": "P001",
        "kind": "medical",
        "setl_date": day,
        "total": total,
        "fund_pay": fund,
        "psn_pay": str(D(total) - D(fund)),
        "revoked": False,
    }


def _deduction(
    site: Site, no: str, month: str, setl_id: str, item: tuple[str, str], amount: str, reason: str
) -> dict[str, Any]:
    code, name = item
    institution = site.runtime.services.context.institution.code
    return {
        "deduction_no": no, "fixmedins_code": institution, "month": month, "setl_id": setl_id,
        "psn_no": "P001", "item_code": code, "item_name": name, "amount": amount,
        "reason": reason,
    }  # fmt: skip


def _csrf(page: Page) -> str:
    return str(page.locator("form.whoami input[name=csrf_token]").input_value())


def test_the_billing_desk_reconciles_the_month_and_reads_differences_and_deductions(
    page: Page, site: Site
) -> None:
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    a = _settled_and_delivered(site, f"ZY-REC-A-{stamp}")
    b = _settled_and_delivered(site, f"ZY-REC-B-{stamp}")
    month, day = a["settles_on"][:7], a["settles_on"]
    a_total, a_fund = D(a["total"]), D(a["fund_pay"])
    sx = f"SX-REC-{stamp}"
    _seed(
        site,
        figures=[
            {
                "fixmedins_code": site.runtime.services.context.institution.code,
                "month": month,
                "total": "0.00",
                "fund_pay": "0.00",
                "psn_pay": "0.00",
                "settlements": [
                    _upstream(sx, day, "99.00", "99.00"),  # unknown here
                    # a second record of A upstream, 5 fen short: listed twice, amounts differ
                    _upstream(a["id"], day, str(a_total - D("0.05")), str(a_fund - D("0.05"))),
                ],
            }
        ],
        deductions=[
            _deduction(site, f"KK{stamp}1", month, a["id"], ("XM01AHC004", "塞来昔布胶囊"),
                       "25.00", "非工伤治疗费用，不予支付（伤病分离，B§29）"),
            _deduction(site, f"KK{stamp}2", month, a["id"], ("110900001A", "床位费（三人间）"),
                       "30.00", "超出住院服务标准部分，不予支付（N§37）"),
            _deduction(site, f"KK{stamp}3", month, b["id"], ("XN02BEB001", "布洛芬缓释胶囊"),
                       "12.35", "超药品说明书适应症用药，不予支付（N§37）"),
        ],
    )  # fmt: skip

    sign_in(page, site, USERS["billing"], path="/web/billing")
    page.get_by_role("navigation", name="工作台").get_by_role("link", name="月度对账").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("月度对账")
    month_box = page.get_by_label("对账月份")
    # last month by default: what the agency reconciles early in a month (N§35)
    expect(month_box).to_have_value(previous_month(datetime.now(ZONE).date()))
    month_box.fill(month)
    month_box.press("Enter")  # keyboard: the month form submits on Enter
    expect(page).to_have_url(f"{site.base}/web/reconciliation?month={month}")
    rec = page.get_by_test_id("reconciliation")
    expect(rec.get_by_role("heading", level=2)).to_have_text(f"{month} 对账结果")

    run = rec.get_by_role("button", name="立即对账")
    run.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("done")).to_contain_text("对账已完成")
    expect(page.get_by_test_id("run-actor")).to_have_text(USERS["billing"])
    expect(page.get_by_test_id("run-outcome")).to_have_text("有差异")

    # Every difference with its kind (Chinese), the numbers, both amounts and what to do.
    missing = page.get_by_test_id("differences").locator(f"tr[data-setl='{sx}']")
    expect(missing).to_have_count(1)
    expect(missing).to_have_attribute("data-kind", "missing_here")
    expect(missing.get_by_test_id("kind")).to_have_text("本地无此结算")
    expect(missing.get_by_test_id("local")).to_have_text("无")
    expect(missing.get_by_test_id("upstream")).to_contain_text("99.00")
    expect(missing.get_by_test_id("action")).to_contain_text("核对是否为本机构的结算")
    expect(missing).to_contain_text("王**（P001）")

    differs = page.locator(f"tr[data-setl='{a['id']}'][data-kind='amount_differs']")
    expect(differs.get_by_test_id("kind")).to_have_text("金额不一致")
    expect(differs).to_contain_text(f"结算单 {a['slip_no']}")
    expect(differs.get_by_test_id("local")).to_contain_text(f"{a_total}")
    expect(differs.get_by_test_id("local")).to_contain_text(f"基金 {a_fund}")
    expect(differs.get_by_test_id("upstream")).to_contain_text(f"{a_total - D('0.05')}")
    expect(differs.get_by_test_id("delta")).to_have_text("-0.05")
    expect(differs.get_by_test_id("action")).to_contain_text("撤销后重新结算并上传")
    duplicate = page.locator(f"tr[data-setl='{a['id']}'][data-kind='duplicate_upstream']")
    expect(duplicate.get_by_test_id("kind")).to_have_text("上级系统重复记录")
    expect(page.locator(f"tr[data-setl='{b['id']}']")).to_have_count(0)  # B balances
    expect(page.get_by_test_id("differences")).not_to_contain_text("王建国")  # names masked

    # Both sides' totals as the run kept them, the differing ones marked.
    report = site.runtime.monthly.reconciliation.latest(month)
    assert report.result is not None
    local, upstream = report.result.local, report.result.upstream
    for key, here, there in (
        ("total", local.amounts.total, upstream.amounts.total),
        ("fund", local.amounts.fund_pay, upstream.amounts.fund_pay),
        ("personal", local.amounts.personal_pay, upstream.amounts.personal_pay),
    ):
        expect(page.get_by_test_id(f"local-{key}")).to_have_text(f"{here:.2f}")
        expect(page.get_by_test_id(f"upstream-{key}")).to_have_text(f"{there:.2f}")
    expect(page.get_by_test_id("local-count")).to_have_text(str(local.count))
    expect(page.get_by_test_id("upstream-count")).to_have_text(str(upstream.count))
    assert upstream.count >= local.count + 2  # SX and A's second record at least
    expect(page.get_by_test_id("totals-count")).to_have_class("differs")
    expect(page.get_by_test_id("totals-total")).to_contain_text("不一致")
    expect(page.get_by_test_id("delta-total")).to_have_text(
        f"{upstream.amounts.total - local.amounts.total:.2f}"
    )
    shot(page, "reconciled")

    # Run again: the new run on top, the first one listed below it.
    page.get_by_role("button", name="立即对账").click()
    expect(page.get_by_test_id("runs").locator("tbody tr")).to_have_count(2)
    runs = site.runtime.monthly.reconciliation.history(month)
    assert [r.actor for r in runs] == [USERS["billing"]] * 2
    expect(page.get_by_test_id("runs").locator("tbody tr").first).to_have_attribute(
        "data-run", str(runs[0].id)
    )

    # The month's audit deductions, fetched from upstream, per settlement with the reasons.
    deductions = page.get_by_test_id("deductions")
    expect(deductions.get_by_test_id("no-deductions")).to_be_visible()
    deductions.get_by_role("button", name="从上级系统获取").click()
    expect(page.get_by_test_id("done")).to_contain_text("已从上级系统获取本月审核扣款")
    of_a = deductions.locator(f"tbody[data-setl='{a['id']}']")
    expect(of_a.locator("tr[data-deduction]")).to_have_count(2)
    expect(of_a).to_contain_text(f"结算单 {a['slip_no']}")
    expect(of_a.locator(f"tr[data-deduction='KK{stamp}1'] [data-testid=reason]")).to_have_text(
        "非工伤治疗费用，不予支付（伤病分离，B§29）"
    )
    expect(of_a.locator(f"tr[data-deduction='KK{stamp}2']")).to_contain_text("床位费（三人间）")
    expect(of_a.get_by_test_id("settlement-total")).to_have_text("55.00")
    of_b = deductions.locator(f"tbody[data-setl='{b['id']}']")
    expect(of_b.get_by_test_id("reason")).to_have_text("超药品说明书适应症用药，不予支付（N§37）")
    expect(deductions.get_by_test_id("deductions-total")).to_have_text("67.35")
    expect(deductions).to_contain_text("本月扣款合计（3 项）")
    path = shot(page, "deductions")
    assert path.stat().st_size > 0


def test_a_revocation_upstream_acknowledged_but_did_not_apply_is_asked_of_the_agency(
    page: Page, site: Site
) -> None:
    """A stay settled and delivered, then revoked: its revocation (WI2305) reaches upstream,
    yet upstream's monthly figures still list the settlement in effect. The billing clerk's
    page says the revocation was delivered, naming its msgid and when, and to ask the agency
    to revoke the settlement — not to go and look in the upload queue."""
    stamp = f"{datetime.now(ZONE):%H%M%S%f}"
    c = _settled_and_delivered(site, f"ZY-REC-C-{stamp}")
    month, day = c["settles_on"][:7], c["settles_on"]
    revoked = httpx.post(
        f"{site.base}/api/v1/settlements/{c['id']}/revoke",
        json={"reason": "出院诊断录入有误"},
        headers={"Authorization": f"Bearer {site.tokens['billing']}"},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text

    def revocation_delivered() -> bool:
        report = site.runtime.services.context
        with report.uow() as uow:
            upload = uow.uploads.latest("WI2305", settlement_id=c["id"])
            return upload is not None and report.outbox.delivered(uow.session, upload.msgid)

    eventually(revocation_delivered, timeout=30)
    _seed(
        site,
        figures=[
            {
                "fixmedins_code": site.runtime.services.context.institution.code,
                "month": month, "total": "0.00", "fund_pay": "0.00", "psn_pay": "0.00",
                "settlements": [_upstream(c["id"], day, c["total"], c["fund_pay"])],
            }
        ],
    )  # fmt: skip

    sign_in(page, site, USERS["billing"], path=f"/web/reconciliation?month={month}")
    page.get_by_test_id("reconciliation").get_by_role("button", name="立即对账").click()
    expect(page.get_by_test_id("done")).to_contain_text("对账已完成")
    row = page.get_by_test_id("differences").locator(f"tr[data-setl='{c['id']}']")
    expect(row).to_have_attribute("data-kind", "revoked_here_only")
    expect(row.get_by_test_id("kind")).to_have_text("仅本地已撤销")
    with site.runtime.services.context.uow() as uow:
        upload = uow.uploads.latest("WI2305", settlement_id=c["id"])
    assert upload is not None
    action = row.get_by_test_id("action")
    expect(action).to_contain_text(f"msgid {upload.msgid}")
    expect(action).to_contain_text("送达上级系统，上级系统仍列为有效结算，未执行撤销")
    expect(action).to_contain_text("请区级经办机构按该撤销信息")
    expect(row.get_by_test_id("revocation-upload")).to_have_text(
        f"撤销上传（WI2305）已送达，任务{upload.job_id}"
    )
    shot(page, "revocation-delivered")


def test_other_desks_are_refused_and_the_device_counter_sees_only_its_funds(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    expect(page.locator("#card")).to_be_visible()
    nav = page.get_by_role("navigation", name="工作台")
    expect(nav.get_by_role("link", name="月度对账")).to_have_count(0)
    token = _csrf(page)  # the clerk's own valid token, from the desk it may use
    assert token
    reply = page.goto(f"{site.base}/web/reconciliation")
    assert reply is not None and reply.status == 403
    expect(page.get_by_role("alert")).to_contain_text("该页面需要以下角色之一")
    expect(page.get_by_role("alert")).to_contain_text("您的角色：入院登记")
    shot(page, "refused")
    month = f"{datetime.now(ZONE):%Y-%m}"
    before = len(site.runtime.monthly.reconciliation.history(month))
    posted = page.request.post(
        f"{site.base}/web/reconciliation/run", form={"csrf_token": token, "month": month}
    )
    assert posted.status == 403  # a valid token does not make it a billing clerk
    assert "该页面需要以下角色之一" in posted.text()
    assert len(site.runtime.monthly.reconciliation.history(month)) == before

    page.goto(f"{site.base}/web/admission")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_label("用户名")).to_be_visible()  # signed out before signing in again
    sign_in(page, site, USERS["device"], path="/web/reconciliation")
    expect(page.get_by_test_id("device-funds")).to_be_visible()
    expect(page.get_by_test_id("reconciliation")).to_have_count(0)
    expect(page.get_by_test_id("deductions")).to_have_count(0)
    posted = page.request.post(
        f"{site.base}/web/reconciliation/deductions/fetch",
        form={"csrf_token": _csrf(page), "month": month},
    )
    assert posted.status == 403 and "该页面需要以下角色之一" in posted.text()
    shot(page, "device")
