"""The eligibility question (:func:`adapter.domain.eligibility.check_eligibility`): who asks,
for which encounter, on which day, and at which stage of the stay.

Its own module so that the checks of the worker and those of the filing
(:mod:`adapter.domain.filing_checks`) both read it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from adapter.domain.encounters import EncounterKind
from adapter.domain.filings import Filing
from adapter.domain.institutions import Institution
from adapter.domain.people import CardData, Person, Suspension


class Stage(StrEnum):
    ADMISSION = "admission"
    DISCHARGE = "discharge"


@dataclass(frozen=True)
class EligibilityRequest:
    card: CardData
    person: Person | None  # None: upstream knows no one by this card
    filings: Sequence[Filing]
    suspensions: Sequence[Suspension]
    institution: Institution
    kind: EncounterKind
    admitted_on: date
    checked_on: date  # the admission date at admission, the discharge date at discharge
    stage: Stage = Stage.ADMISSION
    injury_parts: tuple[str, ...] = ()
    # The admission of a stay itself — not the desk's question before the form is filled in,
    # not a device fitting, not a discharge: it names the injured part(s) it treats, one or
    # more of the filed ones (N§16, 附表1 受伤部位), however it reaches the adapter.
    parts_required: bool = False
    approval_notice_no: str = ""
    device_codes: tuple[str, ...] = ()
    # At discharge: the filing the stay was admitted on. It stays decisive for the stay even
    # if it was changed or cancelled since (N§13; N§15: a successor governs later encounters).
    admitted_filing_no: str = ""
    # That filing as the adapter last saw it (checked at admission): upstream may answer at
    # discharge with the filing in force now only — the successor, a renewal — and the stay,
    # admitted inside its validity, still settles on it (N§13, N§15).
    admitted_filing: Filing | None = None
    # The day the clerk reads the findings: remaining validity counts from it, not from a
    # back-dated admission (None: the checked day).
    today: date | None = None

    @property
    def settles_on_or_after(self) -> date:
        """The earliest day the stay can still be settled on: at admission the later of the
        admission day and today (a stay registered late is discharged today or later), at
        discharge the discharge day. Loss of eligibility and a suspension are read on it
        (N§11, N§15, N§49): in force by then, the stay cannot settle directly."""
        if self.stage is Stage.ADMISSION and self.today is not None:
            return max(self.checked_on, self.today)
        return self.checked_on
