"""A manual-claim case (upstream down at admission, N§38, B§27) may leave its injured parts
blank; switched to direct settlement it names them as any admission does (N§16, N§33, 附表1),
over the use cases with the simulator over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine

from adapter.domain.errors import EligibilityRefused
from adapter.services.container import Services
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit
from tests.integration.services.support import jobs
from tests.integration.services.test_stays import card_of, outage, seed

pytestmark = pytest.mark.upstream_outage


def _case(services: Services, sim: SimulatorServer, psn_no: str, visit: str) -> str:
    """``psn_no`` admitted as a manual-claim case naming no injured part; upstream back."""
    seed(sim, psn_no, {"filing_no": f"F{psn_no[1:]}", "injury_parts": ["左手", "右前臂"]})
    outage(sim, True)
    command = replace(admit(psn_no, visit, parts=()), card=card_of(psn_no))
    admitted = services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    assert admitted.manual_claim_id and admitted.encounter.injury_parts == ()
    outage(sim, False)
    return admitted.manual_claim_id


def test_EL_INJURY_PARTS_NAMED_a_case_switched_to_direct_names_the_parts_it_treats(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Before, the case switched to direct settlement with no injured part and was registered
    upstream (WI2401): nothing it treated was ever checked against the filing."""
    claim_id = _case(services, sim, "P971", "V-971")
    with pytest.raises(EligibilityRefused) as refused:
        services.manual_claims.switch_to_direct(claim_id, card_of("P971"), actor="c")
    assert refused.value.code == "EL_INJURY_PARTS_NAMED"
    assert (
        "左手、右前臂" in refused.value.message and refused.value.reasons[0].field == "injury_parts"
    )
    assert services.manual_claims.get(claim_id).open_case and jobs(db) == []
    direct = services.manual_claims.switch_to_direct(
        claim_id, card_of("P971"), actor="c", injury_parts=("左手部、右前臂",)
    )
    assert direct.filing_no == "F971" and direct.injury_parts == ("左手", "右前臂")
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]
    assert services.encounter(direct.id).encounter.injury_parts == ("左手", "右前臂")


def test_EL_INJURY_PARTS_FILED_a_case_switched_with_an_unfiled_part_stays_a_case(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    claim_id = _case(services, sim, "P972", "V-972")
    with pytest.raises(EligibilityRefused) as refused:
        services.manual_claims.switch_to_direct(
            claim_id, card_of("P972"), actor="c", injury_parts=("右膝",)
        )
    assert refused.value.code == "EL_INJURY_PARTS_FILED" and "右膝" in refused.value.message
    assert services.manual_claims.get(claim_id).open_case and jobs(db) == []
