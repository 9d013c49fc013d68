"""Where in the inbound message a refusal's field came from: the ERR-2 of an ``AE``.

The use cases name the field a refusal is about the way REST sends it (``lines.3.unit_price``,
``admitted_at``, :class:`adapter.domain.errors.AdapterError`). The HIS integrator needs the
segment and field the value travelled in, so each name is mapped back through what
:mod:`connectors.hl7.mapping` read for that command:

==============  ===============================================================================
command         field → location
==============  ===============================================================================
RecordFees      ``lines.N[.name]`` → the FT1 that became line N, at the field ``name`` was read
                from (:func:`connectors.hl7.fees.line_location`: FT1-10 quantity, FT1-11
                amount, FT1-12 unit price, FT1-4 time …); ``lines.N`` alone → that FT1 segment
Admit           ``admitted_at`` PV1-44, ``department`` PV1-3, ``card.card_no`` ZWI-2,
                ``card.qr_token`` ZWI-3, ``injury_parts`` ZWI-4, ``kind`` ZWI-5 (PV1-10 when
                only that said rehab)
UpdateVisit     ``department`` PV1-3, ``injury_parts`` ZWI-4, ``kind`` ZWI-5
Discharge       ``discharged_at`` PV1-45
every command   ``his_visit_id`` PV1-19
==============  ===============================================================================

Any other name (``card``, which is the card, the PID and the ZWI at once; a field the use case
took from the stored stay rather than from this message) has no location: ERR-2 stays empty.
The same location goes in the ERR-2 of the ``AR`` answering an ``InvalidMessage`` a use case
raises, and in a warning's ERR.
"""

from __future__ import annotations

from adapter.domain.commands import Admit, Discharge, RecordFees, UpdateVisit
from connectors.hl7.errors import Location
from connectors.hl7.fees import line_location
from connectors.hl7.mapping import Command
from connectors.hl7.reader import Hl7Message

_EVERY: dict[str, tuple[str, int]] = {"his_visit_id": ("PV1", 19)}
_READ: dict[type, dict[str, tuple[str, int]]] = {
    Admit: {
        "admitted_at": ("PV1", 44),
        "department": ("PV1", 3),
        "card.card_no": ("ZWI", 2),
        "card.qr_token": ("ZWI", 3),
        "injury_parts": ("ZWI", 4),
    },
    UpdateVisit: {"department": ("PV1", 3), "injury_parts": ("ZWI", 4), "kind": ("ZWI", 5)},
    Discharge: {"discharged_at": ("PV1", 45)},
}


def locate(field: str, message: Hl7Message, command: Command) -> Location | None:
    """The location of ``field`` (a refusal's REST-style name) in ``message``, which was read
    as ``command``; ``None`` when the message carries it nowhere in particular."""
    if not field:
        return None
    if isinstance(command, RecordFees):
        head, _, rest = field.partition(".")
        index, _, name = rest.partition(".")
        if head == "lines" and index.isdigit():
            return line_location(message, int(index), name)
    if isinstance(command, Admit) and field == "kind":
        return _kind(message)
    spot = _READ.get(type(command), {}).get(field) or _EVERY.get(field)
    if spot is None:
        return None
    name, number = spot
    segment = message.first(name)
    return segment.location(number) if segment else None


def _kind(message: Hl7Message) -> Location | None:
    """ZWI-5 says the kind; a stay it leaves empty is rehab only by PV1-10 (mapping._kind)."""
    zwi, pv1 = message.first("ZWI"), message.first("PV1")
    if zwi is None:
        return None
    if not zwi.get(5) and pv1 is not None and pv1.get(10).upper() == "REH":
        return pv1.location(10)
    return zwi.location(5)
