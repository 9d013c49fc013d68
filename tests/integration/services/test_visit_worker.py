"""Whether a request under a HIS visit number names the stay's own worker
(:mod:`adapter.services.visits`), when the two citizen IDs differ only as a clerk would not
notice: a lowercase ``x`` as the check digit, a space after it (an upstream that pads its
certno field). Over the use cases, with the simulator over real HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from adapter.domain.commands import Admit, Outcome, RecordFees, UpdateVisit
from adapter.domain.errors import Conflict
from adapter.domain.people import CardData, CardKind
from adapter.services.admission import OpenStayExists
from adapter.services.container import Services
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import TODAY, admit, fee

XU = "34010219871012137X"  # check digit X (GB 11643), as the HIS sends it in PID-3
CARD_NO = "CARD9001"
OTHER = "310102197803141310"  # another worker (王建国, P001)


@pytest.fixture
def upstream_pads(sim: SimulatorServer) -> None:
    """A filed worker whose certno upstream returns lowercase and padded: ``…137x ``."""
    day = lambda days: (TODAY + timedelta(days=days)).isoformat()  # noqa: E731
    body = {
        "people": [
            {"psn_no": "P9001", "certno": XU.lower() + " ", "psn_name": "徐强", "gend": "1",
             "brdy": "1987-10-12", "insuplc_admdvs": "340100", "card_no": CARD_NO,
             "card_status": "normal"}
        ],
        "filings": [
            {"filing_no": "BA9001", "psn_no": "P9001", "category": "long_term_residence",
             "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
             "injury_parts": ["左手"],
             "insuplc_admdvs": "340100", "begndate": day(-100), "enddate": day(200),
             "filed_on": day(-101)}
        ],
    }  # fmt: skip
    assert httpx.post(f"{sim.url}/_sim/seed", json=body).status_code == 200


def _admission(citizen_id: str = "") -> Admit:
    card = CardData(kind=CardKind.PHYSICAL, card_no=CARD_NO, citizen_id=citizen_id)
    return replace(admit("P9001", "V-X"), card=card)


def _admitted(services: Services) -> Outcome:
    return services.commands.admit(_admission(), actor="his")


@pytest.mark.usefixtures("upstream_pads")
def test_an_update_naming_the_worker_as_the_his_writes_the_id_is_applied(
    services: Services,
) -> None:
    """An A08 naming 徐强 by ``…137X`` was refused (VISIT_OF_ANOTHER_WORKER): the stay's worker
    was cached as upstream sent the ID, ``…137x `` with a space, and only case was ignored."""
    _admitted(services)
    updated = services.commands.update_visit(
        UpdateVisit("V-X", department="手外科", citizen_id=XU), actor="his"
    )
    assert updated.status == "admitted"
    with pytest.raises(Conflict) as refused:
        services.commands.update_visit(
            UpdateVisit("V-X", department="骨科", citizen_id=OTHER), actor="his"
        )
    assert refused.value.code == "VISIT_OF_ANOTHER_WORKER"


@pytest.mark.usefixtures("upstream_pads")
def test_fees_naming_the_worker_as_the_his_writes_the_id_are_recorded(
    services: Services,
) -> None:
    """A DFT^P03 for 徐强's stay (18.25, ibuprofen) was refused as another worker's."""
    _admitted(services)
    lines = (fee("1", "XN02BEB001", "18.25"),)
    recorded = services.commands.record_fees(RecordFees("V-X", lines, citizen_id=XU), actor="his")
    assert recorded.ignored_line_ids == ()
    with pytest.raises(Conflict) as refused:
        services.commands.record_fees(RecordFees("V-X", lines, citizen_id=OTHER), actor="his")
    assert refused.value.code == "VISIT_OF_ANOTHER_WORKER"


@pytest.mark.usefixtures("upstream_pads")
@pytest.mark.parametrize("sent", [XU, XU.lower(), XU + " "])
def test_an_admission_sent_again_with_the_id_typed_otherwise_is_a_resend(
    services: Services, sent: str
) -> None:
    """The same A01 again, the card now read with the citizen ID: refused as another worker's
    (VISIT_OF_ANOTHER_WORKER) because the ID cached from upstream ended ``x ``."""
    first = _admitted(services)
    again = services.commands.admit(_admission(sent), actor="his")
    assert again.replayed and again.encounter_id == first.encounter_id
    with pytest.raises(Conflict) as refused:
        services.commands.admit(_admission(OTHER), actor="his")
    assert refused.value.code in ("VISIT_OF_ANOTHER_WORKER", "VISIT_ID_REUSED")


FULL_WIDTH = XU.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))


@pytest.mark.usefixtures("upstream_pads")
@pytest.mark.parametrize("sent", [FULL_WIDTH, "340102 19871012 137x", XU.lower()])
def test_an_update_naming_the_worker_as_the_card_check_reads_the_id_is_applied(
    services: Services, sent: str
) -> None:
    """The card check at admission read ``３４０１…１３７Ｘ`` (full width) or an ID typed in
    groups as 徐强's, but an A08 naming him so was refused as another worker's
    (VISIT_OF_ANOTHER_WORKER): the two comparisons read the ID differently. One digit off is
    still another worker."""
    _admitted(services)
    updated = services.commands.update_visit(
        UpdateVisit("V-X", department="手外科", citizen_id=sent), actor="his"
    )
    assert updated.status == "admitted"
    with pytest.raises(Conflict) as refused:
        services.commands.update_visit(
            UpdateVisit("V-X", department="骨科", citizen_id=FULL_WIDTH[:-2] + "８Ｘ"),
            actor="his",
        )
    assert refused.value.code == "VISIT_OF_ANOTHER_WORKER"


@pytest.mark.usefixtures("upstream_pads")
@pytest.mark.parametrize("sent", [XU, FULL_WIDTH])
def test_a_second_stay_during_an_outage_finds_the_worker_however_the_id_is_written(
    services: Services, sim: SimulatorServer, sent: str
) -> None:
    """徐强 is in hospital (V-X, direct settlement; upstream sent his ID ``…137x ``). Upstream
    goes down and the desk admits him again as a manual-claim case under V-Y, the card read
    ``…137X``: the store did not find him by that ID, so the case was keyed by the card and a
    second open stay was admitted beside the first — the same days paid directly and claimed
    again by hand (N§33, N§38, B§27). Now he is found and the open stay is named."""
    first = _admitted(services)
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": True})
    command = replace(admit("P9001", "V-Y"), card=replace(_admission().card, citizen_id=sent))
    with pytest.raises(OpenStayExists) as refused:
        services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    assert refused.value.open_stay.id == first.encounter_id
