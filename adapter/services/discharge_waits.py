"""A full upstream outage at discharge (N§38, B§27): the stay waits for upstream.

Settling cannot check identity and filing again (N§33, B§30) while upstream is down, so
nothing of the settlement is written: the stay goes on the waiting list and the clerk is told
the two ways on — wait, or a manual claim. Once upstream answers, :meth:`DischargeWaits.recheck`
checks the waiting stays again and marks those that pass ready to settle; the billing desk
settles them as usual.
"""

from __future__ import annotations

from datetime import datetime

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import DomainError, EligibilityRefused, UpstreamUnavailable
from adapter.services.context import ServiceContext
from adapter.services.discharge_eligibility import decide_at_discharge, facts_at_discharge
from adapter.services.identity import Identity
from adapter.store.repositories import WaitingStay

OUTAGE_ARTICLE = "N§38, B§27"
OUTAGE_MESSAGE = (
    "上级系统（省级及国家工伤保险异地就医系统）当前无法访问，出院时不能再次核验身份和备案，"
    "暂不能直接结算，本次未保存任何结算数据（N§38）。可选择：一、等待上级系统恢复——本次出院"
    "已列入“等待上级系统恢复”名单，恢复后本系统自动重新核验，并在结算收费页提示可以结算；"
    "二、转手工报销——按网络或系统故障转参保地经办机构手工报销（N§38、B§27）"
)


class UpstreamDownAtDischarge(UpstreamUnavailable):
    """A full upstream outage at discharge: the two ways on, wait or manual claim (N§38)."""

    code = "UPSTREAM_DOWN_AT_DISCHARGE"
    article = OUTAGE_ARTICLE

    def __init__(self, encounter_id: str):
        super().__init__(OUTAGE_MESSAGE)
        self.encounter_id = encounter_id

    @property
    def problem_extra(self) -> dict[str, object]:
        return {
            "encounter_id": self.encounter_id,
            "ways_on": [
                {
                    "way": "wait",
                    "label": "等待上级系统恢复后结算",
                    "list": "/api/v1/encounters/waiting-for-upstream",
                },
                {
                    "way": "manual_claim",
                    "label": "转手工报销（网络或上级系统中断）",
                    "reason": "upstream_unavailable",
                    "create": "/api/v1/manual-claims",
                },
            ],
        }


def wait_for_upstream(
    ctx: ServiceContext, encounter_id: str, discharged_at: datetime, actor: str
) -> UpstreamDownAtDischarge:
    """Put the stay on the waiting list (nothing else is written) and say the ways on."""
    now = ctx.now()
    with ctx.uow(immediate=True) as uow:
        uow.settle_waits.wait(encounter_id, discharged_at=discharged_at, by=actor, at=now)
        uow.audit.append(
            actor=actor,
            action="settlement.waiting_for_upstream",
            subject_type="encounter",
            subject_id=encounter_id,
            details={"discharged_at": discharged_at.isoformat()},
        )
        uow.commit()
    return UpstreamDownAtDischarge(encounter_id)


class DischargeWaits:
    def __init__(self, ctx: ServiceContext, identity: Identity):
        self._ctx = ctx
        self._identity = identity

    def waiting(self) -> list[WaitingStay]:
        """The stays waiting for upstream, oldest first (the billing desk's list)."""
        with self._ctx.uow() as uow:
            return uow.settle_waits.waiting()

    def recheck(self, *, limit: int = 20) -> int:
        """Check the waiting stays again now: identity and filing (N§33, B§30) with the
        discharge-stage rules. A stay that passes is marked ready to settle; one refused keeps
        the reasons; when upstream is still down, stop until the next round. Writes nothing to
        any settlement. Returns how many stays became ready."""
        ctx = self._ctx
        with ctx.uow() as uow:
            stays = []
            for encounter_id, discharged_at in uow.settle_waits.unchecked(limit):
                encounter = uow.encounters.get(encounter_id).encounter
                stays.append((encounter, discharged_at, uow.persons.get(encounter.psn_no)))
        ready = 0
        for encounter, discharged_at, person in stays:
            if not encounter.can_become(EncounterStatus.SETTLED):
                self._forget(encounter.id)
                continue
            try:
                facts = facts_at_discharge(self._identity, encounter, person, None)
            except UpstreamUnavailable:
                return ready
            except (EligibilityRefused, DomainError) as exc:
                self._mark(encounter.id, refusal=exc.message)
                continue
            decision = decide_at_discharge(ctx, facts, encounter, discharged_at)
            if decision.eligible:
                self._mark(encounter.id, refusal="")
                ready += 1
            else:
                refusal = "；".join(f"{r.message}（{r.article}）" for r in decision.reasons)
                self._mark(encounter.id, refusal=refusal)
        return ready

    def _mark(self, encounter_id: str, *, refusal: str) -> None:
        now = self._ctx.now()
        with self._ctx.uow() as uow:
            uow.settle_waits.checked(encounter_id, now, refusal=refusal)
            uow.commit()

    def _forget(self, encounter_id: str) -> None:
        with self._ctx.uow() as uow:
            uow.settle_waits.forget(encounter_id)
            uow.commit()
