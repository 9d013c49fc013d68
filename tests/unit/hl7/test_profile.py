"""The HL7 site profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.domain.fees import FeeCategory
from connectors.hl7.profile import SiteProfile, SiteProfileError, load_site_profile

SHIPPED = Path(__file__).parents[3] / "config" / "hl7_site.toml"


def test_shipped_profile_loads() -> None:
    profile = load_site_profile(SHIPPED)
    assert profile.discharge_settles is True
    assert profile.time_zone == "Asia/Shanghai"
    assert profile.sending_facility == "H11010000001"
    assert profile.category_for("XA01") is FeeCategory.DRUG
    assert profile.category_for("ANY", "99meal") is FeeCategory.MEAL
    assert profile.category_for("QQ") is None


def test_longest_prefix_wins_and_default_applies() -> None:
    profile = SiteProfile(
        category_by_prefix={"R": FeeCategory.TREATMENT, "RH": FeeCategory.REHAB},
        default_category=FeeCategory.TREATMENT,
    )
    assert profile.category_for("RH01") is FeeCategory.REHAB
    assert profile.category_for("R01") is FeeCategory.TREATMENT
    assert profile.category_for("Q") is FeeCategory.TREATMENT


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("discharge_settles = 'yes'", "discharge_settles"),
        ("time_zone = 'Mars/Olympus'", "time_zone"),
        ("colour = 'red'", "colour"),
        ("[fee_categories.item_code_prefixes]\nX = 'food'", "item_code_prefixes.X"),
        ("[fee_categories]\ndefault = 'nope'", "fee_categories.default"),
        ("discharge_settles = ", "not valid TOML"),
    ],
)
def test_a_wrong_profile_names_the_key(tmp_path: Path, content: str, names: str) -> None:
    path = tmp_path / "hl7_site.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SiteProfileError) as caught:
        load_site_profile(path)
    assert names in caught.value.message


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SiteProfileError, match="does not exist"):
        load_site_profile(tmp_path / "nope.toml")


def test_discharge_can_mark_ready_instead_of_settling(tmp_path: Path) -> None:
    path = tmp_path / "hl7_site.toml"
    path.write_text("discharge_settles = false\n", encoding="utf-8")
    assert load_site_profile(path).discharge_settles is False
