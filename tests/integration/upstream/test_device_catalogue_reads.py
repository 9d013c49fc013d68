"""The simulator publishes device catalogues by region (WI1401, N§32): a city's, a province's,
and none for other regions — what the adapter's district → city → province fallback meets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapter.domain.catalogue import CatalogueKind
from connectors.upstream.client import ReferenceClient


@pytest.mark.parametrize(
    ("region", "codes"),
    [
        ("310100", {"SH-FZ-0101", "SH-FZ-0203", "SH-FZ-0305", "SH-FZ-0501", "SH-FZ-0602"}),
        ("320000", {"JS-FZ-0101", "JS-FZ-0501"}),  # a province-wide catalogue
        ("310104", set()),  # a district that publishes none of its own
        ("320100", set()),  # a city that publishes none: its province's applies
        ("370100", set()),
        ("370000", set()),  # none anywhere in the province
    ],
)
def test_n32_the_simulator_serves_device_catalogues_by_region(
    client: ReferenceClient, region: str, codes: set[str]
) -> None:
    items = client.download_catalogue(CatalogueKind.DEVICE, region)
    assert {i.code for i in items} == codes
    assert all(i.region == region and i.limit and i.limit > Decimal(0) for i in items)
