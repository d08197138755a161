"""The dependency every provider webhook uses: a valid X-Twilio-Signature or 403."""

from __future__ import annotations

from fastapi import HTTPException, Request

from robocall.config import get_settings
from robocall.telephony.signature import is_valid_signature, public_url_for


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, after checking the signature against the public URL.

    The URL is rebuilt from ROBOCALL_PUBLIC_URL, not from the address this process sees
    behind a proxy, because that is the URL the provider signed.
    """
    settings = get_settings()
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    url = public_url_for(settings.public_url, request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature")
    token = settings.twilio_auth_token.get_secret_value()
    if not is_valid_signature(token, url, params, signature):
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params
