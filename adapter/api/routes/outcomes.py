"""What a REST answer takes from a command's :class:`~adapter.domain.commands.Outcome`.

The front door fills the encounter and the settlement of every command that has them; HL7
answers from the outcome's ids alone, so those objects are optional on the type. An outcome
without them here is a defect of the implementation, answered 500, never a half answer.
"""

from __future__ import annotations

from adapter.domain.commands import Outcome
from adapter.domain.encounters import Encounter
from adapter.domain.settlement import Settlement


def encounter_of(outcome: Outcome) -> Encounter:
    """The encounter as the command left it."""
    if outcome.encounter is None:
        raise RuntimeError(f"the command on {outcome.encounter_id} returned no encounter")
    return outcome.encounter


def settlement_of(outcome: Outcome) -> Settlement:
    """The settlement the command made, replayed or revoked."""
    if outcome.settlement is None:
        raise RuntimeError(f"the command on {outcome.encounter_id} returned no settlement")
    return outcome.settlement
