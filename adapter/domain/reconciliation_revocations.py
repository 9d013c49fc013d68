"""A settlement revoked here that upstream still lists in effect at reconciliation (N§35, B§33):
what became of its revocation's upload (``WI2305``, N§33, B§31), and so what to do.

Upstream revokes a settlement only once the revocation reaches it. Which of these it is
decides who acts:

* **delivered** before the month was compared: upstream has it and did not apply it — the
  clerk asks the district agency to revoke the settlement, naming the revocation's msgid and
  when it was delivered; delivered since: reconcile again;
* **queued** (or in flight) or **retrying** after failed attempts: it is on its way — wait,
  naming the job and when it is next tried (and the earlier upload of the stay it waits
  behind, if any: that one must go first);
* **dead**: IT re-sends the job from the upload queue's page (上传队列监控, 上传失败);
* **withdrawn** (never sent: the settlement's own upload was refused every time, so upstream
  should hold nothing) or **none** (never queued): a defect for IT to raise.

:func:`revocation_action` is that sentence; :class:`RevocationUpload` the upload's state as
the REST answer gives it. Times are shown in the site's zone, to the minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from adapter.domain.ports import UploadProgress

_ERROR_SHOWN = 100  # characters of upstream's reason quoted in the action


class RevocationState(StrEnum):
    DELIVERED = "delivered"
    QUEUED = "queued"  # waiting for its first attempt, or being sent now
    RETRYING = "retrying"  # attempted, failed, to be tried again
    DEAD = "dead"  # given up: IT must re-send it
    WITHDRAWN = "withdrawn"  # taken back unsent
    NONE = "none"  # never queued

    @property
    def label(self) -> str:
        return {
            "delivered": "已送达",
            "queued": "排队中",
            "retrying": "重试中",
            "dead": "上传失败",
            "withdrawn": "已撤回",
            "none": "未排队上传",
        }[self.value]


@dataclass(frozen=True)
class RevocationUpload:
    """The revocation's upload (``WI2305``) of a settlement: its state, the msgid it was (or
    is to be) sent under, its upload job, and the times in the site's zone."""

    state: RevocationState
    msgid: str = ""
    job_id: int | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None  # queued or retrying: not before then
    attempts: int = 0
    held_back_by: int | None = None  # queued behind this earlier upload of the stay
    last_error: str = ""  # dead: upstream's reason; withdrawn: why

    @classmethod
    def of(
        cls, msgid: str, job_id: int | None, progress: UploadProgress | None, zone: tzinfo
    ) -> RevocationUpload:
        """From the revocation's queued upload (``msgid`` empty: none was queued) and where
        the queue says it stands (``None``: the queue knows no such job)."""
        if not msgid or progress is None:
            return cls(RevocationState.NONE, msgid, job_id)
        state = {
            "delivered": RevocationState.DELIVERED,
            "dead": RevocationState.DEAD,
            "withdrawn": RevocationState.WITHDRAWN,
        }.get(progress.status)
        if state is None:  # pending or in flight
            retrying = progress.status == "pending" and progress.attempts > 0
            state = RevocationState.RETRYING if retrying else RevocationState.QUEUED

        def local(moment: datetime | None) -> datetime | None:
            return moment.astimezone(zone) if moment else None

        return cls(
            state, progress.msgid or msgid, progress.job_id, local(progress.delivered_at),
            local(progress.next_attempt_at), progress.attempts, progress.held_back_by,
            progress.last_error,
        )  # fmt: skip


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def revocation_action(upload: RevocationUpload, compared_at: datetime, remove: str) -> str:
    """What to do about a settlement revoked here that upstream lists in effect, given its
    revocation's upload; ``compared_at`` when upstream's figures were read, ``remove`` what
    the district agency is to do with the settlement (e.g. "撤销该结算，不予拨付")."""
    state, job = upload.state, upload.job_id
    sent = f"该结算的撤销上传（WI2305，msgid {upload.msgid}）"
    queued = f"该结算的撤销上传（WI2305，上传任务{job}）"
    if state is RevocationState.DELIVERED:
        delivered = upload.delivered_at
        if delivered is not None and delivered >= compared_at:
            return (
                f"{sent}于{_at(delivered)}送达上级系统，晚于本次对账：请重新对账；如上级系统"
                f"仍列为有效结算，请区级经办机构按该撤销信息{remove}"
            )
        return (
            f"{sent}已于{_at(delivered)}送达上级系统，上级系统仍列为有效结算，未执行撤销："
            f"请区级经办机构按该撤销信息{remove}"
        )
    if state in (RevocationState.QUEUED, RevocationState.RETRYING):
        if upload.held_back_by is not None:
            first = upload.held_back_by
            return (
                f"{queued}排在本次住院的上传任务{first}之后，须待其送达后发送：如任务{first}"
                "上传失败，请信息科在“上传队列监控”页面先处理该任务；撤销送达后重新对账"
            )
        if state is RevocationState.RETRYING:
            return (
                f"{queued}已发送{upload.attempts}次未成功，将于{_at(upload.next_attempt_at)}"
                "再次发送：请等待送达后重新对账；临近清算截止日仍未送达请联系信息科"
            )
        when = (
            f"，{_at(upload.next_attempt_at)}起发送"
            if upload.next_attempt_at is not None
            else "，正在发送"
        )
        return f"{queued}已排队{when}：正在上传途中，无需处理，送达后重新对账"
    if state is RevocationState.DEAD:
        reason = upload.last_error[:_ERROR_SHOWN]
        return (
            f"{queued}上传失败{f'（{reason}）' if reason else ''}：请信息科在“上传队列监控”页面的"
            f"“上传失败（需人工处理）”中处理后重发任务{job}，送达后重新对账"
        )
    if state is RevocationState.WITHDRAWN:
        return (
            f"{queued}已撤回、未发送（该结算的上传曾被上级系统拒收，上级系统本不应有该结算），"
            "上级系统却列为有效结算：属于系统缺陷，请信息科上报，并请区级经办机构核实该结算"
        )
    named = f"（msgid {upload.msgid}，上传队列中无此任务）" if upload.msgid else ""
    return (
        f"本地没有该结算的撤销上传（WI2305）{named}：撤销未排队上传，上级系统不会撤销该结算。"
        "属于系统缺陷，请信息科上报处理，撤销信息送达后重新对账"
    )
