"""Settings: read from the TOML file, overridden by ADAPTER_* variables, refused in one line."""

from __future__ import annotations

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


def test_a_missing_setting_is_named_with_its_variable(config_file: Path, tmp_path: Path) -> None:
    config_file.write_text(GOOD.replace('admdvs = "110100"\n', ""), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.message == (
        "setting institution.admdvs is missing; set it in the config file or with "
        "ADAPTER_INSTITUTION__ADMDVS"
    )


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


def test_hmac_gateway_auth_without_its_secret_is_refused_without_echoing_secrets(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_UPSTREAM__AUTH", "hmac")
    monkeypatch.setenv("ADAPTER_UPSTREAM__ACCESS_KEY", "AK-SITE-01")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "upstream.secret_key is required" in caught.value.message
    assert "AK-SITE-01" not in caught.value.message


def test_hl7_listener_threads_and_connections_come_from_the_settings(config_file: Path) -> None:
    from adapter.wiring.hl7 import listener_config

    config_file.write_text(GOOD + "\n[hl7]\nworkers = 12\nmax_connections = 300\n", "utf-8")
    config = listener_config(load_settings())
    assert (config.workers, config.max_connections) == (12, 300)


def test_a_misspelt_key_inside_a_section_is_refused_naming_it(config_file: Path) -> None:
    # `wokers = 4` was ignored: the instance ran with 2 upload workers and nothing said why
    config_file.write_text(GOOD + "\n[queue]\nwokers = 4\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    # it said "set it in the config file or with ADAPTER_QUEUE__WOKERS": a key that cannot be
    assert caught.value.message == (
        "setting queue.wokers is not a known setting (did you mean queue.workers?); correct or "
        f"remove it in the config file {config_file}"
    )


def test_a_config_file_that_is_not_toml_is_refused_in_one_line_naming_the_line(
    config_file: Path,
) -> None:
    config_file.write_text(GOOD + "\n[http]\nport = 8000 x\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith(f"config file {config_file} is not valid TOML: ")
    assert "line 12" in message and "\n" not in message


def test_a_list_setting_given_as_a_plain_variable_is_refused_saying_how_to_write_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_HL7__ALLOWED_PEERS", "10.0.0.1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert "ADAPTER_HL7__ALLOWED_PEERS" in message and "JSON" in message
    assert '["10.0.0.1"]' in message and "\n" not in message


def test_a_credential_the_gateway_auth_needs_is_named_with_its_own_variable(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_UPSTREAM__AUTH", "hmac")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.message.startswith("setting upstream.access_key is wrong: ")
    assert caught.value.message.endswith("with ADAPTER_UPSTREAM__ACCESS_KEY")


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


def test_a_section_given_whole_as_a_variable_that_is_not_json_is_named_without_its_value(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pydantic-settings said only: error parsing value for field "upstream" from source ...
    monkeypatch.setenv("ADAPTER_UPSTREAM", '{"secret_key": "S3CRET"')
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith("setting upstream is wrong: ADAPTER_UPSTREAM is not a JSON object")
    assert "ADAPTER_UPSTREAM__<KEY>" in message
    assert "S3CRET" not in message and "\n" not in message


def test_a_wrong_item_of_a_list_variable_names_the_variable_that_holds_it(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_INSTITUTION__KINDS", '["medical", "hospital"]')
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith("setting institution.kinds.1 is wrong: ")
    assert message.endswith("with ADAPTER_INSTITUTION__KINDS")  # not …__KINDS__1


def test_list_variables_written_as_json_lists_are_read(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTER_HL7__ALLOWED_PEERS", '["10.0.0.1", "10.0.0.0/24"]')
    monkeypatch.setenv("ADAPTER_SCHEDULE__DEVICE_REGIONS", "[]")
    settings = load_settings()
    assert settings.hl7.allowed_peers == ["10.0.0.1", "10.0.0.0/24"]
    assert settings.schedule.device_regions == []
