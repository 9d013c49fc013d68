"""What the clerk reads cites the treatment place's articles: national first, Beijing chapter 4
and the general chapters, never chapter 2 (B§7–B§18) — over the use cases, with the simulator."""

from __future__ import annotations

import re

import pytest

from adapter.domain.errors import EligibilityRefused, InvalidTransition
from adapter.domain.rules import FILING_CHANNELS
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from tests.integration.services.helpers import admit, fee, local

CHAPTER_2 = re.compile(r"B§(?:[7-9]|1[0-8])(?!\d)")


def test_n18_unfiled_worker_is_shown_the_filing_channels(services: Services) -> None:
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(admit("P014", "V-N18"), actor="clerk01")
    (reason,) = [r for r in refused.value.reasons if r.code == "EL_FILING_EXISTS"]
    assert reason.article == "N§16, N§18, B§26, B§28"
    for channel in FILING_CHANNELS:  # the national channels (N§46) and the insured place's agency
        assert channel in reason.message
    assert "N§18" in reason.message and "N§46" in reason.message
    assert not CHAPTER_2.search(reason.article + reason.message)


def test_b26_filed_after_admission_is_refused_citing_the_treatment_places_article(
    services: Services,
) -> None:
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(admit("P005", "V-B26"), actor="clerk01")
    (reason,) = [r for r in refused.value.reasons if r.code == "EL_FILED_BEFORE_ADMISSION"]
    assert reason.article == "N§16, B§26"
    assert "入院前完成备案" in reason.message


def test_n47_b50_the_fees_of_a_settled_stay_change_only_after_a_revocation(
    services: Services,
) -> None:
    stay = services.admissions.admit(admit("P001", "V-N47"), actor="clerk01").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "36.50")], actor="his")
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="billing01")
    with pytest.raises(InvalidTransition) as refused:
        services.fees.record(stay.id, [fee("L2", "XN02BEB001", "10.00")], actor="his")
    assert refused.value.code == "ENCOUNTER_NOT_OPEN"
    assert refused.value.article == "N§47, B§50"
    assert "请先撤销结算" in refused.value.message
    services.revocations.revoke(settled.settlement.id, reason="补录费用", actor="billing01")
    recorded = services.fees.record(stay.id, [fee("L2", "XN02BEB001", "10.00")], actor="his")
    assert recorded.added == ("L2",)
