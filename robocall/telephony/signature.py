"""Twilio request signatures (X-Twilio-Signature), for webhooks and for the simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_url_for(public_url: str, path: str, query: str = "") -> str:
    """The URL the provider called, rebuilt from the configured public address."""
    url = public_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def is_valid_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether `signature` is Twilio's for this URL and form."""
    if not signature or not signature.isascii():
        # A signature is base64; anything else is not one (and hmac.compare_digest refuses
        # non-ASCII text with a TypeError, which would answer 500 instead of 403).
        return False
    if hmac.compare_digest(_signature_for(auth_token, url, params), signature):
        return True
    # Twilio signs with or without the default port (:443) depending on the product; its
    # validator tries both. The exact URL above is the common case and costs one HMAC.
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def _signature_for(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """HMAC-SHA1 of the URL followed by each field's name and value, sorted by name."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
