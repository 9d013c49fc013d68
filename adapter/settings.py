"""The adapter's settings: one class, read from ``config/adapter.toml`` and ``ADAPTER_*`` variables.

Precedence, highest first: values passed in code (the demo, tests) > environment variables
(``ADAPTER_<SECTION>__<KEY>``) > the TOML file (``ADAPTER_CONFIG_FILE``, default
``config/adapter.toml``) > defaults. A wrong or missing setting raises :class:`SettingsError`
whose message is one line naming the setting and the variable that overrides it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapter.domain.errors import AdapterError

DEFAULT_CONFIG_FILE = "config/adapter.toml"
ENV_PREFIX = "ADAPTER_"

InstitutionKind = Literal["medical", "rehab", "device"]


class SettingsError(AdapterError):
    """A setting is missing or wrong; start-up stops with this one-line message."""

    code = "SETTINGS_INVALID"


class InstitutionSettings(BaseModel):
    code: str = Field(pattern=r"^[A-Z0-9]{12}$", description="fixmedins_code, 12 characters")
    name: str = Field(min_length=1)
    kinds: list[InstitutionKind] = Field(min_length=1)
    admdvs: str = Field(pattern=r"^\d{6}$", description="city administrative division code")
    province: str = ""


class DatabaseSettings(BaseModel):
    url: str = "sqlite:///data/adapter.db"
    # SQLite: below this much free space on the database's filesystem /healthz reports the
    # instance not ready (writes are about to fail with DATABASE_FULL)
    min_free_mb: int = Field(default=64, ge=0)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # a request body above this is refused (413) before it is read
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # a connection must deliver a request head, then its body, within these; otherwise 408 and
    # closed, so slow senders cannot hold connections open (slow-loris)
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # an idle keep-alive connection is closed after this
    keep_alive_s: float = Field(default=5.0, ge=1, le=300)
    # open connections beyond this get 503 at once instead of exhausting file descriptors
    max_connections: int = Field(default=1000, ge=10)


class UpstreamSettings(BaseModel):
    dialect: Literal["reference"] = "reference"
    base_url: str = Field(pattern=r"^https?://")
    auth: Literal["none", "hmac", "sm"] = "none"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    # 国密 gateway (auth = "sm"): SM4 body key (32 hex), our SM2 key pair, upstream's public key
    sm4_key: SecretStr = SecretStr("")
    sm2_private_key: SecretStr = SecretStr("")
    sm2_public_key: str = ""
    upstream_sm2_public_key: str = ""
    write_timeout_s: float = Field(default=30.0, gt=0)
    recer_sys_code: str = "WIADAPTER"
    infver: str = "V1.0"
    operator_code: str = "SYS"
    operator_name: str = "系统"
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    read_budget_s: float = Field(default=6.0, gt=0)
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""

    @model_validator(mode="after")
    def _credentials_for_auth(self) -> UpstreamSettings:
        needed = {
            "hmac": ("access_key", "secret_key"),
            "sm": ("access_key", "sm4_key", "sm2_private_key", "sm2_public_key"),
        }.get(self.auth, ())
        for name in needed:
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text:
                raise ValueError(f"upstream.{name} is required when upstream.auth = {self.auth!r}")
        return self


class QueueSettings(BaseModel):
    """The upload queue's runtime: how many workers, how often, and when to raise alarms."""

    workers: int = Field(default=2, ge=0, le=32)
    # deliveries each worker keeps going at once: workers × in_flight upstream calls at most
    in_flight: int = Field(default=4, ge=1, le=64)
    poll_seconds: float = Field(default=1.0, gt=0)
    lease_seconds: int = Field(default=120, ge=10)
    at_risk_minutes: int = Field(default=10, ge=1)
    retention_days: int = Field(default=90, ge=1)
    # names this instance's queue workers; unique among instances sharing a database and
    # stable across restarts (start-up takes back the leases its previous run left). Empty:
    # the host name — set it when two instances run on one host.
    instance_id: str = Field(default="", max_length=60)


class PolicySettings(BaseModel):
    """Site policy of the workflows; the defaults follow the articles (N§33, N§34, N§38)."""

    # the discharge record and a device settlement are due this long after settlement (30 min)
    upload_within_minutes: int = Field(default=30, ge=1, le=30)
    # the rehab plan is due "before discharge"; without an expected discharge, this long after
    rehab_plan_upload_within_hours: int = Field(default=24, ge=1)
    # upstream unreachable this long before a stay may go to manual reimbursement for it
    manual_claim_wait_minutes: int = Field(default=30, ge=0)
    fee_batch_size: int = Field(default=100, ge=1, le=1000)
    # admission and discharge times may lie this far in the future (the HIS's clock vs ours)
    clock_skew_minutes: int = Field(default=5, ge=0, le=60)
    # ... and this far back: late registration after an outage or a weekend (N§33)
    late_registration_days: int = Field(default=30, ge=1, le=366)


class ScheduleSettings(BaseModel):
    """``[schedule]`` in adapter.toml (``ADAPTER_SCHEDULE__<KEY>``)."""

    enabled: bool = True
    reconciliation: str = "0 6 3 * *"
    deductions: str = "30 6 5,15,25 * *"
    catalogue_sync: str = "0 2 * * *"
    device_funds_reminder: str = "0 9 * * *"
    catch_up_days: int = Field(default=31, ge=0, le=366)
    retry_minutes: float = Field(default=30, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    device_funds_remind_after_day: int = Field(default=25, ge=1, le=28)
    device_regions: list[str] = Field(default_factory=list)

    @field_validator("reconciliation", "deductions", "catalogue_sync", "device_funds_reminder")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip():
            try:
                CronTrigger.from_crontab(value.strip(), timezone=UTC)
            except ValueError as exc:
                raise ValueError(f"not a cron expression (m h dom mon dow): {exc}") from exc
        return value.strip()


class WebSettings(BaseModel):
    """The pages for clerks and IT (``/web``) and the slip."""

    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=10, ge=1)
    # cookies only over HTTPS: set when a TLS proxy fronts the adapter
    secure_cookies: bool = False
    # a TrueType CJK font for the slip PDF; empty = ADAPTER_SLIP_FONT or the system's
    slip_font: str = ""


class HL7Settings(BaseModel):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2575, ge=1, le=65535)
    allowed_peers: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    # the HIS site profile: does A03 settle at once, fee categories, sending application
    site_profile: str = "config/hl7_site.toml"
    idle_timeout_s: float = Field(default=300.0, gt=0)
    # TLS for MLLP (PEM paths); empty = plain TCP on the hospital LAN
    tls_cert: str = ""
    tls_key: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    institution: InstitutionSettings
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    upstream: UpstreamSettings
    hl7: HL7Settings = Field(default_factory=HL7Settings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
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

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

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
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


def _describe(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    variable = ENV_PREFIX + "__".join(str(part).upper() for part in error["loc"])
    if error["type"] == "missing":
        problem = "is missing"
    elif error["type"] == "extra_forbidden":
        problem = "is not a known setting"
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
    except ValidationError as exc:
        raise SettingsError(_describe(exc.errors()[0])) from exc
