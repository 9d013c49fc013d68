"""The money path's hard cases as the HIS sends them over REST, on SQLite and PostgreSQL: a
bill the fund must not pay more of than the fees left, found by auditing the fee path."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine

from adapter.store.uow import UnitOfWork
from tests.integration.api.bodies import line_body
from tests.integration.api.conftest import Api
from tests.integration.api.test_edges import _admitted, _count, _refused
from tests.integration.services.helpers import fee

D = Decimal
BED = "110900001A"  # a bed day: the fund pays up to the 50.00 standard


def _bed(line_id: str, amount: str, quantity: str = "1", **extra: object) -> dict:
    return line_body(line_id, BED, amount, quantity, category="service", **extra)


def _totals(api: Api, encounter_id: str) -> tuple[str, str, str]:
    bill = api.post(f"/api/v1/encounters/{encounter_id}/presettle", role="billing")
    assert bill.status_code == 200, bill.text
    body = bill.json()
    return body["total"], body["fund_pay"], body["personal_pay"]


def _returned_once(api: Api, url: str) -> None:
    """The bed day B1 returned once; a second return of it is beyond what was charged."""
    back = _bed("R1", "-60.00", "-1", reverses="B1")
    assert api.post(url, json={"lines": [back]}).status_code == 200
    again = api.post(url, json={"lines": [_bed("R2", "-60.00", "-1", reverses="B1")]})
    _refused(again, "FEE_REVERSAL_EXCEEDS_ORIGINAL", "lines.0.quantity")


def test_FEE_CHARGE_NAMES_ORIGINAL_n33_n47_a_charge_naming_an_original_is_refused(
    api: Api, db: Engine
) -> None:
    """A charge (positive quantity) sent with ``reverses`` was counted as a reversal of that
    original with its quantity added back: the bed day charged once could be reversed twice,
    and the bill — a bed day at 60.00 and a box at 60.00, both returned — totalled 0.00 with
    the fund paying 10.00 and the worker -10.00 (the standard's 50.00 back twice for the
    box's 60.00). Refused, naming the field; nothing stored."""
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    assert api.post(url, json={"lines": [_bed("B1", "60.00")]}).status_code == 200
    box = line_body("X1", "XN02BEB001", "60.00", reverses="B1")
    response = api.post(url, json={"lines": [line_body("L2", "XA11DBM001", "9.90"), box]})
    error = _refused(response, "FEE_CHARGE_NAMES_ORIGINAL", "lines.1.reverses")
    assert "B1" in error["message"] and error["article"] == "N§33, N§47"
    assert _count(db, "fee_line") == 1
    _returned_once(api, url)
    assert _totals(api, encounter_id) == ("0.00", "0.00", "0.00")


def test_a_charge_naming_an_original_stored_before_takes_nothing_back_from_it(
    api: Api, db: Engine
) -> None:
    """A stay recorded before such charges were refused holds one: it is a charge of its own,
    not a reversal of the line it names, so the original is reversed once and no more."""
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    assert api.post(url, json={"lines": [_bed("B1", "60.00")]}).status_code == 200
    with UnitOfWork(db) as uow:  # as the fee path stored it before
        uow.fee_lines.add(encounter_id, [fee("X1", "XN02BEB001", "60.00", reverses="B1")])
        uow.commit()
    _returned_once(api, url)
    # the box stays the fund's; the bed day charged and returned nets to nothing
    assert _totals(api, encounter_id) == ("60.00", "60.00", "0.00")


def test_FEE_ITEM_IN_CATALOGUE_n32_a_catalogue_item_cannot_be_confirmed_out_of_catalogue(
    api: Api, db: Engine
) -> None:
    """The clerk confirms a box of ibuprofen, an item of the drug catalogue, as 目录外 for the
    worker to pay: answered 200 while the line stayed priced by its own catalogue item, the
    fund paying its 36.50. Refused, saying why; the line stays the fund's."""
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    assert (
        api.post(url, json={"lines": [line_body("L1", "XN02BEB001", "36.50")]}).status_code == 200
    )
    confirm = api.put(f"{url}/L1/mapping", role="billing", json={"out_of_catalogue": True})
    error = _refused(confirm, "FEE_ITEM_IN_CATALOGUE", "out_of_catalogue")
    assert "XN02BEB001" in error["message"] and "不能确认为目录外" in error["message"]
    assert error["article"] == "N§32"
    assert _totals(api, encounter_id) == ("36.50", "36.50", "0.00")
    # an item outside the catalogue is confirmed as before: the worker pays it
    assert api.post(url, json={"lines": [line_body("L2", "HIS-ODD-1", "12.34")]}).status_code == 200
    odd = api.put(f"{url}/L2/mapping", role="billing", json={"out_of_catalogue": True})
    assert odd.status_code == 200, odd.text
    assert _totals(api, encounter_id) == ("48.84", "36.50", "12.34")
