"""A fee batch's answer costs what the batch holds: its own lines priced and the stay's
totals, however long the stay (the stay's lines are read a page at a time with GET
/api/v1/encounters/{id}/fees, where ``stay_lines`` says)."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.api.bodies import admit_over_api, line_body
from tests.integration.api.conftest import Api
from tests.support.fee_batches import fee_batch, total_split

D = Decimal
STORED = 600  # more than [api] answer_lines (500)


def test_a_batch_into_a_long_stay_answers_its_own_lines_and_the_stays_totals(api: Api) -> None:
    eid = admit_over_api(api).json()["id"]
    url = f"/api/v1/encounters/{eid}/fees"
    for batch in range(STORED // 200):
        assert api.post(url, role="his", json={"lines": fee_batch(f"B{batch}")}).status_code == 200

    lines = [
        *fee_batch("N", 196),
        line_body("R1", "XN02BEB001", "-19.25", "-1", reverses="B0L001"),
        line_body("X1", "HIS-NEW-1", "42.00"),  # unknown: flagged for the clerk
        line_body("W1", "XN02BEB001", "20.00", work_injury=False),  # another illness: the worker's
        line_body("M1", "MEAL", "30.00", category="meal"),  # meal subsidy: outside the bill
    ]
    recorded = api.post(url, role="his", json={"lines": lines})
    assert recorded.status_code == 200, recorded.text
    fees = recorded.json()["fees"]
    batch_ids = [line["his_line_id"] for line in lines]
    # the batch's lines only, each priced: who pays and why
    assert [x["his_line_id"] for x in fees["lines"]] == batch_ids[:-1]
    assert [x["his_line_id"] for x in fees["excluded"]] == ["M1"]
    assert all(D(x["fund_pay"]) + D(x["personal_pay"]) == D(x["amount"]) for x in fees["lines"])
    assert all(x["rule"]["code"] for x in fees["lines"])
    reversal = next(x for x in fees["lines"] if x["his_line_id"] == "R1")
    assert reversal["reverses"] == "B0L001" and reversal["fund_pay"] == "-19.25"
    other = next(x for x in fees["lines"] if x["his_line_id"] == "W1")
    assert (other["fund_pay"], other["personal_pay"]) == ("0.00", "20.00")
    assert fees["lines_total"] == STORED + len(lines)
    assert fees["unmapped"] == ["X1"]

    # the stay's totals, to the fen what presettle says
    totals = fees["totals"]
    preview = api.post(f"/api/v1/encounters/{eid}/presettle", role="billing", json={}).json()
    assert total_split(totals) == total_split(preview)
    assert D(totals["fund_pay"]) + D(totals["personal_pay"]) == D(totals["total"])
    assert totals["excluded_total"] == preview["excluded_total"] == "30.00"
    assert totals["non_work_injury"] == preview["non_work_injury"]

    # every line of the stay, priced, where the answer says: a page at a time
    assert fees["stay_lines"] == url
    first = api.get(fees["stay_lines"]).json()
    rest = api.get(first["next"]).json()
    assert rest["next"] is None and first["totals"] == rest["totals"] == totals
    paged = [x for page in (first, rest) for x in (*page["lines"], *page["excluded"])]
    assert len(paged) == first["lines_total"] == fees["lines_total"]
    assert [x for x in paged if x["his_line_id"] in batch_ids] == [
        *fees["lines"],
        *fees["excluded"],
    ]
    stay = api.get(f"/api/v1/encounters/{eid}").json()["fees"]
    assert stay["lines"] == first["lines"] + rest["lines"] and stay["totals"] == totals

    # the same batch again changes nothing and answers the same
    again = api.post(url, role="his", json={"lines": lines}).json()
    assert again["replayed"] is True and again["fees"] == fees

    # the clerk maps the unknown item: the answer is that line, and the stay's totals
    mapped = api.put(f"{url}/X1/mapping", role="billing", json={"catalogue_code": "XJ01DCC061"})
    assert mapped.status_code == 200, mapped.text
    answer = mapped.json()
    assert [x["his_line_id"] for x in answer["lines"]] == ["X1"] and answer["unmapped"] == []
    assert answer["lines"][0]["catalogue_code"] == "XJ01DCC061"
    preview = api.post(f"/api/v1/encounters/{eid}/presettle", role="billing", json={}).json()
    assert total_split(answer["totals"]) == total_split(preview) and preview["can_settle"] is True
