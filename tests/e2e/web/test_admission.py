"""The admission desk as a clerk with a card scanner uses it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from adapter.domain.encounters import EncounterKind
from adapter.domain.people import CardData, CardKind
from adapter.domain.rules import FILING_CHANNELS
from adapter.store.uow import UnitOfWork
from tests.e2e.web.conftest import shot, sign_in
from tests.e2e.web.site import CARDS, USERS, ZONE, Site
from tests.e2e.web.stays import at, close_open_stay, his, readmitted_at


def test_a_valid_worker_is_admitted_by_scanning_the_card(page: Page, site: Site) -> None:
    close_open_stay(site, "P001")
    sign_in(page, site, USERS["admission"], path="/web/admission")
    visit = f"ZY-WEB-{datetime.now(ZONE):%H%M%S%f}"
    # The scanner types into the focused field and sends Enter: no click needed.
    expect(page.locator("#card")).to_be_focused()
    page.keyboard.type(CARDS["P001"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("verdict")).to_contain_text("可以直接结算")
    person = page.get_by_test_id("person")
    expect(person).to_contain_text("王建国")
    certno = site.person("P001")["certno"]
    expect(person).to_contain_text(certno[:6] + "********" + certno[-4:])
    assert certno not in page.content()  # never a full citizen ID on the page
    expect(page.get_by_test_id("filings")).to_contain_text("F001")
    shot(page, "checked")
    expect(page.locator("#his_visit_id")).to_be_focused()
    page.keyboard.type(visit)
    page.keyboard.press("Enter")
    admitted = page.get_by_test_id("admitted")
    expect(admitted).to_contain_text("已登记为跨省异地直接结算住院")
    expect(admitted).to_contain_text("WI2401 已排队")
    shot(page, "admitted")
    encounter_id = page.get_by_test_id("encounter-id").inner_text()
    with UnitOfWork(site.engine) as uow:
        stored = uow.encounters.get(encounter_id).encounter
    assert stored.his_visit_id == visit and stored.psn_no == "P001"
    assert stored.injury_parts == tuple(site.person_filing_parts("P001"))


def test_an_unfiled_worker_is_refused_with_every_reason_and_where_to_file(
    page: Page, site: Site
) -> None:
    sign_in(page, site, USERS["admission"], path="/web/admission")
    for psn_no in ("P014", "P009", "P003"):
        page.locator("#card").fill(CARDS[psn_no])
        page.locator("#card").press("Enter")
        expect(page.get_by_test_id("verdict")).to_contain_text("不能直接结算")
        expected = site.runtime.services.eligibility.query(
            CardData(kind=CardKind.PHYSICAL, card_no=CARDS[psn_no]),
            EncounterKind.MEDICAL,
            datetime.now(ZONE).date(),
        ).decision.reasons
        assert expected, psn_no
        items = page.get_by_test_id("refusal").locator("li")
        expect(items).to_have_count(len(expected))
        for reason, item in zip(expected, items.all(), strict=True):
            assert item.get_attribute("data-code") == reason.code
            expect(item.locator(".article")).to_have_text(reason.article)
        shot(page, f"refused-{psn_no}")
        expect(page.get_by_role("button", name="确认入院登记")).to_have_count(0)
    # P003's filing expired: the worker is told where to file again.
    channels = page.get_by_test_id("channels")
    for channel in FILING_CHANNELS:
        expect(channels).to_contain_text(channel)


def test_b28_a_worker_with_an_open_stay_sees_it_with_its_actions_not_a_second_form(
    page: Page, site: Site
) -> None:
    close_open_stay(site, "P001")
    first = f"ZY-OPEN-{datetime.now(ZONE):%H%M%S%f}"
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    page.locator("#his_visit_id").fill(first)
    page.locator("#his_visit_id").press("Enter")
    expect(page.get_by_test_id("admitted")).to_contain_text("已登记")
    # The same card again: the open stay and its actions, no second admission form.
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    open_stay = page.get_by_test_id("open-stay")
    expect(open_stay).to_contain_text(first)
    expect(open_stay).to_contain_text("B§28")
    expect(page.locator("#his_visit_id")).to_have_count(0)
    expect(open_stay.get_by_test_id("continue-stay")).to_contain_text("继续该次住院")
    shot(page, "open-stay")
    open_stay.get_by_label("取消原因").fill("误登记")
    open_stay.get_by_role("button", name="取消该入院登记").click()
    confirm = open_stay.get_by_test_id("confirm")
    expect(confirm).to_contain_text("WI2404")
    shot(page, "cancel-confirm")
    confirm.get_by_role("button", name="确认取消入院登记").click()
    expect(page.get_by_test_id("cancelled")).to_contain_text(first)
    # Now a new admission may be made.
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    expect(page.locator("#his_visit_id")).to_have_count(1)
    expect(page.get_by_test_id("open-stay")).to_have_count(0)


def _case_of_p001(page: Page, site: Site, parts: str) -> str:
    """王建国 admitted at the desk as a manual-claim case (upstream down, N§38) with the injured
    ``parts`` typed; the billing clerk then at their own desk on the stay's page: its id."""
    close_open_stay(site, "P001")
    faults = f"{site.simulator.url}/_sim/faults"
    visit = f"ZY-CASE-{datetime.now(ZONE):%H%M%S%f}"
    sign_in(page, site, USERS["admission"], path="/web/admission")
    httpx.post(faults, json={"outage": True})
    try:
        page.locator("#card").fill(CARDS["P001"])
        page.locator("#card").press("Enter")
        expect(page.get_by_test_id("error")).to_contain_text("N§38")
        form = page.get_by_test_id("manual-claim-admission")
        form.get_by_label("HIS 住院号").fill(visit)
        form.get_by_label("受伤部位（按工伤认定，多个用“、”分隔）").fill(parts)
        shot(page, "manual-claim-admission")
        form.get_by_role("button", name="按手工报销登记入院").click()
        expect(page.get_by_test_id("admitted")).to_contain_text("已按手工报销登记入院")
        encounter_id = page.get_by_test_id("encounter-id").inner_text()
    finally:
        httpx.post(faults, json={})
    page.context.clear_cookies()
    sign_in(page, site, USERS["billing"], path=f"/web/billing/{encounter_id}")
    return encounter_id


def test_n38_b27_upstream_down_at_admission_records_a_manual_claim_case_that_may_switch(
    page: Page, site: Site
) -> None:
    encounter_id = _case_of_p001(page, site, "左手")
    case = page.get_by_test_id("manual-claim-case")
    expect(case).to_contain_text("N§38")
    expect(page.get_by_role("button", name="确认结算")).to_have_count(0)
    case.get_by_label("社会保障卡号 / 电子社保卡二维码 / 身份证号").fill(CARDS["P001"])
    case.get_by_role("button", name="核验并转为直接结算").click()
    expect(page.get_by_test_id("done")).to_contain_text("已转为跨省异地直接结算住院")
    expect(page.get_by_role("button", name="确认结算")).to_have_count(1)
    with UnitOfWork(site.engine) as uow:
        stored = uow.encounters.get(encounter_id).encounter
    assert stored.psn_no == "P001" and stored.filing_no


def test_EL_INJURY_PARTS_NAMED_an_admission_with_no_part_ticked_is_refused_naming_the_parts(
    page: Page, site: Site
) -> None:
    """The clerk unticks every filed part (the HIS's diagnosis is elsewhere): before, the stay
    was registered for direct settlement with no injured part at all (N§16). Now the desk
    says which parts are filed, keeps the form, and registers nothing until one is ticked."""
    close_open_stay(site, "P001")
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("#card").fill(CARDS["P001"])
    page.locator("#card").press("Enter")
    parts = site.person_filing_parts("P001")  # 左手、右前臂
    visit = f"ZY-NOPART-{datetime.now(ZONE):%H%M%S%f}"
    page.locator("#his_visit_id").fill(visit)
    for part in parts:
        page.get_by_label(part, exact=True).uncheck()
    page.get_by_role("button", name="确认入院登记").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("入院登记未填写本次治疗的受伤部位")
    expect(refusal).to_contain_text("、".join(parts))
    expect(refusal).to_contain_text("N§16")
    shot(page, "no-part-refused")
    assert site.runtime.services.admissions.open_stay("P001", EncounterKind.MEDICAL) is None
    expect(page.locator("#his_visit_id")).to_have_value(visit)
    page.get_by_label(parts[0], exact=True).check()
    page.get_by_role("button", name="确认入院登记").click()
    expect(page.get_by_test_id("admitted")).to_contain_text("已登记为跨省异地直接结算住院")


def test_EL_INJURY_PARTS_NAMED_a_case_admitted_without_parts_names_them_at_the_switch(
    page: Page, site: Site
) -> None:
    """A manual-claim case may leave its injured parts blank; before, the billing desk switched
    it to direct settlement with none (WI2401 queued, nothing checked, N§16). Now the switch
    asks for them, says which are filed, keeps the card as read, and switches once named."""
    encounter_id = _case_of_p001(page, site, "")
    case = page.get_by_test_id("manual-claim-case")
    card = case.get_by_label("社会保障卡号 / 电子社保卡二维码 / 身份证号")
    card.fill(CARDS["P001"])
    case.get_by_role("button", name="核验并转为直接结算").click()
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("、".join(site.person_filing_parts("P001")))
    expect(refusal).to_contain_text("N§16")
    expect(card).to_have_value(CARDS["P001"])
    case.get_by_label("其他部位（多个用“、”分隔）").fill("左手部")
    shot(page, "switch-parts")
    case.get_by_role("button", name="核验并转为直接结算").click()
    expect(page.get_by_test_id("done")).to_contain_text("已转为跨省异地直接结算住院")
    with UnitOfWork(site.engine) as uow:
        stored = uow.encounters.get(encounter_id).encounter
    assert stored.filing_no and stored.injury_parts == ("左手",)


def test_OPEN_STAY_EXISTS_a_rehab_admission_shows_the_open_medical_stay_and_the_transfer(
    page: Page, site: Site
) -> None:
    """P0980, filed for treatment and rehab, in a medical stay the HIS registered: the clerk
    chooses 住院工伤康复 and scans the card. Before, the rehab form was offered and a second
    stay admitted beside the first; now the open stay is shown, with how to transfer."""
    person = {"psn_no": "P0980", "certno": "310102198001010980", "psn_name": "测试工人",
              "gend": "1", "brdy": "1980-01-01", "insuplc_admdvs": "310100",
              "card_no": "330100K0980", "card_status": "normal"}  # fmt: skip
    filed = site.today - timedelta(days=100)
    filing = {"filing_no": "F0980", "psn_no": "P0980", "category": "long_term_residence",
              "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
              "injury_parts": ["左手"], "insuplc_admdvs": "310100",
              "begndate": filed.isoformat(), "filed_on": filed.isoformat(),
              "enddate": (site.today + timedelta(days=300)).isoformat()}  # fmt: skip
    rehab = {**filing, "filing_no": "F0980R", "purpose": "rehab", "category": "resident_work"}
    seeded = {"people": [person], "filings": [filing, rehab]}
    assert httpx.post(f"{site.simulator.url}/_sim/seed", json=seeded).status_code == 200
    close_open_stay(site, "P0980")
    visit = f"ZY-MED-{datetime.now(ZONE):%H%M%S%f}"
    body = {"card": {"kind": "physical", "card_no": "330100K0980"}, "his_visit_id": visit,
            "kind": "medical", "admitted_at": readmitted_at(site, "P0980", at(-1)),
            "injury_parts": ["左手"]}  # fmt: skip
    admitted = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=his(site))
    assert admitted.status_code == 201, admitted.text
    sign_in(page, site, USERS["admission"], path="/web/admission")
    page.locator("select[name=kind]").select_option("rehab")
    page.locator("#card").fill("330100K0980")
    page.locator("#card").press("Enter")
    open_stay = page.get_by_test_id("open-stay")
    expect(open_stay).to_contain_text(visit)
    expect(open_stay).to_contain_text("住院工伤医疗")
    transfer = open_stay.get_by_test_id("transfer")
    expect(transfer).to_contain_text("医疗转康复请先办理本次住院的出院结算")
    expect(page.locator("#his_visit_id")).to_have_count(0)
    shot(page, "open-stay-other-kind")
    open_stay.get_by_label("取消原因").fill("误登记")
    open_stay.get_by_role("button", name="取消该入院登记").click()
    open_stay.get_by_test_id("confirm").get_by_role("button", name="确认取消入院登记").click()
    expect(page.get_by_test_id("cancelled")).to_contain_text(visit)
    page.locator("select[name=kind]").select_option("rehab")
    page.locator("#card").fill("330100K0980")
    page.locator("#card").press("Enter")
    expect(page.locator("#his_visit_id")).to_have_count(1)
