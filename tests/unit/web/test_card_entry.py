"""The card field as clerks type into it: full width (the input method left on), spaced as
printed, lower case — the number the card carries; a QR's content exactly as scanned."""

from __future__ import annotations

import pytest

from adapter.domain.people import CardData, CardKind
from adapter.web.forms import read_card


@pytest.mark.parametrize(
    "typed", ["310100A0001", "３１０１００Ａ０００１", "310100 a0001", "　310100A0001　"]
)
def test_a_card_number_however_typed_is_the_cards(typed: str) -> None:
    assert read_card(typed) == CardData(kind=CardKind.PHYSICAL, card_no="310100A0001")


@pytest.mark.parametrize(
    "typed", ["34010219871012137x", "３４０１０２１９８７１０１２１３７ｘ", "340102 19871012 137X"]
)
def test_a_citizen_id_however_typed_is_the_ids(typed: str) -> None:
    assert read_card(typed) == CardData(kind=CardKind.PHYSICAL, citizen_id="34010219871012137X")


def test_a_qr_content_is_passed_on_exactly_as_scanned() -> None:
    scanned = "ecard://v1/Ab+cD/ef==?t=１"
    assert read_card(scanned) == CardData(kind=CardKind.ECARD, qr_token=scanned)
    assert read_card("abcd", "ecard") == CardData(kind=CardKind.ECARD, qr_token="abcd")
