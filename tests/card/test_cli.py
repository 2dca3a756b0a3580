"""``eligsim card`` against a SQLite registry holding one person, with in-process virtual cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from app.cli import main
from app.database import migrate
from card_reader.authority import Authority
from card_reader.card_file import load_card
from card_reader.face_reader import KEY_FILE
from card_reader.issuance import auth_certificate
from payer_registry.card_links import person_for_card
from payer_registry.db import Registry
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.registry.conftest import BASE_RECORD

NUMBER = BASE_RECORD["qualifications"][0]["insured_number"]


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("ELIGSIM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ELIGSIM_JPKI_DIR", raising=False)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    registry = Registry(url)
    migrate(registry)
    with registry.begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
    return registry


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["card", *args])
    return result.exit_code, result.stdout, result.stderr


def linked_name(registry: Registry, cert: x509.Certificate) -> str | None:
    with registry.begin() as conn:
        person = person_for_card(conn, cert.issuer.rfc4514_string(), cert.serial_number)
    return person.name if person else None


def test_issue_read_bench_renew_revoke(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "taro.card"
    code, out, _ = run("issue", NUMBER, "--pin", "1234", "--out", str(path))
    assert code == 0, out
    assert path.stat().st_mode & 0o777 == 0o600
    first = auth_certificate(load_card(path))
    assert f"{first.serial_number:X}" in out
    assert linked_name(registry, first) == BASE_RECORD["name"]
    assert load_card(path).surface.name == BASE_RECORD["name"]

    code, out, _ = run("read", "--virtual", str(path))
    assert code == 0 and "tries left:  3" in out and "JPKIAPICCTOKEN2" in out

    code, out, _ = run("bench", "--virtual", str(path), "--pin", "1234", "--rounds", "3", "--json")
    assert code == 0
    assert set(json.loads(out)["total_ms"]) == {"median", "p95"}

    code, out, _ = run("renew", str(path))
    assert code == 0, out
    second = auth_certificate(load_card(path))
    assert second.serial_number != first.serial_number
    assert linked_name(registry, first) is None
    assert linked_name(registry, second) == BASE_RECORD["name"]
    authority = Authority(tmp_path / "var" / "jpki")
    revoked = {r.serial for r in authority.issuer_of(first).revocations()}
    assert first.serial_number in revoked

    code, out, _ = run("revoke", str(path))
    assert code == 0 and "link ended" in out
    assert linked_name(registry, second) is None
    assert second.serial_number in {r.serial for r in authority.issuer_of(second).revocations()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["issue", "06139992:12-34:5678:99", "--pin", "1234"], "no insured person"),
        (["issue", NUMBER, "--pin", "12345"], "[INVALID_PIN]"),
        (["issue", NUMBER, "--pin", "1234", "--signature-pin", "abc"], "[INVALID_PIN]"),
    ],
)
def test_issue_errors_are_one_line(registry: Registry, args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1


def test_not_a_card_file(tmp_path: Path) -> None:
    path = tmp_path / "x.card"
    path.write_text("{}")
    code, _, err = run("read", "--virtual", str(path))
    assert code == 1 and "[CARD_FILE]" in err and "Traceback" not in err


def test_bench_stops_on_wrong_pin(card_path: Path) -> None:
    code, out, err = run("bench", "--virtual", str(card_path), "--pin", "9999", "--rounds", "5")
    assert code == 1
    assert "WRONG_PIN" in out and "wrong PIN: 2 tries left" in err


def test_face_reader_key_is_made_once_and_kept_private(registry: Registry, tmp_path: Path) -> None:
    out = tmp_path / "reader.pem"
    code, _, err = run("face-reader-key", "--out", str(out))
    assert code == 0 and "eligsim institution add-reader" in err
    assert out.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert (tmp_path / "var" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    code, printed, _ = run("face-reader-key")
    assert code == 0 and printed == out.read_text()
