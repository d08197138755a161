import shutil

from robocall.config import PROJECT_ROOT
from robocall.content import check
from robocall.sms.templates import list_templates, load_template, render_sms
from robocall.telephony.segments import Encoding

VALUES = {
    "name": "Nguyễn Thị Hoà",
    "household_names": "",
    "day": 3,
    "monitoring_days": 14,
    "end_date": "15/08/2021",
    "centre": "TTYT Thủ Đức",
    "hotline": "028 3896 6699",
    "bluezone_url": "https://bluezone.gov.vn",
}


def test_bundled_templates_render_in_nfc_with_the_contact_fields():
    assert {"f0_care", "returnee", "bluezone_link", "f1_unreached"} <= set(list_templates())
    sms = render_sms(load_template("f0_care"), VALUES)
    assert sms.body.startswith("TTYT Thủ Đức: Ngày 3/14 theo dõi tại nhà của Nguyễn Thị Hoà.")
    assert "\n" not in sms.body and "  " not in sms.body
    assert sms.info.encoding is Encoding.ucs2
    assert sms.info.segments == -(-(sms.info.units) // 67)


def test_a_gsm7_template_goes_without_diacritics():
    sms = render_sms(load_template("returnee"), VALUES)
    assert sms.body.startswith("TTYT Thu Duc: Chao Nguyen Thi Hoa, ong/ba vua ve tu vung co dich.")
    assert sms.info.encoding is Encoding.gsm7
    forced = render_sms(load_template("f0_care"), VALUES, gsm7=True)
    assert forced.info.encoding is Encoding.gsm7
    assert forced.info.segments < render_sms(load_template("f0_care"), VALUES).info.segments


def test_household_names_replace_the_single_name():
    sms = render_sms(load_template("f1_unreached"), VALUES | {"household_names": "An, Bình và Chi"})
    assert "đã gọi cho An, Bình và Chi nhưng" in sms.body


def test_content_check_names_the_line_of_an_unknown_variable(tmp_path):
    root = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "sms", root / "sms")
    for folder in ("ivr_flows", "campaigns", "importers"):
        (root / folder).mkdir()
    (root / "sms" / "bad.yaml").write_text(
        "version: 1\ntext:\n  vi: Chào {{ ten }}\n  en: Hello {{ name }\nextra: 1\n",
        encoding="utf-8",
    )
    (root / "sms" / "keywords.yaml").write_text(
        "version: 1\noptout: [STOP, HUY]\noptin: [START, huy]\nhelp: [HELP]\n", encoding="utf-8"
    )
    messages = [str(p) for p in check(root) if p.file.startswith("sms/")]
    assert "sms/bad.yaml:3: undefined variable 'ten' in the vi text" in messages
    assert any(m.startswith("sms/bad.yaml:4: template syntax") for m in messages)
    assert any(m.startswith("sms/bad.yaml:5: unknown key 'extra'") for m in messages)
    assert "sms/keywords.yaml:3: keyword 'HUY' already in `optout` (line 2)" in messages
