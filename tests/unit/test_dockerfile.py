"""The Dockerfile agrees with the settings, the CLI and the health route it relies on."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from adapter.api.health import LIVE_PATH
from adapter.cli import build_parser
from adapter.settings_sections import HL7Settings, HttpSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instruction(name: str) -> str:
    joined = DOCKERFILE.replace("\\\n", " ")
    match = re.search(rf"^{name}\s+(.+)$", joined, re.MULTILINE)
    assert match, f"Dockerfile has no {name}"
    return match.group(1).strip()


def env() -> dict[str, str]:
    return dict(shlex.split(pair)[0].split("=", 1) for pair in instruction("ENV").split())


def test_the_entry_point_is_the_projects_console_script_and_its_command_exists() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert instruction("ENTRYPOINT") == '["wi-adapter"]'
    assert "wi-adapter" in scripts
    command = instruction("CMD").strip('[]"')
    args = build_parser().parse_args([command])
    assert callable(args.handler)


def test_exposed_ports_are_the_configured_ones() -> None:
    values = env()
    exposed = set(instruction("EXPOSE").split())
    assert values["ADAPTER_HTTP__PORT"] in exposed
    assert values["ADAPTER_HL7__PORT"] in exposed
    assert values["ADAPTER_HTTP__PORT"] == str(HttpSettings().port)
    assert values["ADAPTER_HL7__PORT"] == str(HL7Settings().port)


def test_the_healthcheck_asks_the_liveness_route_on_the_http_port() -> None:
    check = instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{env()['ADAPTER_HTTP__PORT']}{LIVE_PATH}" in check


def test_the_data_directory_is_a_volume_holding_the_database() -> None:
    values = env()
    assert instruction("VOLUME") == '["/data"]'
    assert values["ADAPTER_DATA_DIR"] == "/data"
    assert values["ADAPTER_DATABASE__URL"] == "sqlite:////data/adapter.db"


def test_it_runs_as_a_non_root_user_with_a_cjk_font() -> None:
    assert instruction("USER") not in ("root", "0")
    assert "fonts-wqy-zenhei" in DOCKERFILE
    assert (ROOT / "config" / "adapter.toml").is_file()
    assert "COPY config ./config" in DOCKERFILE


def test_the_image_is_built_in_two_stages_from_a_pinned_base_with_the_tested_versions() -> None:
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert len(bases) == 2 and len(set(bases)) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", bases[0]), bases[0]
    assert "-c constraints.txt" in DOCKERFILE and (ROOT / "constraints.txt").is_file()
    assert "COPY --from=build /opt/wi-adapter /opt/wi-adapter" in DOCKERFILE
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert "COPY adapter" not in final and "pip wheel" not in final  # no build leftovers


def test_make_installs_the_tested_versions_too() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet -c constraints.txt -e '.[test]'" in makefile
    pinned = [
        line for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert pinned and all("==" in line for line in pinned)
    names = {line.split("==")[0].lower().replace("_", "-") for line in pinned}
    assert {"fastapi", "uvicorn", "sqlalchemy", "hl7apy", "httpx", "fpdf2"} <= names
