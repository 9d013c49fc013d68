"""Price and settle a 90-day rehab stay of 5,000 fee lines against a 50,000-item catalogue.

Target (issue 2): p50 ≤ 100 ms in-process. Baselines measured in the same run:
- *floor*: summing the 5,000 amounts — the least any settlement can do;
- *scan*: looking each line up by scanning the catalogue, measured on 50 lines and scaled —
  what pricing would cost without the index.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from adapter.domain.catalogue import Catalogue, CatalogueItem, CatalogueKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.money import to_fen
from adapter.domain.pricing import price_lines
from adapter.domain.settlement import make_bill
from benchmarks.common import describe, machine, percentile, timed

REGION = "110100"
ITEMS = 50_000
LINES = 5_000
DAYS = 90
KINDS = {
    CatalogueKind.DRUG: FeeCategory.DRUG,
    CatalogueKind.TREATMENT: FeeCategory.TREATMENT,
    CatalogueKind.SERVICE_STANDARD: FeeCategory.SERVICE,
    CatalogueKind.REHAB: FeeCategory.REHAB,
}


def build_catalogue(rng: random.Random) -> list[CatalogueItem]:
    items = []
    kinds = list(KINDS)
    for number in range(ITEMS):
        kind = kinds[number % len(kinds)]
        cap = Decimal(rng.randint(30, 200)) if kind is CatalogueKind.SERVICE_STANDARD else None
        items.append(
            CatalogueItem(
                kind,
                f"{kind.value[:2].upper()}{number:06d}",
                f"项目{number}",
                REGION,
                price_cap=cap,
                version="2026.1",
            )
        )
    return items


def build_stay(rng: random.Random, items: list[CatalogueItem]) -> list[FeeLine]:
    start = datetime(2026, 8, 20, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    lines = []
    for number in range(LINES):
        in_catalogue = rng.random() < 0.9
        item = rng.choice(items)
        code = item.code if in_catalogue else f"ZZ{number:06d}"
        quantity = Decimal(rng.randint(1, 5))
        price = Decimal(rng.randint(100, 50_000)) / 100
        lines.append(
            FeeLine(
                f"L{number:05d}",
                code,
                item.name,
                KINDS[item.kind],
                quantity,
                price,
                to_fen(quantity * price),
                start + timedelta(days=number * DAYS // LINES),
                work_injury=rng.random() < 0.97,
            )
        )
    return lines


def run() -> None:
    rng = random.Random(20261124)
    items = build_catalogue(rng)
    catalogue = Catalogue(items)
    lines = build_stay(rng, items)
    admitted, discharged = lines[0].occurred_at, lines[-1].occurred_at + timedelta(days=1)

    def settle() -> None:
        make_bill(price_lines(lines, catalogue, REGION), admitted, discharged)

    def floor() -> None:
        sum((line.amount for line in lines), Decimal(0))

    def scan_50() -> None:
        for line in lines[:50]:
            next((i for i in items if i.code == line.item_code), None)

    settle_samples = timed(settle, 50)
    floor_samples = timed(floor, 50)
    scan_samples = [s * LINES / 50 for s in timed(scan_50, 5)]
    build_samples = timed(lambda: Catalogue(items), 5)

    p50 = percentile(settle_samples, 0.5)
    print(f"settlement benchmark — {machine()}; in-process, no database")
    print(f"workload: {LINES} fee lines over {DAYS} days against {ITEMS} catalogue items")
    print(f"  price + settle          {describe(settle_samples)}")
    print(f"  floor (sum amounts)     {describe(floor_samples)}")
    print(f"  scan lookups (scaled)   {describe(scan_samples)}")
    print(f"  build catalogue index   {describe(build_samples)}")
    print(f"  settle / floor          {p50 / percentile(floor_samples, 0.5):8.1f}x")
    print(f"  scan / indexed settle   {percentile(scan_samples, 0.5) / p50:8.1f}x")
    print(f"  target p50 <= 100 ms:   {'met' if p50 <= 0.1 else 'NOT met'} ({p50 * 1000:.1f} ms)")


if __name__ == "__main__":
    run()
