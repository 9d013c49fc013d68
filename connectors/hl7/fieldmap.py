"""Field names and positions taken once from hl7apy's own structure definitions.

The fast reader addresses fields by position; this map, loaded lazily per version from
hl7apy's reference tables, names them (``PV1-19`` → ``VISIT_NUMBER``) for the diagnostics of
AR acknowledgements, and lets a test prove every position the mapping reads exists, with
the meaning we assume, in each supported version (2.3 … 2.5.1).
"""

from __future__ import annotations

from functools import cache

from hl7apy import load_reference

from connectors.hl7.errors import Location

# The positions the adapter reads, with the names hl7apy gives them across versions 2.3-2.5.1.
USED_FIELDS: dict[tuple[str, int], tuple[str, ...]] = {
    ("MSH", 9): ("MESSAGE_TYPE",),
    ("MSH", 10): ("MESSAGE_CONTROL_ID",),
    ("MSH", 12): ("VERSION_ID",),
    ("MSH", 18): ("CHARACTER_SET",),
    ("EVN", 1): ("EVENT_TYPE_CODE",),
    ("EVN", 4): ("EVENT_REASON_CODE",),
    ("PID", 3): ("PATIENT_IDENTIFIER_LIST", "PATIENT_ID_INTERNAL_ID"),
    ("PID", 5): ("PATIENT_NAME",),
    ("PID", 8): ("SEX", "ADMINISTRATIVE_SEX"),
    ("PV1", 2): ("PATIENT_CLASS",),
    ("PV1", 3): ("ASSIGNED_PATIENT_LOCATION",),
    ("PV1", 10): ("HOSPITAL_SERVICE",),
    ("PV1", 19): ("VISIT_NUMBER",),
    ("PV1", 44): ("ADMIT_DATE_TIME",),
    ("PV1", 45): ("DISCHARGE_DATE_TIME",),
    ("DG1", 3): ("DIAGNOSIS_CODE_DG1", "DIAGNOSIS_CODE"),
    ("FT1", 2): ("TRANSACTION_ID",),
    ("FT1", 3): ("TRANSACTION_BATCH_ID",),
    ("FT1", 4): ("TRANSACTION_DATE",),
    ("FT1", 6): ("TRANSACTION_TYPE",),
    ("FT1", 7): ("TRANSACTION_CODE",),
    ("FT1", 8): ("TRANSACTION_DESCRIPTION",),
    ("FT1", 10): ("TRANSACTION_QUANTITY",),
    ("FT1", 11): ("TRANSACTION_AMOUNT_EXTENDED",),
    ("FT1", 12): ("TRANSACTION_AMOUNT_UNIT",),
    ("FT1", 13): ("DEPARTMENT_CODE",),
}

# Our own Z-segments (not in hl7apy's tables).
ZWI_FIELDS = {
    1: "CARD_KIND",
    2: "CARD_NUMBER",
    3: "ECARD_QR_TOKEN",
    4: "INJURY_PARTS",
    5: "ENCOUNTER_KIND",
}
ZFT_FIELDS = {1: "WORK_INJURY"}  # after an FT1: is the line of the work injury (Y/N)?


@cache
def segment_fields(segment: str, version: str) -> dict[int, str]:
    """``{position: NAME}`` for a standard segment in a version, from hl7apy."""
    if segment == "ZWI":
        return dict(ZWI_FIELDS)
    if segment == "ZFT":
        return dict(ZFT_FIELDS)
    try:
        _kind, children = load_reference(segment, "Segment", version)[:2]
    except Exception:
        return {}
    names: dict[int, str] = {}
    for child in children:
        position = int(child[0].rsplit("_", 1)[1])
        names[position] = child[1][3]
    return names


def field_name(location: Location, version: str) -> str:
    """``PV1-19 VISIT_NUMBER`` (just ``PV1-19`` for a field hl7apy does not know)."""
    text = str(location)
    if not location.field:
        return text
    name = segment_fields(location.segment, version or "2.5").get(location.field, "")
    return f"{text} {name}" if name else text
