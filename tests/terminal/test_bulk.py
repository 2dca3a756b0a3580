"""Bulk pre-check (OQSmuquc01req → reception number, OQSmuquc02req → per-line results) on the same
batch machinery as the API: in process, on RQ (still running: SegmentOfResult 2), across a restart."""

import time

from sqlalchemy import text

from tests.api.conftest import redis_url, rq_environment  # noqa: F401  (fixtures)
from tests.api.workers import start_worker
from tests.terminal.conftest import CLINIC, field, start_terminal

LINE = (
    "<QualificationConfirmSearchInfo><InsurerNumber>{insurer}</InsurerNumber>"
    "<InsuredCardSymbol>{symbol}</InsuredCardSymbol>"
    "<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>"
    "<InsuredBranchNumber>{branch}</InsuredBranchNumber><Birthdate>{birth}</Birthdate>"
    "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>"
    "<ArbitraryIdentifier>{id}</ArbitraryIdentifier></QualificationConfirmSearchInfo>"
)
SAMPLE = {"insurer": "06139992", "symbol": "12-34", "number": "5678", "branch": "01", "birth": "19800501"}  # fmt: skip
UNKNOWN = {**SAMPLE, "number": "0000"}


def submission(lines: list[dict]) -> str:
    body = "".join(LINE.format(id=f"P{i:05d}", **line) for i, line in enumerate(lines))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
        "<QualificationConfirmationDate>20240901</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>BULK</ArbitraryFileIdentifier></MessageHeader>"
        f"<MessageBody>{body}</MessageBody></XmlMsg>"
    )


def inquiry(number: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
        f"<MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode></MessageHeader>"
        f"<MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
    )


def results_until(terminal, number: str, segment: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    for attempt in range(100_000):
        result = terminal.exchange(f"OQSmuquc02req_{number}_{attempt}.xml", inquiry(number))
        if field(result, "SegmentOfResult") == segment:
            return result
        assert time.monotonic() < deadline, f"still {field(result, 'SegmentOfResult')}"
        time.sleep(0.1)
    raise AssertionError("unreachable")


def test_bulk_pre_check_answers_every_line(terminal):
    accepted = terminal.exchange("OQSmuquc01req_1.xml", submission([SAMPLE, UNKNOWN, SAMPLE]))
    number = field(accepted, "ReceptionNumber")
    assert number and len(field(accepted, "ReceptionDateTime")) == 14
    result = results_until(terminal, number, "1")
    counts = [field(result, name) for name in ("NumberOfProcessingResult", "NumberOfNormalProcessing", "NumberOfError")]  # fmt: skip
    assert counts == ["3", "2", "1"]
    units = result.findall(".//BulkConfirmUnit")
    assert [field(unit, "ArbitraryIdentifier") for unit in units] == ["P00000", "P00001", "P00002"]
    assert [field(unit, "QualificationValidity") for unit in units] == ["1", "4", "1"]
    assert [field(unit, "ReferenceNumber") for unit in units] == ["1", "2", "3"]


def test_while_no_worker_runs_the_result_says_in_progress(tmp_path, rq_environment, keys, people):
    terminal = start_terminal(tmp_path / "rq", rq_environment)
    try:
        accepted = terminal.exchange("OQSmuquc01req_rq.xml", submission([SAMPLE, UNKNOWN]))
        number = field(accepted, "ReceptionNumber")
        waiting = terminal.exchange("OQSmuquc02req_rq.xml", inquiry(number))
        assert (field(waiting, "SegmentOfResult"), field(waiting, "NumberOfProcessingResult")) == (
            "2",
            "0",
        )
        worker = start_worker(rq_environment, "--burst")
        assert worker.wait(timeout=120) == 0
        done = results_until(terminal, number, "1")
        assert field(done, "NumberOfProcessingResult") == "2"
    finally:
        terminal.stop()


def test_a_restart_in_the_middle_loses_and_repeats_nothing(
    tmp_path, environment, keys, people, registry
):
    folders = tmp_path / "restart"
    terminal = start_terminal(folders, environment)
    accepted = terminal.exchange("OQSmuquc01req_big.xml", submission([SAMPLE] * 3000))
    number = field(accepted, "ReceptionNumber")
    results_until(terminal, number, "2")
    deadline = time.monotonic() + 30
    while _answered(registry, number) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    terminal.stop(kill=True)  # the in-process jobs die with it
    assert _answered(registry, number) < 3000
    terminal = start_terminal(folders, environment)
    try:
        done = results_until(terminal, number, "1", timeout=120)
    finally:
        terminal.stop()
    assert field(done, "NumberOfNormalProcessing") == "3000"
    with registry.connect() as conn:
        audited = conn.exec_driver_sql(
            "SELECT count(*) FROM audit_log WHERE action = 'batch_check'"
        ).scalar_one()
    assert audited == 3000  # each line answered (and audited) exactly once


def _answered(registry, number: str) -> int:
    with registry.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM batch_items"
                " WHERE reception_number = :number AND result IS NOT NULL"
            ),
            {"number": number},
        ).scalar_one()
