"""The catalogue index and the money rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from adapter.domain.catalogue import Catalogue, CatalogueKind
from adapter.domain.money import to_fen
from adapter.domain.people import mask_card_no, mask_citizen_id, mask_name, mask_phone
from tests.unit.domain.builders import BEIJING, item


def test_lookup_returns_the_version_in_force_on_the_day() -> None:
    catalogue = Catalogue(
        [
            item(CatalogueKind.DRUG, "XA01", version="2026.2", valid_from=date(2026, 7, 1)),
            item(CatalogueKind.DRUG, "XA01", version="2026.1", valid_from=date(2026, 1, 1)),
        ]
    )
    assert catalogue.lookup(CatalogueKind.DRUG, BEIJING, "XA01", date(2025, 12, 31)) is None
    found = catalogue.lookup(CatalogueKind.DRUG, BEIJING, "XA01", date(2026, 6, 30))
    assert found is not None and found.version == "2026.1"
    found = catalogue.lookup(CatalogueKind.DRUG, BEIJING, "XA01", date(2026, 7, 1))
    assert found is not None and found.version == "2026.2"
    assert catalogue.lookup(CatalogueKind.TREATMENT, BEIJING, "XA01", date(2026, 7, 1)) is None
    assert len(catalogue) == 2


def test_a_version_with_its_own_end_date_is_in_force_again_after_one_laid_over_it_ends() -> None:
    """A year's version (to 31 Dec) under a July-only one: in force again in August. One
    without an end date, or from the July one's own day, was replaced by it."""
    year = item(CatalogueKind.DRUG, "XA01", version="year", valid_from=date(2026, 1, 1))
    july = item(
        CatalogueKind.DRUG,
        "XA01",
        version="july",
        valid_from=date(2026, 7, 1),
        valid_to=date(2026, 7, 31),
    )
    on = date(2026, 8, 1)
    ended = Catalogue([replace(year, valid_to=date(2026, 12, 31)), july])
    found = ended.lookup(CatalogueKind.DRUG, BEIJING, "XA01", on)
    assert found is not None and found.version == "year"
    found = ended.lookup(CatalogueKind.DRUG, BEIJING, "XA01", date(2026, 7, 31))
    assert found is not None and found.version == "july"
    assert ended.lookup(CatalogueKind.DRUG, BEIJING, "XA01", date(2027, 1, 1)) is None
    assert Catalogue([year, july]).lookup(CatalogueKind.DRUG, BEIJING, "XA01", on) is None
    same_day = replace(
        year, version="early", valid_from=date(2026, 7, 1), valid_to=date(2026, 12, 31)
    )
    assert Catalogue([same_day, july]).lookup(CatalogueKind.DRUG, BEIJING, "XA01", on) is None


@pytest.mark.parametrize(
    ("value", "fen"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("-1.005", "-1.01"), ("2", "2.00")],
)
def test_to_fen_rounds_half_up_symmetrically(value: str, fen: str) -> None:
    assert to_fen(Decimal(value)) == Decimal(fen)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "abc"])
def test_to_fen_refuses_what_is_not_money(value: str) -> None:
    with pytest.raises(ValueError):
        to_fen(value)


def test_personal_data_is_masked() -> None:
    assert mask_citizen_id("110101199001011234") == "110101********1234"
    assert mask_card_no("A12345678") == "A1*****78"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("欧阳娜娜") == "欧***"
