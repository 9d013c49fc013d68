"""Catalogue updates: download (``WI1401``), and the report of HIS codes that no longer map.

Items are versioned with effective dates (``valid_from``/``valid_to``); every version is
kept, and pricing uses the version in force on each fee's date (N§32, B§30) — a download
changes the price of fees dated on or after the new version's effective date and leaves
earlier fees (and settlements, which keep their own snapshot) as they were.

:meth:`CatalogueSync.download` asks, per (kind, region), for the items newer than the last
version downloaded, loads them in one transaction per catalogue, and notes the update in
``catalogue_update``. The treatment place's four catalogues are always synced; device
catalogues follow the insured place (N§32), so their regions are the ones configured plus
any already loaded.

:meth:`CatalogueSync.unmapped` lists the HIS item codes of recent fee lines that have no
catalogue item in force on a date: codes once mapped whose item expired or was removed
(``no_longer_in_force``), and codes never mapped (``never_mapped``). IT fixes the HIS
mapping or loads the catalogue; billing maps or confirms the open lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory
from adapter.services.context import ServiceContext
from adapter.store.repositories import TREATMENT_KINDS, CatalogueUpdate

__all__ = ["CatalogueSync", "CatalogueUpdate", "UnmappedCode"]


@dataclass(frozen=True)
class UnmappedCode:
    item_code: str  # the code pricing looks up (the clerk's mapping when there is one)
    his_item_code: str
    item_name: str
    category: str
    status: str  # no_longer_in_force | never_mapped
    lines: int
    encounters: int
    last_used: datetime
    last_version: str  # the latest catalogue version that had the code ('' if none)
    last_valid_to: date | None


class CatalogueSync:
    def __init__(self, ctx: ServiceContext, *, device_regions: Sequence[str] = ()):
        self._ctx = ctx
        self._device_regions = tuple(device_regions)

    def targets(self) -> list[tuple[CatalogueKind, str]]:
        """What a sync downloads: the treatment place's catalogues and the device regions."""
        ctx = self._ctx
        kinds = sorted(TREATMENT_KINDS, key=lambda k: k.value)
        found = [(kind, ctx.institution.admdvs) for kind in kinds]
        with ctx.uow() as uow:
            loaded = uow.catalogue.regions(CatalogueKind.DEVICE)
        regions = sorted(set(self._device_regions) | loaded)
        return found + [(CatalogueKind.DEVICE, region) for region in regions]

    def last_version(self, kind: CatalogueKind, region: str) -> str:
        with self._ctx.uow() as uow:
            return uow.catalogue_updates.last_downloaded(kind, region)

    def download(
        self,
        targets: Iterable[tuple[CatalogueKind, str]] | None = None,
        *,
        actor: str,
    ) -> list[CatalogueUpdate]:
        """Download each catalogue's updates; one transaction per catalogue, so a failure
        half-way keeps the catalogues already synced and the next run resumes from there."""
        ctx = self._ctx
        results = []
        for kind, region in targets if targets is not None else self.targets():
            since = self.last_version(kind, region)
            items = [
                i
                for i in ctx.gateway.download_catalogue(
                    kind, region, since_version=since, context=f"catalogue:{kind.value}:{region}"
                )
                if i.kind is kind and i.region == region
            ]
            version = max([since, *(i.version for i in items)])
            update = CatalogueUpdate(
                kind.value, region, version, "download", len(items), actor, ctx.now(), since
            )
            with ctx.uow() as uow:
                if items:
                    uow.catalogue.load(items)
                uow.catalogue_updates.add(update)
                uow.audit.append(
                    actor=actor,
                    action="catalogue.download",
                    subject_type="catalogue",
                    subject_id=f"{kind.value}:{region}",
                    details={"since": since, "version": version, "items": len(items)},
                )
                uow.commit()
            results.append(update)
        return results

    def updates(self, *, limit: int = 100) -> list[CatalogueUpdate]:
        """The latest downloads and imports, newest first."""
        with self._ctx.uow() as uow:
            return uow.catalogue_updates.latest(limit)

    def unmapped(self, on: date | None = None, *, since_days: int = 180) -> list[UnmappedCode]:
        """HIS item codes used in fee lines of the last ``since_days`` with no treatment
        catalogue item in force ``on`` (default: today). Meal/transport lines (outside
        direct settlement) and lines confirmed as out of catalogue are not listed."""
        ctx = self._ctx
        now = ctx.now()
        on = on or ctx.local_date(now)
        priced = [c.value for c in FeeCategory if c.catalogue_kind in TREATMENT_KINDS]
        region = ctx.institution.admdvs
        with ctx.uow() as uow:
            used = uow.fee_lines.codes_used(now - timedelta(days=since_days), priced)
            catalogue = uow.catalogue.treatment_catalogue(region)
            history = uow.catalogue.latest_versions(region, sorted({u.code for u in used}))
        found = []
        for row in used:
            kind = FeeCategory(row.category).catalogue_kind
            assert kind is not None
            if catalogue.lookup_billed(kind, ctx.institution.admdvs, row.code, on) is not None:
                continue
            last = history.get((kind.value, row.code))
            status = "never_mapped" if row.mapping_status == "unmapped" else "no_longer_in_force"
            found.append(
                UnmappedCode(
                    item_code=row.code,
                    his_item_code=row.item_code,
                    item_name=row.name,
                    category=row.category,
                    status=status,
                    lines=row.lines,
                    encounters=row.encounters,
                    last_used=row.last_used,
                    last_version=last[0] if last else "",
                    last_valid_to=last[1] if last else None,
                )
            )
        found.sort(key=lambda u: (u.status, u.category, u.item_code))
        return found
