"""Catalogue: a 50,000-item bulk load builds an index whose lookups work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.store.uow import UnitOfWork

REGION = "110100"
KINDS = (CatalogueKind.DRUG, CatalogueKind.TREATMENT, CatalogueKind.REHAB)


def _items(count: int) -> list[CatalogueItem]:
    return [
        CatalogueItem(
            kind=KINDS[n % len(KINDS)],
            code=f"C{n:06d}",
            name=f"项目{n}",
            region=REGION,
            unit="次",
            price_cap=Decimal(n % 500) + Decimal("0.99") if n % 7 == 0 else None,
            version="2025",
            valid_from=date(2025, 1, 1),
        )
        for n in range(count)
    ]


def test_fifty_thousand_items_load_and_index(store: Engine) -> None:
    items = _items(50_000)
    with UnitOfWork(store) as uow:
        assert uow.catalogue.load(items) == 50_000
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.catalogue.count(REGION) == 50_000
        catalogue = uow.catalogue.treatment_catalogue(REGION)
    assert len(catalogue) == 50_000
    on = date(2025, 6, 1)
    for n in (0, 7, 12_345, 49_999):
        item = items[n]
        assert catalogue.lookup(item.kind, REGION, item.code, on) == item
    assert catalogue.lookup(CatalogueKind.DRUG, REGION, "C000001", on) is None  # a treatment
    assert catalogue.lookup(KINDS[0], "120100", "C000000", on) is None
    assert catalogue.lookup(KINDS[0], REGION, "C000000", date(2024, 12, 31)) is None


def test_versions_are_chosen_by_date_and_reloads_replace(store: Engine) -> None:
    old = CatalogueItem(
        CatalogueKind.SERVICE_STANDARD,
        "BED1",
        "床位费",
        REGION,
        "日",
        Decimal("50.00"),
        None,
        "2024",
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    new = CatalogueItem(
        CatalogueKind.SERVICE_STANDARD,
        "BED1",
        "床位费",
        REGION,
        "日",
        Decimal("60.00"),
        None,
        "2025",
        date(2025, 1, 1),
    )
    corrected = CatalogueItem(
        CatalogueKind.SERVICE_STANDARD,
        "BED1",
        "床位费（更正）",
        REGION,
        "日",
        Decimal("65.50"),
        None,
        "2025",
        date(2025, 1, 1),
    )
    with UnitOfWork(store) as uow:
        uow.catalogue.load([old, new])
        uow.catalogue.load([corrected])  # same (kind, region, code, version): replaced
        uow.commit()
    with UnitOfWork(store) as uow:
        assert uow.catalogue.count() == 2
        catalogue = uow.catalogue.treatment_catalogue(REGION)
    assert catalogue.lookup(old.kind, REGION, "BED1", date(2024, 6, 1)) == old
    assert catalogue.lookup(old.kind, REGION, "BED1", date(2025, 6, 1)) == corrected


def test_device_catalogue_is_the_insured_places(store: Engine) -> None:
    insured = "130100"
    device = CatalogueItem(
        CatalogueKind.DEVICE,
        "PROS1",
        "小腿假肢",
        insured,
        "具",
        None,
        Decimal("8000.00"),
        "2024",
        date(2024, 1, 1),
    )
    drug = CatalogueItem(CatalogueKind.DRUG, "D1", "药", insured, valid_from=date(2024, 1, 1))
    with UnitOfWork(store) as uow:
        uow.catalogue.load([device, drug])
        uow.commit()
    with UnitOfWork(store) as uow:
        devices = uow.catalogue.device_catalogue(insured)
        assert (
            uow.catalogue.treatment_catalogue(insured).lookup(
                CatalogueKind.DEVICE, insured, "PROS1", date(2025, 1, 1)
            )
            is None
        )
    assert len(devices) == 1
    found = devices.lookup(CatalogueKind.DEVICE, insured, "PROS1", date(2025, 1, 1))
    assert found == device and found.limit == Decimal("8000.00")
