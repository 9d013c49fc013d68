"""What IT installs agrees with itself: the CLI's version and config init, the packaged
defaults and the source tree's, and the slip font the code, Makefile, Dockerfile and guide name."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from adapter import __version__
from adapter.cli import main
from adapter.settings import PACKAGED_DEFAULTS, Settings
from adapter.web.slip_pdf import FONT_PACKAGE, WELL_KNOWN_FONTS

ROOT = Path(__file__).resolve().parents[2]


def keys(data: dict[str, object], prefix: str = "") -> set[str]:
    found = set()
    for name, value in data.items():
        found.add(prefix + name)
        if isinstance(value, dict):
            found |= keys(value, f"{prefix}{name}.")
    return found


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"wi-adapter {__version__}"


def test_config_init_writes_both_files_and_refuses_to_overwrite_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "etc" / "wi-adapter"
    assert main(["config", "init", str(folder)]) == 0
    written = tomllib.loads((folder / "adapter.toml").read_text(encoding="utf-8"))
    assert written["data_dir"] == "data" and written["hl7"]["site_profile"] == "hl7_site.toml"
    assert (folder / "hl7_site.toml").read_bytes() == (
        ROOT / "config" / "hl7_site.toml"
    ).read_bytes()
    assert "# " in (folder / "adapter.toml").read_text(encoding="utf-8")  # commented
    assert f"--config {folder / 'adapter.toml'}" in capsys.readouterr().out
    assert main(["config", "init", str(folder)]) == 1
    assert main(["config", "init", str(folder), "--force"]) == 0


def test_the_packaged_defaults_have_every_setting_the_source_tree_s_config_has() -> None:
    shipped = tomllib.loads((PACKAGED_DEFAULTS / "adapter.toml").read_text(encoding="utf-8"))
    tree = tomllib.loads((ROOT / "config" / "adapter.toml").read_text(encoding="utf-8"))
    assert keys(shipped) == keys(tree)
    assert "logging" in shipped


def test_the_config_file_shows_every_setting_the_adapter_reads() -> None:
    # IT edits the file `config init` writes: a key it does not show (the MLLP TLS files, the
    # 国密 keys, upstream.write_timeout_s that the lease_seconds comment names) is one they
    # cannot find short of reading the code
    read = set()
    for name, field in Settings.model_fields.items():
        section = getattr(field.annotation, "model_fields", None)
        read |= {f"{name}.{key}" for key in section} if section else {name}
    read -= {"demo"}  # set by `wi-adapter demo`, never by a site
    for path in (ROOT / "config" / "adapter.toml", PACKAGED_DEFAULTS / "adapter.toml"):
        shown = keys(tomllib.loads(path.read_text(encoding="utf-8")))
        assert sorted(read - shown) == [], path


def test_the_slip_font_package_is_the_one_the_code_embeds_and_everyone_installs() -> None:
    assert "wqy-zenhei" in WELL_KNOWN_FONTS[0] and FONT_PACKAGE == "fonts-wqy-zenhei"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"SLIP_FONT_PACKAGE := {FONT_PACKAGE}" in makefile
    assert "run: $(STAMP) slip-font" in makefile
    assert FONT_PACKAGE in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"apt-get install -y python3 python3-venv {FONT_PACKAGE}" in guide


def test_every_command_s_help_names_it_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out.split("COMMAND\n", 1)[1].split("options:", 1)[0]
    entries = re.split(r"\n    (?=\S)", "\n" + listing)[1:]
    assert len(entries) >= 15
    for entry in entries:
        assert re.search(r"[\u4e00-\u9fff]", entry), entry
        # the Chinese name first, as the clerks' and IT's eyes look for it: "审核扣款 / a
        # month's …" (deductions said "a month's audit deductions (审核扣款)")
        head, slash, _english = entry.partition(" / ")
        assert slash and re.search(r"[\u4e00-\u9fff]", head), entry


def test_the_demo_runs_from_an_installed_wheel_with_no_config_file_in_sight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `wi-adapter demo` (listed by --help) outside the source tree stopped with "setting
    # institution is missing": the demo is the first thing a new user tries after installing
    from adapter.cli import build_parser
    from adapter.cli.serve import demo_settings

    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("ADAPTER_")]:
        monkeypatch.delenv(name)
    args = build_parser().parse_args(["demo", "--data-dir", "d"])
    try:
        settings = demo_settings(args)
    finally:
        __import__("os").environ.pop("ADAPTER_CONFIG_FILE", None)
    assert settings.demo and settings.institution.code == "H11010000001"
    assert settings.data_dir == tmp_path / "d"
    assert settings.database.url == f"sqlite:///{tmp_path / 'd' / 'adapter.db'}"
    assert settings.logging.file == ""  # never a log folder inside the installed package
    assert Path(settings.hl7.site_profile).is_file()
