"""A fee line id sent again (费用明细流水号): a resend of the same fee, or a mistake.

A ``his_line_id`` the stay holds, sent again as the same fee, is a resend (the HIS lost an
ACK): ignored and reported, never an error — also after the stay is settled, when every
line of the batch is one the settlement holds. Sent again as another fee (another item,
quantity, amount, time or work-injury flag) it refuses the batch (``FEE_LINE_ID_REUSED``,
N§47): a correction is a reversal and a new line. Named twice in one batch, even as the
same fee, it refuses the batch (``FEE_LINE_ID_REPEATED``, N§47).
"""

from __future__ import annotations

from collections.abc import Sequence

from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeLine
from adapter.store.uow import UnitOfWork


def all_resent(uow: UnitOfWork, encounter_id: str, lines: Sequence[FeeLine]) -> bool:
    """Is every line of the batch one the stay holds, as the same fee, named once?"""
    ids = [line.line_id for line in lines]
    if len(set(ids)) != len(ids):
        return False
    held = uow.fee_lines.recorded(encounter_id, set(ids))
    return all(line.line_id in held and not line.differs_from(held[line.line_id]) for line in lines)


def refuse_repeated(line: FeeLine, first: int, index: int) -> None:
    """Refuse a batch naming ``line``'s id a second time (at ``index``; first at ``first``)."""
    raise PricingError(
        f"费用明细流水号{line.line_id}在同一批中出现两次（第{first + 1}条和第{index + 1}条）。"
        "同一批内流水号不能重复：同一费用发生两次请分别编号，重发请整批重发；本批未录入任何费用",
        code="FEE_LINE_ID_REPEATED",
        article="N§47",
        field=f"lines.{index}.his_line_id",
    )


def refuse_reused(line: FeeLine, recorded: FeeLine | None, index: int) -> None:
    """Refuse the batch when ``line`` reuses the line id of another fee (``recorded``: the
    line stored, or met earlier in the batch, under it)."""
    differs = line.differs_from(recorded) if recorded is not None else ""
    if differs:
        raise PricingError(
            f"费用明细流水号{line.line_id}已用于另一笔费用：{differs}。"
            "同一流水号不能改记；更正请先冲销原明细，再以新的流水号发送",
            code="FEE_LINE_ID_REUSED",
            article="N§47",
            field=f"lines.{index}.his_line_id",
        )
