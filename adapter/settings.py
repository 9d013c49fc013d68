"""The adapter's settings: one class, read from ``config/adapter.toml`` and ``ADAPTER_*`` variables.

Precedence, highest first: values passed in code (the demo, tests) > environment variables
(``ADAPTER_<SECTION>__<KEY>``) > the TOML file (``ADAPTER_CONFIG_FILE``, default
``config/adapter.toml``) > defaults. A wrong or missing setting raises :class:`SettingsError`
whose message is one line naming the setting and the variable that overrides it.

This module reads the settings: where from, in what order, relative paths against the config
file's folder, and the one-line refusal. Each section's keys, defaults and checks are
models in :mod:`adapter.settings_sections`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from adapter.domain.errors import AdapterError
from adapter.settings_sections import (
    DEFAULT_SITE_PROFILE,
    ApiSettings,
    AuditSettings,
    CardsSettings,
    DatabaseSettings,
    DevicesSettings,
    HL7Settings,
    HttpSettings,
    InstitutionSettings,
    LoggingSettings,
    PolicySettings,
    QueueSettings,
    ScheduleSettings,
    UpstreamSettings,
    WebSettings,
)

DEFAULT_CONFIG_FILE = "config/adapter.toml"
ENV_PREFIX = "ADAPTER_"
# the defaults that ship inside the package (``wi-adapter config init`` copies them)
PACKAGED_DEFAULTS = Path(__file__).with_name("defaults")


class SettingsError(AdapterError):
    """A setting is missing or wrong; start-up stops with this one-line message."""

    code = "SETTINGS_INVALID"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    institution: InstitutionSettings
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    upstream: UpstreamSettings
    hl7: HL7Settings = Field(default_factory=HL7Settings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    devices: DevicesSettings = Field(default_factory=DevicesSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    cards: CardsSettings = Field(default_factory=CardsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    time_zone: str = "Asia/Shanghai"
    data_dir: Path = Path("data")
    demo: bool = False

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _no_cheap_password_hashing(self) -> Settings:
        if self.web.password_hash_n < 2**17 and not self.demo:
            raise ValueError(
                "web.password_hash_n below 131072 (2**17, OWASP's minimum for scrypt) is only"
                " allowed in the demo"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Every relative path resolves against the config file's folder (the working
        directory when no file was read), so the service finds its files wherever it starts."""
        base = config_folder()
        self.data_dir = _against(base, self.data_dir)
        self.database.url = _sqlite_against(base, self.database.url)
        hl7 = self.hl7
        profile = _against(base, hl7.site_profile)
        if hl7.site_profile == DEFAULT_SITE_PROFILE and not profile.is_file():
            profile = PACKAGED_DEFAULTS / DEFAULT_SITE_PROFILE
        hl7.site_profile = str(profile)
        for section, names in (
            (hl7, ("tls_cert", "tls_key")),
            (self.upstream, ("ca_bundle", "client_cert", "client_key")),
            (self.web, ("slip_font",)),
            (self.logging, ("file",)),
            (self.audit, ("key_file", "anchor_file")),
        ):
            for name in names:
                value = getattr(section, name)
                if value:
                    setattr(section, name, str(_against(base, value)))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(f"{ENV_PREFIX}CONFIG_FILE", DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            EnvironmentSource(settings_cls),
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


class EnvironmentSource(EnvSettingsSource):
    """The ``ADAPTER_*`` variables, read as pydantic-settings reads them, except that a value
    it cannot decode is refused here in one line naming the variable as it was set.

    A list setting's variable holds a JSON list (``ADAPTER_HL7__ALLOWED_PEERS='["10.0.0.1"]'``),
    as the TOML file holds a list; the plain ``10.0.0.1, 10.0.0.2`` an IT person may write is
    refused with the JSON that would do. A whole section in one variable (``ADAPTER_HL7``) must
    be a JSON object; its value is never shown (it may hold the upstream secrets).
    pydantic-settings named only the section (``error parsing value for field "hl7"``).
    """

    def __call__(self) -> dict[str, Any]:
        # ADAPTER_QUEU__WORKERS names no section: pydantic-settings passes it over, and the
        # instance would run with the default without a word
        for name in sorted(os.environ):
            if not name.upper().startswith(ENV_PREFIX):
                continue
            section, _, key = name.lower().removeprefix(ENV_PREFIX.lower()).partition("__")
            if key and section not in self.settings_cls.model_fields:
                parts = (section, *key.split("__"))
                raise SettingsError(unknown_setting(self.settings_cls, parts))
        return super().__call__()

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        fields = getattr(field.annotation, "model_fields", None)
        if fields is not None and value is not None:
            _require_json_object(field_name, _variable_set(field_name), value)
        for variable, key, text in _section_variables(field_name):
            item = (fields or {}).get(key)
            if item is not None and get_origin(item.annotation) is list:
                _require_json_list(f"{field_name}.{key}", variable, text)
        if value is not None and get_origin(field.annotation) is list:
            _require_json_list(field_name, _variable_set(field_name), value)
        return super().prepare_field_value(field_name, field, value, value_is_complex)


def _variable(path: str) -> str:
    """The variable for ``path`` (``hl7.port``: ``ADAPTER_HL7__PORT``)."""
    return ENV_PREFIX + path.upper().replace(".", "__")


def _variable_in_environment(path: str) -> str | None:
    """The variable that sets ``path``, as it is spelt in the environment (names are read in
    any case); ``None`` when it is not set."""
    return next((name for name in os.environ if name.upper() == _variable(path)), None)


def _variable_set(path: str) -> str:
    return _variable_in_environment(path) or _variable(path)


def unknown_setting(model: Any, parts: Sequence[str]) -> str:
    """The refusal of a key no section has, e.g. ``("queue", "wokers")``: the key nearest to
    it, and to remove it where it was written (the variable set, else the config file) —
    not "set it", which it cannot be."""
    path = ".".join(parts)
    known: list[str] = []
    fields: dict[str, Any] = {}
    for part in parts:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            break
        known.append(part)
        model = fields[part].annotation
    nearest = get_close_matches(parts[len(known)].lower(), list(fields), n=1)
    meant = ".".join([*known, nearest[0], *parts[len(known) + 1 :]]) if nearest else ""
    hint = f" (did you mean {'.'.join([*known, nearest[0]])}?)" if nearest else ""
    variable = _variable_in_environment(path)
    if variable:
        instead = f", or set {_variable(meant)} instead" if meant else ""
        fix = f"unset {variable}{instead}"
    else:
        where = config_file()
        place = f"the config file {where}" if where else "the settings"
        fix = f"correct or remove it in {place}" if nearest else f"remove it from {place}"
    return f"setting {path} is not a known setting{hint}; {fix}"


def _section_variables(section: str) -> list[tuple[str, str, str]]:
    """``(variable, key, value)`` of each ``ADAPTER_<SECTION>__<KEY>`` set."""
    head = f"{ENV_PREFIX}{section}__".upper()
    return [
        (name, name[len(head) :].lower(), value)
        for name, value in sorted(os.environ.items())
        if name.upper().startswith(head)
    ]


def _require_json_object(section: str, variable: str, value: str) -> None:
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise SettingsError(
            f"setting {section} is wrong: {variable} is not a JSON object of its keys (value"
            f" not shown); set the keys one by one with {variable}__<KEY> instead"
        )


def _require_json_list(path: str, variable: str, value: str) -> None:
    try:
        if isinstance(json.loads(value), list):
            return
    except ValueError:
        pass
    items = [item.strip().strip("'\"") for item in value.strip().strip("[]").split(",")]
    example = json.dumps([item for item in items if item], ensure_ascii=False)
    raise SettingsError(
        f"setting {path} is wrong: {variable} must be a JSON list, e.g. "
        f"{variable}='{example}' (got {value!r})"
    )


def config_file() -> Path | None:
    """The TOML file settings are read from: ``ADAPTER_CONFIG_FILE``, else
    ``config/adapter.toml`` if it exists here; ``None`` when there is none."""
    named = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
    if named:
        return Path(named)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def config_folder() -> Path:
    found = config_file()
    return (found.parent if found is not None else Path.cwd()).resolve()


def _against(base: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base / path))


_SQLITE_URL = re.compile(r"^(sqlite(?:\+\w+)?:///)([^?]*)(.*)$")


def _sqlite_against(base: Path, url: str) -> str:
    match = _SQLITE_URL.match(url)
    if not match:
        return url
    prefix, path, query = match.groups()
    if not path or path == ":memory:" or path.startswith("/") or path.startswith("file:"):
        return url
    return f"{prefix}{_against(base, path)}{query}"


def _describe(error: ErrorDetails) -> str:
    path = ".".join(str(part) for part in error["loc"])
    # a section's own check (upstream credentials for its auth) names the key it is about
    named = re.match(rf"^(?:Value error, )?({re.escape(path)}\.\w+) ", error["msg"])
    if len(error["loc"]) == 1 and named:
        path = named.group(1)
    # an item of a list (institution.kinds.1) is set with the list's variable
    variable = _variable_set(".".join(p for p in path.split(".") if not p.isdigit()))
    if error["type"] == "extra_forbidden":
        return unknown_setting(Settings, [str(part) for part in error["loc"]])
    if error["type"] == "missing":
        problem = "is missing"
    else:
        value = error.get("input")
        secret = any(word in path for word in ("secret", "key", "password"))
        shown = "" if secret or isinstance(value, dict | list) else f" (got {value!r})"
        problem = f"is wrong: {error['msg'].removeprefix('Value error, ')}{shown}"
    return f"setting {path} {problem}; set it in the config file or with {variable}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise :class:`SettingsError` naming the first bad setting."""
    toml_file = Path(os.environ.get(f"{ENV_PREFIX}CONFIG_FILE", DEFAULT_CONFIG_FILE))
    if f"{ENV_PREFIX}CONFIG_FILE" in os.environ and not toml_file.is_file():
        raise SettingsError(f"config file {toml_file} (ADAPTER_CONFIG_FILE) does not exist")
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {toml_file} is not valid TOML: {exc}") from exc
    except SourceError as exc:  # what EnvironmentSource does not name itself
        raise SettingsError(str(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        message = _describe(first)
        if config_file() is None and first["type"] == "missing":
            message += (
                "; no config file was found: write one with `wi-adapter config init PATH`"
                " and pass --config PATH (or set ADAPTER_CONFIG_FILE)"
            )
        raise SettingsError(message) from exc
