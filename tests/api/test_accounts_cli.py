"""Accounts and the audit log from the command line."""

import pytest
from sqlalchemy import select, update

from app.service import audit
from app.service.accounts import authenticate, operator_name
from app.service.audit import audit_log
from app.web import auth
from payer_registry.writer import persons
from tests.api.conftest import SAMPLE_NUMBER, bearer, present_card


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


def test_payer_add_binds_the_account_to_its_insurers(run, registry):
    added = run(
        "payer",
        "add",
        "--name",
        "霞が関健康保険組合",
        "--insurer",
        "06139992",
        "--insurer",
        "01130012",
    )
    key = added.stdout.splitlines()[-1]
    with registry.connect() as conn:
        principal = authenticate(conn, key)
    assert (principal.kind, principal.insurers) == ("payer", {"06139992", "01130012"})
    listed = run("payer", "list").stdout
    assert (
        f"{principal.payer_id}\t霞が関健康保険組合\tinsurers: 01130012, 06139992\tlive keys: 1"
        in listed
    )


def test_payer_add_needs_valid_insurers(run):
    assert run("payer", "add", "--name", "どこでも").exit_code == 2
    wrong = run("payer", "add", "--name", "x", "--insurer", "06139993")
    assert (wrong.exit_code, wrong.output.strip()) == (
        1,
        "Error: insurer number 06139993 has a wrong check digit",
    )


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


@pytest.fixture
def no_key_cache(monkeypatch):
    """The service forgets a key's owner at once, as it does 10 seconds after a revocation."""
    monkeypatch.setattr(auth, "KNOWN_FOR", 0.0)


def answers(client, key):
    response = client.post("/api/v1/card-sessions", headers=bearer(key))
    return response.status_code


def test_an_institution_key_can_be_revoked_and_rotated(run, client, no_key_cache):
    run("institution", "add", "--code", "1311112223", "--name", "港クリニック")
    first = run("institution", "rotate-key", "--code", "1311112223").stdout.splitlines()[-1]
    second = run("institution", "rotate-key", "--code", "1311112223").stdout.splitlines()[-1]
    assert (answers(client, first), answers(client, second)) == (401, 201)

    revoked = run("institution", "revoke-key", "--code", "1311112223", "--prefix", second)
    assert revoked.output.strip() == "revoked 1 key(s) of institution 1311112223"
    assert answers(client, second) == 401


def test_one_payer_key_is_revoked_by_its_prefix(run, client, registry, no_key_cache):
    key = run("payer", "add", "--name", "霞", "--insurer", "06139992").stdout.splitlines()[-1]
    with registry.connect() as conn:
        account = str(authenticate(conn, key).payer_id)
    new = run("payer", "rotate-key", "--id", account).stdout.splitlines()[-1]
    loss = {"insured_number": "06139992:1:1:01", "lost_on": "2024-08-01", "loss_reason": "03"}

    def status(k):
        return client.post(
            "/api/v1/payer/qualification-losses", json=loss, headers=bearer(k)
        ).status_code

    assert (status(key), status(new)) == (401, 404)
    prefix = new.split("_")[1]
    assert run("payer", "revoke-key", "--id", account, "--prefix", prefix).exit_code == 0
    assert status(new) == 401
    again = run("payer", "revoke-key", "--id", account, "--prefix", prefix)
    assert (again.exit_code, again.output.strip()) == (
        1,
        f"Error: payer account {account} has no live key with prefix {prefix}",
    )
    unknown = run("institution", "revoke-key", "--code", "1311112223")
    assert (unknown.exit_code, unknown.output.strip()) == (1, "Error: no institution 1311112223")


def audit_rows(registry):
    with registry.connect() as conn:
        assert audit.verify_chain(conn).intact
        rows = conn.execute(
            select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.outcome, audit_log.c.person_id
            )
        ).all()
    return [tuple(row) for row in rows]


def test_registry_import_is_audited_and_keeps_card_links(
    run, client, keys, card, registry, tmp_path
):
    exported = tmp_path / "registry.jsonl"
    run("registry", "export", "--out", str(exported))
    assert run("registry", "import", str(exported)).exit_code == 0

    with registry.connect() as conn:
        (person_id,) = conn.execute(select(persons.c.id)).scalars()
    assert audit_rows(registry) == [("operator", "registry_import", "written", person_id)]
    assert present_card(client, keys["clinic"], card).status_code == 201


def test_issuing_renewing_and_revoking_a_card_is_audited(run, person, registry, tmp_path):
    card_file = tmp_path / "yamada.card"
    issued = run("card", "issue", SAMPLE_NUMBER, "--pin", "1234", "--out", str(card_file))
    assert issued.exit_code == 0
    assert run("card", "renew", str(card_file)).exit_code == 0
    assert run("card", "revoke", str(card_file)).exit_code == 0

    assert audit_rows(registry) == [
        ("operator", "card_link", "linked", person),
        ("operator", "card_link", "renewed", person),
        ("operator", "card_link", "revoked", person),
    ]
    with registry.connect() as conn:
        operators = set(conn.execute(select(audit_log.c.staff_id)).scalars())
    assert operators == {operator_name()}


def test_demo_setup_keeps_its_key_and_revokes_lost_ones(run, registry, tmp_path):
    assert run("registry", "seed", "--persons", "60").exit_code == 0
    out_dir = tmp_path / "demo"

    def demo_key():
        assert run("demo", "setup", "--out-dir", str(out_dir)).exit_code == 0
        return (out_dir / "api-key").read_text().strip()

    first = demo_key()
    assert demo_key() == first
    (out_dir / "api-key").unlink()
    replacement = demo_key()
    with registry.connect() as conn:
        assert authenticate(conn, first) is None
        assert authenticate(conn, replacement).institution_code == "1311234567"
