"""The provider webhooks: a FastAPI application of their own, mounted at /webhooks/twilio.

Outside the web UI's application, so none of its session cookie, sign-in or body-limit
middleware runs for them: a webhook is known by the provider's signature alone, checked by
a dependency of every route (`signed_form`: 403 without a correct X-Twilio-Signature; the
body is limited there, to `MAX_BODY`). Each endpoint is a plain `def` run in the
threadpool, on a session committed before the answer is sent. Errors are JSON.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from robocall.ivr import routes as ivr_routes
from robocall.telephony import routes as telephony_routes
from robocall.telephony.webhook_auth import signed_form


def webhooks_app() -> FastAPI:
    """The application answering the provider's webhooks (one route per event)."""
    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(signed_form)]
    )
    app.include_router(ivr_routes.router)
    app.include_router(telephony_routes.router)
    return app
