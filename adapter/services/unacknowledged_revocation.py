"""A manual claim after a settlement revocation waits for upstream's acknowledgement (N§38,
B§27): until the revocation (WI2305) is delivered, the direct settlement may still stand
upstream, and a manual claim would reimburse the stay twice. Holds the refusal and its check,
run by :class:`~adapter.services.manual_claims.ManualClaims` before a claim is recorded."""

from __future__ import annotations

from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import DomainError
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.store.uow import UnitOfWork

REVOCATION_ARTICLE = "N§38, B§27"


class RevocationNotAcknowledged(DomainError):
    """A manual claim after a revocation that upstream has not acknowledged (WI2305 not
    delivered): the direct settlement may still stand upstream, so the stay would be
    reimbursed twice (N§38 "杜绝重复报销", B§27)."""

    article = REVOCATION_ARTICLE

    def __init__(
        self, *, dead: bool, job_id: int, msgid: str, upstream_reason: str, insured_admdvs: str
    ):
        self.revocation = {
            "job_id": job_id,
            "msgid": msgid,
            "status": "dead" if dead else "pending",
            "upstream_reason": upstream_reason,
            "queue_page": "/web/monitor",
            "contact": f"参保地（{insured_admdvs}）经办机构",
        }
        if dead and upstream_reason:
            message = (
                f"撤销结算（WI2305，上传任务{job_id}）被上级系统拒绝：{upstream_reason}。"
                "上级系统仍可能保留该次直接结算，不能转手工报销（N§38 杜绝重复报销、B§27）；"
                f"请联系参保地（{insured_admdvs}）经办机构核实处理，撤销确认后再转手工报销"
            )
            code = "MANUAL_CLAIM_REVOCATION_REFUSED"
        elif dead:
            message = (
                f"撤销结算（WI2305，上传任务{job_id}）未能送达上级系统。上级系统仍可能保留该次"
                "直接结算，不能转手工报销（N§38 杜绝重复报销、B§27）；请信息科在上传队列页面"
                "重发该撤销，上级系统确认后再转手工报销"
            )
            code = "MANUAL_CLAIM_REVOCATION_PENDING"
        else:
            message = (
                f"撤销结算（WI2305，上传任务{job_id}）尚未得到上级系统确认，上级系统仍可能保留"
                "该次直接结算，暂不能转手工报销（N§38 杜绝重复报销、B§27）；请等待上传完成，"
                "或由信息科在上传队列页面重发该撤销，确认后再转手工报销"
            )
            code = "MANUAL_CLAIM_REVOCATION_PENDING"
        super().__init__(message, code=code)

    @property
    def problem_extra(self) -> dict[str, object]:
        return {"revocation": self.revocation}


def refuse_unacknowledged_revocation(
    ctx: ServiceContext, uow: UnitOfWork, encounter: Encounter
) -> None:
    """After a revocation, a manual claim only once upstream acknowledged it (WI2305
    delivered): until then the direct settlement may still stand upstream (N§38, B§27)."""
    if encounter.status is not EncounterStatus.REVOKED:
        return
    row = uow.uploads.latest(Infno.SETTLEMENT_REVOKE.value, encounter_id=encounter.id)
    if row is None:
        return  # a revocation without a queued WI2305 predates the queue: nothing stands
    state = ctx.outbox.job_state(uow.session, row.msgid)
    status, last_error = state or ("pending", "")
    # withdrawn: the settlement's upload was refused every time, upstream never held it
    if status in ("delivered", "withdrawn"):
        return
    raise RevocationNotAcknowledged(
        dead=status == "dead",
        job_id=row.job_id,
        msgid=row.msgid,
        upstream_reason=last_error if status == "dead" else "",
        insured_admdvs=encounter.insured_admdvs,
    )
