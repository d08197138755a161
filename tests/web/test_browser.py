"""The web UI in headless Chromium: sign in, upload and confirm a list, run a campaign to it
against the simulator, acknowledge an urgent report, download workbooks; a commune user sees
nothing of another commune."""

from __future__ import annotations

import re
import threading
from typing import Any

from python_calamine import CalamineWorkbook
from sqlalchemy import select

from robocall.hotline.models import HotlineReport, ReportStatus
from robocall.runner import run_until_done, use_simulator
from robocall.users.models import AuditEntry, Role
from tests.campaigns.conftest import campaign_process  # noqa: F401  (wires campaigns in)
from tests.importers.helpers import FIXTURES
from tests.web.conftest import LINH_TRUNG, World
from tests.web.helpers import add_user, browser_login, chromium, running_worker, served_app

TIMEOUT = 20_000  # ms
PERSONAS = """
version: 1
default: {answer: 0.0, no_answer: 1.0, seed: 1}
numbers:
  "+84933000001": [{answer: human, press: "1 2 2 2 2 2 2 1"}]
"""


def run_campaign_in_background(campaign_id: int) -> tuple[threading.Thread, dict[str, Any]]:
    """The scheduler's tick and workers for one campaign, as `campaign run --until-done` does."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["final"] = run_until_done(campaign_id=campaign_id, timeout=90)
        except Exception as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_staff_work_through_the_browser(
    session, world: World, redis_url, tmp_path, chromium_executable
):
    personas = tmp_path / "personas.yaml"
    personas.write_text(PERSONAS, encoding="utf-8")
    use_simulator(personas=personas, time_factor=0.001, cps=100)
    add_user(session, "quantri", Role.admin, None)
    add_user(session, "linhtrung", Role.commune, LINH_TRUNG)
    with (
        served_app() as base,
        running_worker(["imports", "exports"]),
        chromium(chromium_executable) as browser,
    ):
        admin = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = admin.new_page()
        page.set_default_timeout(TIMEOUT)
        browser_login(page, base, "quantri")
        assert page.locator("h1").inner_text() == "Tổng quan"
        assert page.locator("#situation").is_visible()

        # Upload a list: preview its columns and rows, confirm, follow the import, get the report.
        page.click("nav.main >> text=Tải danh sách")
        page.set_input_files("input[name=file]", str(FIXTURES / "list_utf8.csv"))
        page.select_option("select[name=unit]", LINH_TRUNG)
        page.select_option("select[name=classification]", "F1")
        page.click("#upload-form button[type=submit]")
        assert "3 dòng: 3 người mới" in page.locator("#preview-summary").inner_text()
        columns = page.locator("table.columns").inner_text()
        assert "Họ tên" in columns and "phone" in columns
        assert "Nguyễn Thị Ánh" in page.locator("table.rows").inner_text()
        page.click("#confirm-import")
        page.wait_for_selector("#import-done")
        assert "3 người mới" in page.locator("#import-done").inner_text()
        with page.expect_download() as report_download:
            page.click("#import-report")
        report = report_download.value
        assert report.suggested_filename.endswith("-report.xlsx")
        CalamineWorkbook.from_path(report.path())  # a workbook that opens

        page.goto(f"{base}/contacts?q=Ánh")
        assert "Nguyễn Thị Ánh" in page.locator("#contacts").inner_text()

        # A campaign to the uploaded list: create it from a preset, see the SMS cost, start it,
        # watch it finish (the page follows it without reloading), download its workbook.
        page.click("nav.main >> text=Chiến dịch")
        page.click("#new-campaign")
        page.select_option("select[name=preset]", "f1_tracing_call")
        page.fill("input[name=name]", "Gọi F1 danh sách mới")
        page.select_option("select[name=unit]", LINH_TRUNG)
        page.select_option("select[name=batch]", index=1)  # the list just uploaded
        page.fill("input[name=window]", "00:00-24:00")
        page.fill("input[name=cps]", "20")
        page.fill("input[name=max_attempts]", "2")
        page.fill("input[name=retry_delay]", "50ms")
        page.click("#create-campaign")
        page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
        campaign_id = int(page.url.rsplit("/", 1)[1])
        assert int(page.locator("#sms-messages").inner_text()) >= 1
        assert "đ" in page.locator("#sms-cost").inner_text()
        page.click("#campaign-start")
        page.wait_for_url(f"{base}/campaigns/{campaign_id}")
        assert page.locator("#campaign-status").inner_text() == "Đang chạy"
        runner, outcome = run_campaign_in_background(campaign_id)
        page.wait_for_selector('#campaign-status[data-status="completed"]', timeout=90_000)
        runner.join(timeout=30)
        assert "error" not in outcome, outcome
        assert page.locator("#campaign-status").inner_text() == "Hoàn thành"
        assert (
            page.locator("#campaign-done").inner_text()
            == page.locator("#campaign-targets").inner_text()
        )
        with page.expect_download() as campaign_download:
            page.click("#campaign-workbook")
        assert campaign_download.value.suggested_filename.startswith(f"campaign-{campaign_id}-")
        workbook = CalamineWorkbook.from_path(campaign_download.value.path())
        assert workbook.sheet_names == [
            "Tổng hợp",
            "Cuộc gọi",
            "Chưa liên lạc được",
            "Triệu chứng",
            "Tin nhắn",
        ]
        called = {r[1] for r in workbook.get_sheet_by_name("Cuộc gọi").to_python()[1:]}
        assert "Nguyễn Thị Ánh" in called
        totals = workbook.get_sheet_by_name("Tổng hợp").to_python()
        assert totals[-1][0] == "Tổng cộng" and totals[-1][3] >= 1  # Ánh answered

        # Urgent reports first; acknowledge one.
        page.click("nav.main >> text=Phản ánh")
        first = page.locator("#reports tr").nth(1)
        assert "urgent" in (first.get_attribute("class") or "")
        row = page.locator(f"#report-{world.trung_urgent}")
        row.locator("button.acknowledge").click()
        page.wait_for_url(f"{base}/reports/{world.trung_urgent}")
        assert page.locator("#report-status").inner_text() == "Đã xác nhận"
        assert page.locator("audio").get_attribute("src") == "https://recordings.example/RE1.mp3"

        # Download a workbook from the exports page, prepared by the worker.
        page.click("nav.main >> text=Xuất dữ liệu")
        page.click("#export-contacts button.prepare-xlsx")
        page.wait_for_selector("#export-file")
        with page.expect_download() as export_download:
            page.click("#export-file")
        assert export_download.value.suggested_filename.startswith("contacts-")
        workbook = CalamineWorkbook.from_path(export_download.value.path())
        assert workbook.sheet_names == ["Danh sách"]
        names = [r[1] for r in workbook.get_sheet_by_name("Danh sách").to_python()[1:]]
        assert "Nguyễn Thị Ánh" in names and "Lê Thị Bình" in names

        # English on request.
        page.goto(f"{base}/?lang=en")
        assert page.locator("h1").inner_text() == "Dashboard"
        admin.close()

        # A commune user: nothing of Linh Chiểu, in pages or in the API.
        commune = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        page = commune.new_page()
        page.set_default_timeout(TIMEOUT)
        browser_login(page, base, "linhtrung")
        assert page.locator("nav.main >> text=Tài khoản").count() == 0
        page.goto(f"{base}/contacts")
        listed = page.locator("#contacts").inner_text()
        assert "Nguyễn Văn An" in listed and "Lê Thị Bình" not in listed
        response = page.goto(f"{base}/contacts/{world.chieu_contact}")
        assert response.status == 404 and "Lê Thị Bình" not in page.content()
        page.goto(f"{base}/reports")
        assert page.locator(f"#report-{world.chieu_report}").count() == 0
        assert page.locator(f"#report-{world.trung_report}").count() == 1
        assert page.goto(f"{base}/reports/{world.chieu_report}").status == 404
        api = commune.request
        names = [c["name"] for c in api.get(f"{base}/api/contacts").json()["items"]]
        assert "Nguyễn Văn An" in names and "Lê Thị Bình" not in names
        assert api.get(f"{base}/api/contacts/{world.chieu_contact}").status == 404
        assert api.get(f"{base}/api/reports/{world.chieu_report}").status == 404
        ids = [r["id"] for r in api.get(f"{base}/api/reports").json()["items"]]
        assert world.chieu_report not in ids and world.trung_urgent in ids
        commune.close()

    session.expire_all()
    assert session.get(HotlineReport, world.trung_urgent).status is ReportStatus.acknowledged
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {
        "import.create",
        "campaign.create",
        "campaign.start",
        "report.acknowledge",
        "export.download",
    } <= actions
