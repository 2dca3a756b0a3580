"""The folders as clients use them: UTF-8 and Shift_JIS, a request written slowly, a restart with
requests waiting, exactly-once answers, polling for shares without change notification."""

import re
import shutil
import time
import xml.etree.ElementTree as ET

from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.registry.conftest import qualification
from tests.terminal.conftest import field, individual_request, record, start_terminal


def test_a_shift_jis_request_gets_a_shift_jis_result(terminal):
    content = individual_request(encoding="Shift_JIS")
    terminal.drop("OQSsiquc01req_sjis.xml", content, encoding="shift_jis")
    data = terminal.result_bytes("OQSsiquc01res_sjis.xml")
    assert data.startswith(b'<?xml version="1.0" encoding="Shift_JIS"?>')
    result = ET.fromstring(data.decode("shift_jis").split("?>", 1)[1])
    assert field(result, "CharacterCodeIdentifier") == "1"
    assert field(result, "Name") == "山田 太郎"
    assert field(result, "NameKana") == "ﾔﾏﾀﾞ ﾀﾛｳ"


def test_characters_outside_shift_jis_travel_as_character_references(terminal, registry):
    rare = "𠮷田 太郎"  # 𠮷 is not in JIS X 0208
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(record(name=rare, qualifications=[qualification("06139992:12-34:9999:01", "2015-04-01", name=rare)])))  # fmt: skip
    content = individual_request(number="9999", encoding="Shift_JIS")
    terminal.drop("OQSsiquc01req_rare.xml", content, encoding="shift_jis")
    data = terminal.result_bytes("OQSsiquc01res_rare.xml")
    assert b"&#134071;" in data  # U+20BB7, lossless
    result = ET.fromstring(data.decode("shift_jis").split("?>", 1)[1])
    assert field(result, "Name") == rare


def test_a_request_written_slowly_is_answered_once_complete(terminal):
    content = individual_request().encode("utf-8")
    path = terminal.req / "OQSsiquc01req_slow.xml"
    with path.open("wb") as handle:
        for start in range(0, len(content), 64):
            handle.write(content[start : start + 64])
            handle.flush()
            time.sleep(0.1)
            if start + 64 < len(content):
                assert not (terminal.res / "OQSsiquc01res_slow.xml").exists()
    result = terminal.result("OQSsiquc01res_slow.xml")
    assert field(result, "QualificationValidity") == "1"
    time.sleep(1.0)
    assert terminal.log().count("OQSsiquc01req_slow.xml") == 1


def test_requests_waiting_at_start_are_answered_and_answered_ones_are_not_repeated(
    tmp_path, environment, keys, people
):
    folders = tmp_path / "folders"
    first = start_terminal(folders, environment)
    first.exchange("OQSsiquc01req_done.xml", individual_request())
    first.stop()
    (answered,) = list(tmp_path.rglob("archive/OQSsiquc01req_done.xml"))
    shutil.copy(answered, folders / "req" / "OQSsiquc01req_done.xml")  # a crash before archiving
    (folders / "res" / "OQSsiquc01res_done.xml").unlink()
    (folders / "req" / "OQSsiquc01req_new.xml").write_text(individual_request(), encoding="utf-8")
    second = start_terminal(folders, environment)
    try:
        assert field(second.result("OQSsiquc01res_new.xml"), "QualificationValidity") == "1"
        time.sleep(1.0)
        assert not (folders / "res" / "OQSsiquc01res_done.xml").exists()
        assert not (folders / "req" / "OQSsiquc01req_done.xml").exists()
    finally:
        second.stop()


def test_polling_answers_where_change_notification_does_not_work(
    tmp_path, environment, keys, people
):
    terminal = start_terminal(tmp_path / "share", environment, "--poll", "0.2")
    try:
        result = terminal.exchange("OQSsiquc01req_poll.xml", individual_request())
        assert field(result, "QualificationValidity") == "1"
        assert "polling every 0.2 s" in terminal.log()
    finally:
        terminal.stop()


def test_results_appear_whole(terminal):
    """A reader listing the folder never sees a partial file: only complete results by their name."""
    for n in range(20):
        terminal.drop(f"OQSsiquc01req_w{n}.xml", individual_request())
    seen_partial = False
    deadline = time.monotonic() + 20
    while len(list(terminal.res.glob("OQSsiquc01res_w*.xml"))) < 20:
        for path in terminal.res.glob("OQSsiquc01res_w*.xml"):
            data = path.read_bytes()
            seen_partial |= not re.search(rb"</XmlMsg>\s*$", data)
        assert time.monotonic() < deadline
    assert not seen_partial
