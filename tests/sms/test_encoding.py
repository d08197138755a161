from hypothesis import given
from hypothesis import strategies as st

from robocall.sms.encoding import to_gsm7
from robocall.telephony.segments import GSM7_BASIC, GSM7_EXTENSION, Encoding, segment_info


def test_plain_ascii_is_gsm7_up_to_160_in_one_part():
    assert segment_info("a" * 160) == segment_info("a" * 160)
    info = segment_info("a" * 160)
    assert (info.encoding, info.units, info.segments) == (Encoding.gsm7, 160, 1)
    assert segment_info("a" * 161).segments == 2
    assert segment_info("a" * 306).segments == 2
    assert segment_info("a" * 307).segments == 3


def test_extension_characters_take_two_septets_and_are_not_split():
    info = segment_info("€" * 80)
    assert (info.encoding, info.units, info.segments) == (Encoding.gsm7, 160, 1)
    assert segment_info("€" * 81).segments == 2
    # 152 plain + "€" would straddle the 153 boundary: the pair moves to the next part.
    assert segment_info("a" * 152 + "€" + "a" * 152).segments == 3


def test_vietnamese_with_diacritics_is_ucs2_70_and_67():
    text = "Trung tâm Y tế quận thông báo"
    info = segment_info(text)
    assert info.encoding is Encoding.ucs2
    assert segment_info("ạ" * 70).segments == 1
    assert segment_info("ạ" * 71).segments == 2
    assert segment_info("ạ" * 134).segments == 2
    assert segment_info("ạ" * 135).segments == 3


def test_emoji_count_as_two_units_and_stay_whole():
    assert segment_info("😷" * 35).units == 70
    assert segment_info("😷" * 35).segments == 1
    assert segment_info("😷" * 36).segments == 2
    # 134 units would fit two parts of 67, but the pair may not straddle the boundary.
    assert segment_info("ă" * 66 + "😷" + "ă" * 66).segments == 3


def test_stripping_diacritics_gives_gsm7():
    text = "Đề nghị ông/bà ở nhà, đeo khẩu trang – gọi 1900 9095 nếu khó thở."
    plain = to_gsm7(text)
    assert plain == "De nghi ong/ba o nha, deo khau trang - goi 1900 9095 neu kho tho."
    assert segment_info(plain).encoding is Encoding.gsm7


@given(
    st.text(
        alphabet=st.sampled_from(sorted(set(GSM7_BASIC + GSM7_EXTENSION) - {"\x1b"})), max_size=400
    )
)
def test_gsm7_segments_hold_the_text(text):
    info = segment_info(text)
    assert info.encoding is Encoding.gsm7
    assert info.segments * (160 if info.segments == 1 else 153) >= info.units


@given(st.text(max_size=300))
def test_any_text_gets_an_answer(text):
    info = segment_info(text)
    assert info.segments >= (1 if text else 0)
    assert segment_info(to_gsm7(text)).units >= 0
