"""Every read of the dialect against the simulator over real HTTP, and the demo seed's cases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import UpstreamRejected
from adapter.domain.filings import FilingCategory, FilingPurpose, FilingStatus, current_filings
from adapter.domain.institutions import DirectSettlementStatus
from adapter.domain.people import CardStatus
from adapter.domain.upstream import CertType
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import CASES, SimulatorServer
from connectors.upstream.simulator.demo_seed import id_is_valid

from .conftest import TODAY


def test_sign_in_gives_a_sign_no_used_by_later_calls(client: ReferenceClient) -> None:
    sign_no = client.sign_in()
    assert sign_no.startswith(f"SN{TODAY:%Y%m%d}")
    client.query_filings("P001")
    assert client.sign_no == sign_no


def test_person_by_citizen_id_card_and_token_is_the_same_worker(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    by_id = client.query_person(CertType.CITIZEN_ID, "310102197803141310")
    by_card = client.query_person(
        CertType.SOCIAL_SECURITY_CARD, "310100A0001", card_sn=by_id.person.card_sn
    )
    by_token = client.verify_ecard("ECQR-P001-DEMO")
    assert by_id.person == by_card.person == by_token.person
    assert by_id.person.name == "王建国" and by_id.person.insured_admdvs == "310100"
    assert by_token.token_expires_at is not None


def test_an_unknown_worker_is_rejected_with_upstreams_words(client: ReferenceClient) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        client.query_person(CertType.CITIZEN_ID, "110101199001011237")
    assert caught.value.upstream_message == "未查询到该人员的工伤保险参保信息"


def test_expired_and_forged_ecard_tokens_are_told_apart(client: ReferenceClient) -> None:
    with pytest.raises(UpstreamRejected, match="过期"):
        client.verify_ecard("ECQR-P010-OLD")
    with pytest.raises(UpstreamRejected, match="无效"):
        client.verify_ecard("ECQR-FORGED")


def test_every_seeded_citizen_id_has_a_valid_check_digit(sim: SimulatorServer) -> None:
    people = sim.state.rows("people")
    assert {p["psn_no"] for p in people} == set(CASES)
    assert all(id_is_valid(p["certno"]) for p in people)


def test_the_seed_covers_every_eligibility_case(client: ReferenceClient) -> None:
    today = TODAY
    [valid] = client.query_filings("P001")
    assert valid.category is FilingCategory.LONG_TERM_RESIDENCE and valid.valid_on(today)
    [referral] = client.query_filings("P002")
    assert referral.category is FilingCategory.REFERRAL
    assert referral.valid_to == today + timedelta(days=2)
    [expired] = client.query_filings("P003")
    assert expired.valid_to < today
    [elsewhere] = client.query_filings("P004")
    assert elsewhere.treatment_admdvs == "310100"
    [late] = client.query_filings("P005")
    assert late.filed_on == today - timedelta(days=3)
    [cancelled] = client.query_filings("P006")
    assert cancelled.status is FilingStatus.CANCELLED and not cancelled.valid_on(today)
    changed = client.query_filings("P007")
    [current] = current_filings(changed)
    assert current.filing_no == "F007B" and current.injury_parts == ("右手", "右腕")
    [terminated] = client.query_filings("P008")
    assert terminated.status is FilingStatus.TERMINATED
    assert terminated.effective_to == today - timedelta(days=16)
    suspended = client.query_person(CertType.CITIZEN_ID, "210102199208162681")
    assert suspended.suspensions and suspended.suspensions[0].in_force(today)
    [rehab] = client.query_filings("P010")
    assert rehab.purpose is FilingPurpose.REHAB
    [device] = client.query_filings("P011")
    assert device.purpose is FilingPurpose.DEVICE and device.approval_notice_no
    assert [d.limit for d in device.devices] == [Decimal("28000.00"), Decimal("1800.00")]
    [liable] = client.query_filings("P012")
    assert liable.third_party_liability
    lost = client.query_person(CertType.CITIZEN_ID, "140102199303031593")
    assert lost.person.card_status is CardStatus.LOST
    assert client.query_filings("P014") == []


def test_institutions_enabled_and_suspended(client: ReferenceClient) -> None:
    demo = client.institution_status("H11010000001")
    assert demo.status is DirectSettlementStatus.ENABLED
    assert demo.kinds == {"medical", "rehab", "device"} and demo.admdvs == "110100"
    fitter = client.institution_status("H11010800003")
    assert fitter.status is DirectSettlementStatus.SUSPENDED


@pytest.mark.parametrize(
    ("kind", "region", "expected"),
    [
        (CatalogueKind.DRUG, "110100", "布洛芬缓释胶囊"),
        (CatalogueKind.TREATMENT, "110100", "清创缝合术（大）"),
        (CatalogueKind.SERVICE_STANDARD, "110100", "普通病房床位费（三人间）"),
        (CatalogueKind.REHAB, "110100", "运动疗法"),
        (CatalogueKind.DEVICE, "310100", "前臂假肢（肌电控制）"),
    ],
)
def test_catalogue_download_per_kind(
    client: ReferenceClient, kind: CatalogueKind, region: str, expected: str
) -> None:
    items = client.download_catalogue(kind, region)
    assert expected in {i.name for i in items}
    assert all(i.kind is kind and i.region == region for i in items)
    if kind is CatalogueKind.SERVICE_STANDARD:
        assert all(i.price_cap is not None for i in items)
    if kind is CatalogueKind.DEVICE:
        assert all(i.limit is not None and i.limit > 0 for i in items)
    newest = max(i.version for i in items)
    assert client.download_catalogue(kind, region, since_version=newest) == []


def test_last_months_figures_and_deductions(client: ReferenceClient) -> None:
    month = f"{TODAY.replace(day=1) - timedelta(days=1):%Y-%m}"
    figures = client.reconciliation(month)
    assert figures.settlement_count == len(figures.settlements) == 3
    assert figures.fund_pay + figures.personal_pay == figures.total
    deductions = client.audit_deductions(month)
    assert {d.item_name for d in deductions} == {"塞来昔布胶囊", "手功能训练"}


def test_seed_endpoint_adds_a_worker_the_client_then_finds(
    client: ReferenceClient, sim: SimulatorServer
) -> None:
    person = {"psn_no": "P900", "certno": "110101199001011237", "psn_name": "测试甲",
              "gend": "1", "brdy": "1990-01-01", "insuplc_admdvs": "120100",
              "card_no": "T90000001", "card_status": "normal"}  # fmt: skip
    response = httpx.post(f"{sim.url}/_sim/seed", json={"people": [person]})
    assert response.json()["seeded"]["people"] == 1
    assert client.query_person(CertType.CITIZEN_ID, "110101199001011237").person.name == "测试甲"
    bad = httpx.post(f"{sim.url}/_sim/seed", json={"people": [{"psn_no": "P901"}]})
    assert bad.status_code == 422 and "certno" in bad.json()["detail"]
    httpx.post(f"{sim.url}/_sim/reset")
    with pytest.raises(UpstreamRejected):
        client.query_person(CertType.CITIZEN_ID, "110101199001011237")
