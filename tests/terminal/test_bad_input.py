"""Bad requests get an abnormal-end result (SegmentOfResult 9) naming the problem, and the terminal
goes on answering."""

import pytest

from tests.terminal.conftest import field, individual_request

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<XmlMsg><MessageHeader>&lol3;</MessageHeader><MessageBody/></XmlMsg>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<XmlMsg><MessageHeader><MedicalInstitutionCode>&secret;</MedicalInstitutionCode></MessageHeader>
<MessageBody/></XmlMsg>"""


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("OQSsiquc01req_text.xml", "this is not XML</XmlMsg>", "XML_MALFORMED"),
        ("OQSsiquc01req_root.xml", "<Other><A/></Other>", "XML_ROOT_INVALID"),
        ("OQSsiquc01req_missing.xml", individual_request().replace("<Birthdate>19800501</Birthdate>", ""), "FIELD_MISSING"),
        ("OQSsiquc01req_date.xml", individual_request(birth="1980-05-01"), "FIELD_INVALID"),
        ("OQSsiquc01req_digit.xml", individual_request(insurer="06139993"), "FIELD_INVALID"),
        ("OQSsiquc01req_other.xml", individual_request(institution="1311234568"), "INSTITUTION_MISMATCH"),
        ("ABCxxxxx01req_what.xml", individual_request(), "UNKNOWN_MESSAGE"),
        ("OQSsiquc01req_bomb.xml", BOMB, "XML_FORBIDDEN"),
        ("OQSsiquc01req_entity.xml", EXTERNAL, "XML_FORBIDDEN"),
        ("OQSsiquc01req_latin.xml", individual_request(encoding="ISO-8859-1"), "ENCODING_UNSUPPORTED"),
    ],
)  # fmt: skip
def test_a_bad_request_gets_an_abnormal_end_and_the_terminal_goes_on(terminal, name, content, code):
    result = terminal.exchange(name, content)
    assert field(result, "SegmentOfResult") == "9"
    assert field(result, "ErrorCode") == code
    assert field(result, "ErrorMessage")
    good = terminal.exchange("OQSsiquc01req_after.xml", individual_request())
    assert field(good, "QualificationValidity") == "1"
    assert not (terminal.req / name).exists()  # answered requests leave the folder


def test_a_file_too_large_is_refused_unread(terminal):
    padding = "<!-- " + "x" * (17 << 20) + " -->"
    result = terminal.exchange("OQSsiquc01req_big.xml", individual_request() + padding)
    assert (field(result, "SegmentOfResult"), field(result, "ErrorCode")) == ("9", "FILE_TOO_LARGE")


def test_invalid_utf8_is_named(terminal):
    content = individual_request().encode("utf-8").replace(b"12-34", b"\xff\xfe")
    result = terminal.exchange("OQSsiquc01req_bytes.xml", content)
    assert field(result, "ErrorCode") == "ENCODING_INVALID"
