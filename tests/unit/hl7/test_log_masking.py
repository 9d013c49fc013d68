"""IT's HL7 message list shows names, phones, card numbers and citizen IDs masked."""

from __future__ import annotations

from adapter.domain.masking import mask_hl7

MESSAGE = "\r".join(
    [
        "MSH|^~\\&|HIS|H1|WIADAPTER|H1|20261124090000||ADT^A01|C1|P|2.5",
        "PID|1||110101199003078515^^^^NI~HISP001^^^^PI||王建国^^^^^^L||19900307|M|||||13812345678",
        "NK1|1|李秀英|SPO||13987654321",
        "PV1|1|I|骨科病区||||||||||||||||HV0001",
        "ZWI|P|310100A0001||左手|medical",
    ]
)


def test_names_phones_card_numbers_and_citizen_ids_are_masked() -> None:
    shown = mask_hl7(MESSAGE)
    for secret in ("110101199003078515", "王建国", "13812345678", "李秀英", "13987654321"):
        assert secret not in shown, secret
    assert "310100A0001" not in shown
    assert "|王**^^^^^^L|" in shown and "|李**|" in shown and "|31*******01|" in shown
    assert "110101********8515^^^^NI~HISP001^^^^PI" in shown


def test_everything_else_is_kept_as_sent() -> None:
    shown = mask_hl7(MESSAGE)
    assert shown.split("\r")[0] == MESSAGE.split("\r")[0]
    assert shown.split("\r")[3] == MESSAGE.split("\r")[3]
    assert shown.count("\r") == MESSAGE.count("\r")
    assert mask_hl7("not hl7 at all") == "not hl7 at all"
