"""A running ``eligsim terminal`` process over real folders, on a registry shared with an in-process
API (for card visits and consents), and the people of every validity code."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import (  # noqa: F401  (fixtures)
    CLINIC,
    app,
    card,
    client,
    environment,
    jpki_dir,
    keys,
    person,
    registry,
)
from tests.registry.conftest import BASE_RECORD, qualification


def record(**overrides) -> dict:
    return copy.deepcopy(BASE_RECORD) | overrides


@pytest.fixture
def people(registry, person):
    """Besides the sample person (valid): a job changer, twins on a card without branch, a lost
    qualification."""
    records = [
        record(
            name="転職 花子",
            birth_date="1985-03-03",
            qualifications=[
                qualification("06139992:77:1:01", "2015-04-01", "2024-07-01", "03"),
                qualification("01130012:99:1234:00", "2024-07-01"),
            ],
            medications=[],
        ),
        *(
            record(
                name=name,
                birth_date="2012-06-01",
                qualifications=[qualification(number, "2012-06-01", relationship="family")],
                medications=[],
            )
            for name, number in (("鈴木 一", "01270016:5:42:02"), ("鈴木 二", "01270016:5:42:03"))
        ),
        record(
            name="喪失 次郎",
            birth_date="1940-01-01",
            qualifications=[qualification("39131008::7:00", "2020-01-01", "2023-02-01", "01")],
            medications=[],
        ),
    ]
    with registry.begin() as conn:
        for each in records:
            upsert_record(conn, PERSON_RECORD.load(each))


@dataclass
class RunningTerminal:
    process: subprocess.Popen
    root: Path
    env: dict[str, str]

    @property
    def req(self) -> Path:
        return self.root / "req"

    @property
    def res(self) -> Path:
        return self.root / "res"

    def drop(self, name: str, content: str | bytes, encoding: str = "utf-8") -> None:
        """Write a request the way a client does: straight into the folder."""
        data = content.encode(encoding) if isinstance(content, str) else content
        (self.req / name).write_bytes(data)

    def result(self, name: str, timeout: float = 15.0) -> ET.Element:
        return ET.fromstring(self.result_bytes(name, timeout))

    def result_bytes(self, name: str, timeout: float = 15.0) -> bytes:
        path = self.res / name
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the terminal stopped: {self.log()}")
            assert time.monotonic() < deadline, f"no {name} after {timeout} s"
            time.sleep(0.02)
        return path.read_bytes()

    def exchange(self, name: str, content: str | bytes, encoding: str = "utf-8") -> ET.Element:
        self.drop(name, content, encoding)
        return self.result(name.replace("01req", "01res").replace("02req", "02res"))

    def log(self) -> str:
        return (self.root / "terminal.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=15)


def start_terminal(root: Path, env: dict[str, str], *options: str) -> RunningTerminal:
    """``eligsim terminal`` for the clinic over ``root/req`` and ``root/res``, once it listens."""
    full_env = {**os.environ, **env}
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "terminal",
        "--req",
        str(root / "req"),
        "--res",
        str(root / "res"),
        "--institution",
        CLINIC,
        "--settle",
        "0.5",
        *options,
    ]
    root.mkdir(parents=True, exist_ok=True)
    log = root / "terminal.log"
    with log.open("a") as output:
        process = subprocess.Popen(command, env=full_env, stderr=output, stdout=subprocess.DEVNULL)
    running = RunningTerminal(process, root, env)
    deadline = time.monotonic() + 30
    while "terminal of" not in running.log():
        assert process.poll() is None and time.monotonic() < deadline, running.log()
        time.sleep(0.05)
    return running


@pytest.fixture
def terminal(tmp_path, environment, keys, people):
    running = start_terminal(tmp_path / "folders", environment)
    yield running
    running.stop()
    assert running.process.returncode == 0


def field(root: ET.Element, name: str) -> str | None:
    found = root.find(f".//{name}")
    return None if found is None else found.text


def individual_request(
    insurer: str = "06139992",
    symbol: str = "12-34",
    number: str = "5678",
    branch: str | None = "01",
    birth: str = "19800501",
    limit_consent: str = "0",
    institution: str = CLINIC,
    encoding: str = "UTF-8",
) -> str:
    branch_element = f"<InsuredBranchNumber>{branch}</InsuredBranchNumber>" if branch else ""
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        "<XmlMsg><MessageHeader>"
        "<QualificationConfirmationDate>20240901</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{institution}</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>F001</ArbitraryFileIdentifier>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{insurer}</InsurerNumber><InsuredCardSymbol>{symbol}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>{branch_element}"
        f"<Birthdate>{birth}</Birthdate>"
        f"<LimitApplicationCertificateRelatedConsFlg>{limit_consent}"
        "</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n"
    )
