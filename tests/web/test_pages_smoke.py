from __future__ import annotations

from robocall.users.models import Role
from tests.web.conftest import World
from tests.web.helpers import signed_in_client


def test_every_page_renders_for_an_administrator(session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    for path in [
        "/",
        "/?lang=en",
        "/upload",
        "/campaigns",
        "/campaigns/new",
        "/campaigns/new?lang=en",
        "/contacts",
        "/contacts?q=An",
        f"/contacts/{world.trung_contact}",
        "/reports",
        f"/reports/{world.trung_urgent}",
        "/exports",
        "/opt-outs",
        "/admin/users",
        "/admin/audit",
    ]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:2000])
