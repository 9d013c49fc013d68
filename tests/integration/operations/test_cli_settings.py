"""A misspelt setting as IT meets it: ``wi-adapter`` run as a process, its one-line refusal on
stderr. The refusal said "set it in the config file or with ADAPTER_QUEUE__WOKERS" — advice
to set the very key that does not exist; it now says which key was meant and to remove the
wrong one, from the file or the environment, wherever it was written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GOOD = """
[institution]
code = "H11010000001"
name = "示例工伤协议医院"
kinds = ["medical"]
admdvs = "110100"

[upstream]
base_url = "http://127.0.0.1:9"
"""


def wi_adapter(config: Path, *argv: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """``wi-adapter --config CONFIG ARGV`` from this source tree, with only ``variables`` of
    the ``ADAPTER_*`` environment."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ADAPTER_")}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "adapter.cli", "--config", str(config), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "adapter.toml"
    path.write_text(GOOD, encoding="utf-8")
    return path


def test_a_misspelt_key_in_the_config_file_names_the_key_meant_and_says_to_remove_it(
    config: Path,
) -> None:
    config.write_text(GOOD + "\n[queue]\nwokers = 4\n", encoding="utf-8")
    done = wi_adapter(config, "migrate")
    assert done.returncode == 2
    assert done.stderr == (
        "wi-adapter: setting queue.wokers is not a known setting (did you mean queue.workers?);"
        f" correct or remove it in the config file {config}\n"
    )
    assert not (config.parent / "data").exists()  # nothing was created


def test_an_unknown_key_with_nothing_near_it_is_only_to_be_removed(config: Path) -> None:
    config.write_text(GOOD + '\n[http]\ncolour = "blue"\n', encoding="utf-8")
    done = wi_adapter(config, "migrate")
    assert (done.returncode, done.stderr) == (
        2,
        "wi-adapter: setting http.colour is not a known setting;"
        f" remove it from the config file {config}\n",
    )


@pytest.mark.parametrize(
    ("variable", "value", "refusal"),
    [
        (
            "ADAPTER_QUEUE__WOKERS",
            "4",
            "setting queue.wokers is not a known setting (did you mean queue.workers?);"
            " unset ADAPTER_QUEUE__WOKERS, or set ADAPTER_QUEUE__WORKERS instead",
        ),
        # ADAPTER_QUEU__WORKERS=4 was read by nobody: the instance ran with 2 workers, silently
        (
            "ADAPTER_QUEU__WORKERS",
            "4",
            "setting queu.workers is not a known setting (did you mean queue?);"
            " unset ADAPTER_QUEU__WORKERS, or set ADAPTER_QUEUE__WORKERS instead",
        ),
        (
            "ADAPTER_HL7__ALLOWED_PEERS",
            "10.0.0.1, 10.0.0.2",
            "setting hl7.allowed_peers is wrong: ADAPTER_HL7__ALLOWED_PEERS must be a JSON list,"
            """ e.g. ADAPTER_HL7__ALLOWED_PEERS='["10.0.0.1", "10.0.0.2"]'"""
            " (got '10.0.0.1, 10.0.0.2')",
        ),
    ],
)
def test_a_wrong_variable_is_refused_in_one_line_naming_it_and_the_fix(
    config: Path, variable: str, value: str, refusal: str
) -> None:
    done = wi_adapter(config, "migrate", **{variable: value})
    assert (done.returncode, done.stderr) == (2, f"wi-adapter: {refusal}\n")
    assert not (config.parent / "data").exists()
