"""The dependency every provider webhook uses: a valid X-Twilio-Signature or 403."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from robocall.config import get_settings
from robocall.telephony.signature import is_valid_signature, public_url_for


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, after checking the signature against the public URL.

    The URL is rebuilt from ROBOCALL_PUBLIC_URL, not from the address this process sees
    behind a proxy, because that is the URL the provider signed.
    """
    settings = get_settings()
    params = await _form_fields(request)
    url = public_url_for(settings.public_url, request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature")
    token = settings.twilio_auth_token.get_secret_value()
    if not is_valid_signature(token, url, params, signature):
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params


# More fields than any provider callback carries: a post beyond it is not from the provider.
MAX_FIELDS = 200


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted fields. Providers post URL-encoded forms, parsed here directly (a step
    webhook runs for every key a caller presses); anything else goes through Starlette."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        form = await request.form()
        return {key: str(value) for key, value in form.multi_items()}
    try:
        body = (await request.body()).decode()
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        detail = "the form is not valid UTF-8 URL-encoded data"
        raise HTTPException(status_code=400, detail=detail) from None
