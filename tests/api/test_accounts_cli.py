"""Accounts and the audit log from the command line."""

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from app.cli import main
from app.service.accounts import authenticate
from app.service.audit import audit_log
from tests.api.conftest import bearer


@pytest.fixture
def run(environment, monkeypatch):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_institution_add_prints_the_key_alone_on_the_last_line(run, registry):
    result = run(
        "institution", "add", "--code", "1341112223", "--name", "みなと薬局", "--kind", "pharmacy"
    )
    assert result.exit_code == 0
    key = result.stdout.splitlines()[-1]
    with registry.connect() as conn:
        principal = authenticate(conn, key)
    assert (principal.kind, principal.institution_code, principal.name) == (
        "institution",
        "1341112223",
        "みなと薬局",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--code", "1341112223", "--name", "x", "--kind", "medical"],
            "is a pharmacy code, not medical",
        ),
        (["--code", "13411122", "--name", "x"], "institution code must be 10 digits"),
    ],
)
def test_bad_institutions_are_one_clear_line(run, args, message):
    result = run("institution", "add", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_payer_add_prints_a_payer_key(run, registry):
    key = run("payer", "add", "--name", "霞が関健康保険組合").stdout.splitlines()[-1]
    with registry.connect() as conn:
        assert authenticate(conn, key).kind == "payer"


def test_audit_verify_finds_a_changed_entry(run, client, keys, person, registry):
    for number in ("5678", "0000", "1111"):
        body = {
            "insurer_number": "06139992",
            "symbol": "12-34",
            "number": number,
            "birth_date": "1980-05-01",
        }
        client.post("/api/v1/eligibility-checks", json=body, headers=bearer(keys["clinic"]))
    assert "audit log intact: 3 entries" in run("audit", "verify").output

    with registry.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(outcome="valid"))
    result = run("audit", "verify")
    assert result.exit_code == 1
    assert "audit log broken at entry 2" in result.output


def test_audit_verify_finds_a_removed_entry(run, client, keys, person, registry):
    body = {
        "insurer_number": "06139992",
        "symbol": "12-34",
        "number": "5678",
        "birth_date": "1980-05-01",
    }
    for _ in range(3):
        client.post("/api/v1/eligibility-checks", json=body, headers=bearer(keys["clinic"]))
    with registry.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
    assert "audit log broken at entry 3" in run("audit", "verify").output


def test_add_reader_refuses_what_is_not_an_rsa_public_key(run, registry, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    run("institution", "add", "--code", "1311112223", "--name", "顔認証クリニック")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for path, message in ((junk, "not a PEM public key"), (ec_key, "must be RSA")):
        result = run(
            "institution",
            "add-reader",
            "--code",
            "1311112223",
            "--name",
            "r",
            "--public-key",
            str(path),
        )
        assert (result.exit_code, message in result.output) == (1, True)
