"""Settings: read from the TOML file, overridden by ADAPTER_* variables, refused in one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from adapter.settings import SettingsError, load_settings

GOOD = """
[institution]
code = "H11010000001"
name = "示例工伤协议医院"
kinds = ["medical", "rehab"]
admdvs = "110100"

[upstream]
base_url = "http://127.0.0.1:8090"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "adapter.toml"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("ADAPTER_CONFIG_FILE", str(path))
    for name in list(__import__("os").environ):
        if name.startswith("ADAPTER_") and name != "ADAPTER_CONFIG_FILE":
            monkeypatch.delenv(name)
    return path


def test_settings_are_read_from_the_toml_file(config_file: Path) -> None:
    settings = load_settings()
    assert settings.institution.code == "H11010000001"
    assert settings.institution.kinds == ["medical", "rehab"]
    # relative paths resolve against the config file's folder, not the working directory
    assert settings.database.url == f"sqlite:///{config_file.parent}/data/adapter.db"
    assert str(settings.zone) == "Asia/Shanghai"


def test_environment_variables_override_the_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_INSTITUTION__NAME", "另一家医院")
    monkeypatch.setenv("ADAPTER_DATABASE__URL", "postgresql+psycopg://db/adapter")
    monkeypatch.setenv("ADAPTER_HL7__PORT", "2576")
    settings = load_settings()
    assert settings.institution.name == "另一家医院"
    assert settings.institution.code == "H11010000001"  # untouched keys keep the file's value
    assert settings.database.url == "postgresql+psycopg://db/adapter"
    assert settings.hl7.port == 2576


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ADAPTER_INSTITUTION__CODE", "H1101", "institution.code"),
        ("ADAPTER_INSTITUTION__ADMDVS", "beijing", "institution.admdvs"),
        ("ADAPTER_INSTITUTION__KINDS", '["hospital"]', "institution.kinds.0"),
        ("ADAPTER_DATABASE__URL", "mysql://x/y", "database.url"),
        ("ADAPTER_UPSTREAM__BASE_URL", "ftp://upstream", "upstream.base_url"),
        ("ADAPTER_HL7__PORT", "70000", "hl7.port"),
        (
            "ADAPTER_UPSTREAM__ALREADY_RECEIVED_PATTERN",
            "已接收(",
            "upstream.already_received_pattern",
        ),
        ("ADAPTER_TIME_ZONE", "Mars/Olympus", "time_zone"),
    ],
)
def test_a_wrong_setting_stops_start_up_naming_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert f"setting {named} " in message
    assert "\n" not in message
    assert "ADAPTER_" in message


@dataclass(frozen=True)
class Refusal:
    """What the one-line refusal says: all of it (``exact``), or how it starts and ends, what
    it names (``has``) and what it must not echo (``lacks``). ``{file}`` is the config file."""

    exact: str = ""
    starts: str = ""
    has: tuple[str, ...] = ()
    ends: str = ""
    lacks: tuple[str, ...] = ()

    def check(self, message: str, config_file: Path) -> None:
        assert "\n" not in message
        if self.exact:
            assert message == self.exact.format(file=config_file)
        assert message.startswith(self.starts.format(file=config_file)), message
        assert message.endswith(self.ends), message
        for named in self.has:
            assert named in message, message
        for secret in self.lacks:
            assert secret not in message, message


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        pytest.param(
            {"ADAPTER_UPSTREAM__AUTH": "hmac", "ADAPTER_UPSTREAM__ACCESS_KEY": "AK-SITE-01"},
            Refusal(has=("upstream.secret_key is required",), lacks=("AK-SITE-01",)),
            id="hmac-gateway-auth-without-its-secret-echoes-no-secret",
        ),
        pytest.param(
            {"ADAPTER_UPSTREAM__AUTH": "hmac"},
            Refusal(
                starts="setting upstream.access_key is wrong: ",
                ends="with ADAPTER_UPSTREAM__ACCESS_KEY",
            ),
            id="a-credential-the-gateway-auth-needs-names-its-own-variable",
        ),
        pytest.param(
            {"ADAPTER_HL7__ALLOWED_PEERS": "10.0.0.1"},
            Refusal(has=("ADAPTER_HL7__ALLOWED_PEERS", "JSON", '["10.0.0.1"]')),
            id="a-list-given-as-a-plain-variable-says-how-to-write-it",
        ),
        pytest.param(
            # pydantic-settings said only: error parsing value for field "upstream" from source
            {"ADAPTER_UPSTREAM": '{"secret_key": "S3CRET"'},
            Refusal(
                starts="setting upstream is wrong: ADAPTER_UPSTREAM is not a JSON object",
                has=("ADAPTER_UPSTREAM__<KEY>",),
                lacks=("S3CRET",),
            ),
            id="a-section-given-whole-not-as-json-is-named-without-its-value",
        ),
        pytest.param(
            {"ADAPTER_INSTITUTION__KINDS": '["medical", "hospital"]'},
            Refusal(
                starts="setting institution.kinds.1 is wrong: ",
                ends="with ADAPTER_INSTITUTION__KINDS",  # not …__KINDS__1
            ),
            id="a-wrong-item-of-a-list-names-the-variable-that-holds-it",
        ),
    ],
)
def test_a_wrong_variable_is_refused_in_one_line_naming_it(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    refusal: Refusal,
) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    refusal.check(caught.value.message, config_file)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        pytest.param(
            GOOD.replace('admdvs = "110100"\n', ""),
            Refusal(
                exact="setting institution.admdvs is missing; set it in the config file or "
                "with ADAPTER_INSTITUTION__ADMDVS"
            ),
            id="a-missing-setting-is-named-with-its-variable",
        ),
        pytest.param(
            # `wokers = 4` was ignored: the instance ran with 2 upload workers and nothing
            # said why; then it said "set it … with ADAPTER_QUEUE__WOKERS": a key that cannot be
            GOOD + "\n[queue]\nwokers = 4\n",
            Refusal(
                exact="setting queue.wokers is not a known setting (did you mean "
                "queue.workers?); correct or remove it in the config file {file}"
            ),
            id="a-misspelt-key-inside-a-section-is-named",
        ),
        pytest.param(
            GOOD + "\n[http]\nport = 8000 x\n",
            Refusal(starts="config file {file} is not valid TOML: ", has=("line 12",)),
            id="a-file-that-is-not-toml-names-the-line",
        ),
    ],
)
def test_a_wrong_config_file_is_refused_in_one_line_naming_what_is_wrong(
    config_file: Path, text: str, refusal: Refusal
) -> None:
    config_file.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    refusal.check(caught.value.message, config_file)


def test_a_named_config_file_that_does_not_exist_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAPTER_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_the_shipped_config_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("ADAPTER_CONFIG_FILE", str(root / "config" / "adapter.toml"))
    settings = load_settings()
    assert settings.institution.code == "H11010000001"
    assert settings.institution.admdvs == "110100"
    # the source tree's data/ and profile, wherever the command starts
    assert settings.data_dir == root / "data"
    assert settings.database.url == f"sqlite:///{root}/data/adapter.db"
    assert settings.hl7.site_profile == str(root / "config" / "hl7_site.toml")


def test_relative_paths_resolve_against_the_config_file_s_folder(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_file.write_text(
        GOOD
        + '[hl7]\nsite_profile = "his/profile.toml"\ntls_cert = "/etc/ssl/hl7.pem"\n'
        + '[logging]\nfile = "logs/adapter.log"\nformat = "kv"\n'
        + '[web]\nslip_font = "fonts/wqy.ttc"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ADAPTER_DATABASE__URL", "sqlite:///db/adapter.db?mode=rwc")
    settings = load_settings()
    folder = config_file.parent
    assert settings.database.url == f"sqlite:///{folder}/db/adapter.db?mode=rwc"
    assert settings.hl7.site_profile == str(folder / "his" / "profile.toml")
    assert settings.hl7.tls_cert == "/etc/ssl/hl7.pem"  # absolute: as given
    assert settings.logging.file == str(folder / "logs" / "adapter.log")
    assert settings.logging.format == "kv"
    assert settings.web.slip_font == str(folder / "fonts" / "wqy.ttc")
    assert settings.data_dir == folder / "data"
    monkeypatch.setenv("ADAPTER_DATABASE__URL", "sqlite:////srv/adapter.db")
    assert load_settings().database.url == "sqlite:////srv/adapter.db"


def test_without_a_profile_beside_the_config_the_packaged_one_is_used(config_file: Path) -> None:
    profile = Path(load_settings().hl7.site_profile)
    assert profile.is_file() and profile.parent.name == "defaults"


def test_with_no_config_file_at_all_the_message_says_how_to_write_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("ADAPTER_"):
            monkeypatch.delenv(name)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "setting institution is missing" in caught.value.message
    assert "wi-adapter config init PATH" in caught.value.message


def test_hl7_listener_threads_and_connections_come_from_the_settings(config_file: Path) -> None:
    from adapter.wiring.hl7 import listener_config

    config_file.write_text(GOOD + "\n[hl7]\nworkers = 12\nmax_connections = 300\n", "utf-8")
    config = listener_config(load_settings())
    assert (config.workers, config.max_connections) == (12, 300)


def test_upstreams_wording_and_reply_bound_come_from_the_settings(config_file: Path) -> None:
    """A province words a repeated upload its own way (报文号已存在): IT adds it to the
    pattern, and the client reads replies with it."""
    from adapter.wiring.upstream import upstream_config

    extra = 'already_received_pattern = "报文号已存在"\nmax_reply_bytes = 1048576\n'
    config_file.write_text(GOOD + extra, "utf-8")  # under GOOD's [upstream]
    config = upstream_config(load_settings())
    assert (config.already_received_pattern, config.max_reply_bytes) == ("报文号已存在", 1048576)


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("ADAPTER_HL7__ALLOWED_PEERS", "10.0.0.1, 10.0.0.2", '["10.0.0.1", "10.0.0.2"]'),
        # brackets without quotes: the items are what was meant, not "[01-20"
        ("ADAPTER_SCHEDULE__HALF_YEARLY_CUTOFFS", "[01-20, 07-20]", '["01-20", "07-20"]'),
        ("ADAPTER_SCHEDULE__DEVICE_REGIONS", '"110100"', '["110100"]'),  # JSON, but no list
        ("ADAPTER_HL7__ALLOWED_PEERS", "", "[]"),  # none: loopback only
        # the variable as it was set: pydantic-settings reads names in any case
        ("adapter_hl7__allowed_peers", "10.0.0.1", '["10.0.0.1"]'),
    ],
)
def test_a_list_variable_that_is_no_json_list_is_named_with_a_value_that_would_do(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, example: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    path = variable.upper().removeprefix("ADAPTER_").lower().replace("__", ".")
    assert caught.value.message == (
        f"setting {path} is wrong: {variable} must be a JSON list, e.g. "
        f"{variable}='{example}' (got {value!r})"
    )


def test_list_variables_written_as_json_lists_are_read(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_HL7__ALLOWED_PEERS", '["10.0.0.1", "10.0.0.0/24"]')
    monkeypatch.setenv("ADAPTER_SCHEDULE__DEVICE_REGIONS", "[]")
    settings = load_settings()
    assert settings.hl7.allowed_peers == ["10.0.0.1", "10.0.0.0/24"]
    assert settings.schedule.device_regions == []
