"""The insured place's device catalogue, fetched on demand before a fitting is priced.

Devices follow the *insured place's* catalogue (N§32, N§34), and the adapter cannot know in
advance every insured place its workers come from. A catalogue that is not loaded is therefore
not "out of catalogue": :meth:`DeviceCatalogues.resolve` finds the region whose catalogue
applies, asking upstream (``WI1401``, through :class:`CatalogueSync`, which caches the items
with their version in ``catalogue_update``) when nothing is loaded — the district, then its
city (first four digits + ``00``), then its province (first two + ``0000``). Only when none of
them has a catalogue is the fitting refused, naming the catalogue that is missing. Loaded means
loaded *for the fitting's day* (the catalogue and limits of its day price it): a region whose
catalogue is loaded only in versions that start later (or ended earlier) is asked again, and
if still none is in force that day the fitting is refused naming the day — its items are not
"out of catalogue" at the worker's cost, nor priced on the city's catalogue beside the
district's own.

It runs *before* the fitting's transaction: no connection is held while upstream answers.
Upstream answering "none" for a region is remembered for :data:`EMPTY_FOR` (a download of 0
items noted in ``catalogue_update``), so a district without a catalogue of its own costs one
upstream call a day, not one per fitting. Upstream unreachable is
:class:`~adapter.domain.errors.UpstreamUnavailable` (retry later), never a price of 0.00.
"""

from __future__ import annotations

from datetime import date, timedelta

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.device_regions import (
    DEVICE_CATALOGUE_MISSING,
    DEVICE_CATALOGUE_NOT_IN_FORCE,
    catalogue_regions,
)
from adapter.domain.errors import EligibilityRefused
from adapter.services.catalogue_sync import CatalogueSync
from adapter.services.context import ServiceContext

EMPTY_FOR = timedelta(hours=24)


class DeviceCatalogues:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx
        self._sync = CatalogueSync(ctx)

    def resolve(self, insured_region: str, on: date, *, actor: str) -> str:
        """The region whose device catalogue prices a fitting on ``on`` of a worker insured in
        ``insured_region``; fetched from upstream when not loaded. :class:`EligibilityRefused`
        when none exists, or when the region's is loaded in no version in force on ``on``."""
        regions = catalogue_regions(insured_region)
        for region in regions:
            if self._loaded(region, on):
                return region
            if not self._loaded(region) and self._known_empty(region):
                continue
            # not loaded, or loaded in versions none of which is in force on ``on``: a
            # download brings what upstream published since (a version begun earlier too)
            [update] = self._sync.download([(CatalogueKind.DEVICE, region)], actor=actor)
            if self._loaded(region, on):
                return region
            if update.items or self._loaded(region):
                # The region has a catalogue of its own: it applies (N§32), not its city's;
                # pricing as of ``on`` would read every item as off it.
                raise EligibilityRefused(
                    (
                        DEVICE_CATALOGUE_NOT_IN_FORCE.refused(
                            "fitted_at", region=region, day=on.isoformat()
                        ),
                    )
                )
        named = "、".join(regions)
        raise EligibilityRefused(
            (DEVICE_CATALOGUE_MISSING.refused("insured_admdvs", regions=named),)
        )

    def _loaded(self, region: str, on: date | None = None) -> bool:
        with self._ctx.uow() as uow:
            return uow.catalogue.has(CatalogueKind.DEVICE, region, on)

    def _known_empty(self, region: str) -> bool:
        since = self._ctx.now() - EMPTY_FOR
        with self._ctx.uow() as uow:
            return (
                uow.catalogue_updates.empty_downloads_since(CatalogueKind.DEVICE, region, since) > 0
            )
