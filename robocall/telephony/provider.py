"""The provider this process uses, chosen by ROBOCALL_TELEPHONY."""

from __future__ import annotations

import threading
from collections.abc import Callable

from robocall.config import get_settings
from robocall.telephony.base import TelephonyProvider

_lock = threading.Lock()
_provider: TelephonyProvider | None = None
# Where the simulator answers when ROBOCALL_SIMULATOR_URL is not set: the composition root
# (`robocall.runtime`) hands in one that starts the in-process simulator on first use.
_simulator_url: Callable[[], str] | None = None


def set_simulator_url(source: Callable[[], str] | None) -> None:
    """Use `source()` as the simulator's URL when the settings give none."""
    global _simulator_url
    _simulator_url = source


def get_provider() -> TelephonyProvider:
    """Twilio, or the simulator through the same adapter (its URL, or one started in-process)."""
    global _provider
    with _lock:
        if _provider is None:
            _provider = _make_provider()
        return _provider


def load_provider_modules() -> None:
    """Import the provider's client now (its modules load lazily, on the first request)."""
    from robocall.telephony.twilio_provider import load_client_modules

    load_client_modules()


def reset_provider() -> None:
    """Forget this process's provider (after settings change; tests)."""
    global _provider
    with _lock:
        _provider = None


def _make_provider() -> TelephonyProvider:
    from robocall.telephony.twilio_provider import TwilioProvider

    settings = get_settings()
    base_url: str | None = None
    if settings.telephony == "simulator":
        base_url = settings.simulator_url
        if not base_url:
            if _simulator_url is None:
                raise RuntimeError(
                    "ROBOCALL_TELEPHONY=simulator needs ROBOCALL_SIMULATOR_URL, or a process "
                    "wired by robocall.runtime (which starts one in-process)"
                )
            base_url = _simulator_url()
    return TwilioProvider(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        api_base_url=base_url,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        request_timeout_seconds=settings.telephony_request_timeout,
        create_tries=settings.telephony_create_tries,
        retry_backoff_seconds=settings.telephony_retry_backoff,
    )
