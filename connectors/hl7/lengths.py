"""Text fields longer than their column: refused (AR) naming where they travelled.

Over REST a 101-character department or a 65-character line id is a 422 naming the field
(the request models' ``max_length``). The HIS sends the same values over HL7, so they have the
same bounds here — the ones of :data:`BOUNDS`, which a test holds equal to REST's. Without
them SQLite kept a 200,000-character PV1-3 whole and PostgreSQL failed at the insert (a
``VARCHAR(64)`` line id), answered as a processing error the HIS resends for ever.

The values checked are the command's, as :mod:`connectors.hl7.mapping` read them, so a field
the message carries but the adapter never reads (FT1-8 when FT1-7.2 names the item) is left
alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from adapter.domain.commands import (
    Admit,
    CancelAdmission,
    CancelDischarge,
    Diagnosis,
    Discharge,
    RecordFees,
    UpdateVisit,
)
from connectors.hl7.errors import DATA_TYPE_ERROR, Hl7Error, Location
from connectors.hl7.fees import line_location
from connectors.hl7.mapping import Command
from connectors.hl7.reader import Hl7Message

# REST's name of the field → (its Chinese name, the most characters it may have)
BOUNDS: dict[str, tuple[str, int]] = {
    "card.card_no": ("社会保障卡号", 64),
    "card.qr_token": ("电子社保卡二维码凭证", 512),
    "card.citizen_id": ("公民身份号码", 18),
    "card.name": ("姓名", 64),
    "department": ("科室", 100),
    "diagnoses.code": ("诊断编码", 32),
    "diagnoses.name": ("诊断名称", 200),
    "injury_parts": ("受伤部位", 64),
    "reason": ("原因", 500),
    "lines.his_line_id": ("费用明细流水号", 64),
    "lines.item_code": ("收费项目编码", 64),
    "lines.item_name": ("收费项目名称", 300),
    "lines.reverses": ("原收费明细流水号", 64),
    "lines.department": ("开单科室", 100),
}

# (REST name, value, where it was read): the place is found only for a value over its bound —
# finding an FT1's place walks the message, and a batch of 1,000 lines has 5,000 values
_Value = tuple[str, str, Callable[[], Location | None]]


def check_lengths(message: Hl7Message, command: Command) -> None:
    """Raise :class:`Hl7Error` (``HL7_TOO_LONG``) for the first value over its bound."""
    for name, value, located in _values(message, command):
        label, limit = BOUNDS[name]
        if len(value) > limit:
            where = located()
            place = f"（{where}）" if where else ""
            raise Hl7Error(
                f"{label}{place}超过{limit}个字符（收到{len(value)}个），请核对后重发",
                where,
                hl7_code=DATA_TYPE_ERROR,
                code="HL7_TOO_LONG",
            )


def _values(message: Hl7Message, command: Command) -> Iterator[_Value]:
    citizen_id = command.card.citizen_id if isinstance(command, Admit) else command.citizen_id
    yield "card.citizen_id", citizen_id, _at(message, "PID", 3)
    if isinstance(command, Admit):
        card = command.card
        yield "card.card_no", card.card_no, _at(message, "ZWI", 2)
        yield "card.qr_token", card.qr_token, _at(message, "ZWI", 3)
        yield "card.name", card.name, _at(message, "PID", 5)
    if isinstance(command, Admit | UpdateVisit):
        yield "department", command.department or "", _at(message, "PV1", 3)
        for part in command.injury_parts or ():
            yield "injury_parts", part, _at(message, "ZWI", 4)
    if isinstance(command, UpdateVisit):
        yield "card.name", command.patient_name or "", _at(message, "PID", 5)
    if isinstance(command, Admit | UpdateVisit):
        yield from _diagnoses(message, command.diagnoses or ())
    if isinstance(command, Discharge):
        yield from _diagnoses(message, command.discharge_diagnoses)
    if isinstance(command, CancelAdmission | CancelDischarge):
        yield "reason", command.reason, _at(message, "EVN", 4)
    if isinstance(command, RecordFees):
        for index, line in enumerate(command.lines):
            for name, value in (
                ("his_line_id", line.line_id),
                ("item_code", line.item_code),
                ("item_name", line.item_name),
                ("reverses", line.reverses),
                ("department", line.department),
            ):
                yield f"lines.{name}", value, partial(line_location, message, index, name)


def _diagnoses(message: Hl7Message, diagnoses: Iterable[Diagnosis]) -> Iterator[_Value]:
    # mapping reads one diagnosis from each DG1, in order
    for dg1, diagnosis in zip(message.all("DG1"), diagnoses, strict=False):
        yield "diagnoses.code", diagnosis.code, partial(dg1.location, 3, 1)
        name_at = (3, 2) if dg1.get(3, 2) else (4,)
        yield "diagnoses.name", diagnosis.name, partial(dg1.location, *name_at)


def _at(message: Hl7Message, segment: str, field: int) -> Callable[[], Location | None]:
    def located() -> Location | None:
        found = message.first(segment)
        return found.location(field) if found else None

    return located
