"""Diagnoses typed at the admission or billing desk (one per line: code, then name) are held to
the bounds REST and HL7 hold them to; beyond one the page says which line and why. Before, a
desk took any number of lines of any length (REST: at most 30, code 32, name 200)."""

from __future__ import annotations

import pytest

from adapter.api.routes.encounter_bodies import DiagnosisIn
from adapter.domain.text import MAX_DIAGNOSES
from adapter.web.forms import DIAGNOSIS_CODE_MAX, DIAGNOSIS_NAME_MAX, FormError, diagnoses


def test_the_desks_bounds_are_rest_s() -> None:
    def bound(name: str) -> int:
        field = DiagnosisIn.model_fields[name]
        return next(m.max_length for m in field.metadata if hasattr(m, "max_length"))

    assert (bound("code"), bound("name")) == (DIAGNOSIS_CODE_MAX, DIAGNOSIS_NAME_MAX)


def test_diagnoses_within_the_bounds_are_read_one_per_line() -> None:
    typed = "S62.301 左手第三掌骨骨折\n\n" + "\n".join(f"S{n:02d}" for n in range(29))
    read = diagnoses(typed)
    assert len(read) == MAX_DIAGNOSES and read[0].name == "左手第三掌骨骨折"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("\n".join(f"S{n:02d}" for n in range(MAX_DIAGNOSES + 1)), f"诊断最多{MAX_DIAGNOSES}条"),
        ("S62.301 骨折\n" + "S" * 33 + " 骨折", "第2行诊断编码最长32个字符"),
        ("S62.301 " + "骨" * 201, "第1行诊断名称最长200个字符"),
    ],
)
def test_too_many_or_too_long_diagnoses_are_refused_naming_the_line(typed: str, said: str) -> None:
    with pytest.raises(FormError, match=f"^{said}"):
        diagnoses(typed)
