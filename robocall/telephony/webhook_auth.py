"""The provider's signature on a webhook (X-Twilio-Signature), checked by a dependency."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request

from robocall.config import get_settings
from robocall.telephony.signature import is_valid_signature, public_url_for

# More fields than any provider callback carries: a post beyond it is not from the provider.
MAX_FIELDS = 200
# A provider's post is a few kilobytes at most (a long speech transcript included).
MAX_BODY = 64 * 1024  # bytes


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, after checking the signature against the public URL (403).

    The URL is rebuilt from ROBOCALL_PUBLIC_URL and the path as requested, not from the
    address this process sees behind a proxy, because that is the URL the provider signed.
    """
    settings = get_settings()
    params = await _form_fields(request)
    scope = request.scope
    path = scope.get("raw_path") or scope["path"].encode()  # as the provider requested it
    query = scope.get("query_string", b"")
    url = public_url_for(settings.public_url, path.decode("latin-1"), query.decode("latin-1"))
    signature = request.headers.get("X-Twilio-Signature")
    token = settings.twilio_auth_token.get_secret_value()
    if not is_valid_signature(token, url, params, signature):
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params


# An endpoint's parameter: the form, correctly signed (else 403 before the endpoint runs).
SignedForm = Annotated[dict[str, str], Depends(signed_form)]


def query_int(request: Request, name: str) -> int | None:
    """A whole-number query parameter of a webhook's URL (None when absent), or 422."""
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        detail = f"query parameter {name} must be a whole number, not {value!r}"
        raise HTTPException(status_code=422, detail=detail) from None


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted fields. Providers post URL-encoded forms; any other body is refused (415),
    and one over MAX_BODY bytes is refused as it arrives (413)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        detail = "a webhook takes an application/x-www-form-urlencoded form"
        raise HTTPException(status_code=415, detail=detail)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(status_code=413, detail=f"the body is over {MAX_BODY} bytes")
    try:
        text = body.decode()
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        detail = "the form is not valid UTF-8 URL-encoded data"
        raise HTTPException(status_code=400, detail=detail) from None
