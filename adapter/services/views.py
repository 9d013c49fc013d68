"""Read models: an encounter with everything a clerk looks at (``GET /encounters/{id}``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapter.domain.encounters import Encounter
from adapter.domain.settlement import Settlement
from adapter.services.billing import PricedFees, price_encounter
from adapter.services.context import ServiceContext
from adapter.services.rehab import current_plan, plan_on_upstream, refused_plan_upload
from adapter.services.uploads import uploads_for
from adapter.store.repositories import RehabPlan, UploadRecord


@dataclass(frozen=True)
class UploadState:
    upload: UploadRecord
    delivered: bool
    # the queue's deadline while it waits: sooner than the one it was queued with once a later
    # upload of the stay is due sooner (a rehab plan, once the discharge record is queued)
    due: datetime


@dataclass(frozen=True)
class EncounterView:
    encounter: Encounter
    version: int
    ready_to_settle: bool
    fees: PricedFees
    rehab_plan: RehabPlan | None
    rehab_plan_acknowledged: bool  # the current revision
    rehab_plan_gate_open: bool  # this or an earlier revision reached upstream (rehab.check_gate)
    rehab_plan_refused: str | None  # upstream's reason, while a refused plan upload holds it
    settlement: Settlement | None  # the active one
    settlements: tuple[Settlement, ...]  # every one, revoked included
    uploads: tuple[UploadState, ...]


def encounter_view(ctx: ServiceContext, encounter_id: str) -> EncounterView:
    with ctx.uow() as uow:
        record = uow.encounters.get(encounter_id)
        fees = price_encounter(ctx, uow, encounter_id)
        plan = current_plan(uow, encounter_id)
        settlements = tuple(uow.settlements.list_for_encounter(encounter_id))
        records = uploads_for(uow, encounter_id)
        due = ctx.outbox.due_by(uow.session, (u.msgid for u in records))
        uploads = tuple(
            UploadState(u, ctx.outbox.delivered(uow.session, u.msgid), due.get(u.msgid, u.deadline))
            for u in records
        )
        on_upstream = plan_on_upstream(ctx, uow, plan) if plan is not None else ""
        refused = (
            None
            if on_upstream or plan is None
            else refused_plan_upload(ctx, uow, plan.encounter_id)
        )
    active = next((s for s in settlements if s.status.value == "settled"), None)
    return EncounterView(
        record.encounter,
        record.version,
        record.ready_to_settle,
        fees,
        plan,
        on_upstream == "acknowledged",
        bool(on_upstream),
        refused,
        active,
        settlements,
        uploads,
    )
