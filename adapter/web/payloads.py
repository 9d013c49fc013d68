"""Upload payloads as IT sees and edits them: personal data masked, restored on re-send.

A dead job's payload is shown in an editable box. Citizen IDs, card numbers, phones and
names in it are masked (no page shows them in full); when IT sends the edited payload back,
every value left masked is restored from the stored payload at the same place, so masking
never reaches upstream while real corrections do.
"""

from __future__ import annotations

import re
from typing import Any

from adapter.domain.people import mask_card_no, mask_citizen_id, mask_name, mask_phone

_CITIZEN_ID = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_MASKERS = {
    "certno": mask_citizen_id,
    "citizen_id": mask_citizen_id,
    "card_no": mask_card_no,
    "card_sn": mask_card_no,
    "tel": mask_phone,
    "phone": mask_phone,
    "mob": mask_phone,
    "psn_name": mask_name,
    "relative_name": mask_name,
    "coner_name": mask_name,
}


def masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        if key in _MASKERS and value:
            return _MASKERS[key](value)
        return _CITIZEN_ID.sub(lambda m: mask_citizen_id(m.group()), value)
    return value


def restored(edited: Any, original: Any, key: str = "") -> Any:
    """``edited`` with each value that still equals the masked original put back."""
    if isinstance(edited, dict) and isinstance(original, dict):
        return {k: restored(v, original.get(k), k) for k, v in edited.items()}
    if isinstance(edited, list) and isinstance(original, list):
        return [
            restored(v, original[i] if i < len(original) else None, key)
            for i, v in enumerate(edited)
        ]
    if isinstance(edited, str) and original is not None and edited == masked(original, key):
        return original
    return edited
