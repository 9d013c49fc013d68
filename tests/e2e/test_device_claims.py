"""A device fitting during an upstream outage, end to end (N§38, B§27): the real runtime
(services, store, upload queue and its worker) with the simulator over real HTTP, as the
device counter sees it over REST. The counter is refused naming the two ways on, records the
fitting as a manual-claim case from the start, and — upstream back before the list is handed
over — switches it to a direct settlement whose WI2701 the queue delivers (N§34)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from tests.e2e.hl7_rest import SHANGHAI
from tests.e2e.test_stays import Site
from tests.integration.services.device_world import ARM, ORTHOSIS
from tests.support.devices import P011_CARD, fitting
from tests.support.live import running_site
from tests.support.polling import eventually

CARD = {"kind": "physical", "card_no": P011_CARD}


@pytest.fixture
def counter(db_url: str, engine: Engine) -> Iterator[Site]:
    with running_site(db_url, engine, "柜台", ["device"]) as s:
        yield Site(s.base, s.port, s.headers, s.simulator, s.runtime)


def fitted(hours_ago: int) -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=hours_ago)


def test_n38_b27_n34_an_outage_at_the_device_counter_a_case_then_direct_settlement(
    counter: Site,
) -> None:
    counter.outage(True)
    refused = counter.post(
        "/api/v1/device-fittings", json=fitting((ARM, "30000.00"), fitted_at=fitted(1))
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["errors"][0]["code"] == "UPSTREAM_DOWN_AT_DEVICE_COUNTER"
    assert [w["way"] for w in refused.json()["ways_on"]] == ["retry", "manual_claim"]
    # Two fittings recorded as cases: one handed over, one switched once upstream is back.
    handed_body = fitting(
        (ORTHOSIS, "1500.00"), fitted_at=fitted(2), manual_claim_if_upstream_down=True
    )
    switch_body = fitting(
        (ARM, "30000.00"), fitted_at=fitted(1), manual_claim_if_upstream_down=True
    )
    handed_case = counter.post("/api/v1/device-fittings", json=handed_body)
    switch_case = counter.post("/api/v1/device-fittings", json=switch_body)
    assert handed_case.status_code == switch_case.status_code == 202, switch_case.text
    claims = "/api/v1/device-fittings/manual-claims"
    handed = counter.post(f"{claims}/{handed_case.json()['id']}/hand-over")
    assert handed.status_code == 200 and handed.json()["fee_list"]["medfee_sumamt"] == "1500.00"
    counter.outage(False)
    late = counter.post(
        f"{claims}/{handed_case.json()['id']}/switch-to-direct", json={"card": CARD}
    )
    assert late.status_code == 409 and late.json()["errors"][0]["code"] == (
        "MANUAL_CLAIM_HANDED_OVER"
    )
    switched = counter.post(
        f"{claims}/{switch_case.json()['id']}/switch-to-direct", json={"card": CARD}
    )
    assert switched.status_code == 200, switched.text
    settled = switched.json()
    assert settled["encounter_id"] == switch_case.json()["encounter_id"]
    assert (settled["fund_pay"], settled["personal_pay"]) == ("28000.00", "2000.00")

    def delivered() -> list[dict[str, object]]:
        reply = httpx.get(f"{counter.sim.url}/_sim/received", params={"infno": "WI2701"})
        return list(reply.json()["writes"])

    eventually(lambda: len(delivered()) == 1)
    [write] = delivered()
    assert write["input"]["mdtrt_id"] == settled["encounter_id"]  # type: ignore[index]
