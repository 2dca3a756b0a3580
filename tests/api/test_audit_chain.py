"""The audit chain is keyed and anchored: whoever can write the database but not read the audit key
cannot edit, cut, rewind or restart the log without `eligsim audit verify` saying so."""

import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from app import create_app
from app.cli import main
from app.service import audit
from app.service.accounts import add_institution
from app.service.audit import CONTENT, GENESIS, audit_head, audit_log
from app.settings import load_settings
from payer_registry.db import Registry
from tests.api.conftest import CLINIC, SAMPLE_CHECK, bearer, environment_on_each_database
from tests.registry.test_schema import _move

environment = environment_on_each_database("eligsim_audit")


def checks(client, keys, count):
    """``count`` checks by number (each one entry); ``keys``: the fixture's, or one clinic key."""
    key = keys["clinic"] if isinstance(keys, dict) else keys
    for _ in range(count):
        response = client.post("/api/v1/eligibility-checks", json=SAMPLE_CHECK, headers=bearer(key))
        assert response.status_code == 200


def clinic_key(app):
    with app.extensions["registry"].begin() as conn:
        return add_institution(conn, CLINIC, "霞が関内科クリニック")


def broken(result, message):
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: audit log broken{message}"), result.output
    assert "Traceback" not in result.output


def rows(registry):
    with registry.connect() as conn:
        return [row._asdict() for row in conn.execute(select(audit_log).order_by(audit_log.c.seq))]


def rewrite(registry, entries, head):
    """What an intruder with the database but not the key does: rewrite entries and the head."""
    with registry.begin() as conn:
        conn.execute(audit_log.delete())
        if entries:
            conn.execute(audit_log.insert(), entries)
        conn.execute(update(audit_head).values(seq=head[0], digest=head[1]))


def rechained(entries, digest):
    """``entries`` chained again from the genesis digest by ``digest(content, previous)``."""
    previous, out = GENESIS, []
    for entry in entries:
        content = {key: entry[key] for key in CONTENT}
        new = digest(content, previous)
        out.append({**entry, "previous_digest": previous, "digest": new})
        previous = new
    return out


def plain_digest(content, previous):
    """The scheme before revision 0008 (unkeyed, so anyone can compute it), as it was written."""
    at = content["at"]
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    content = {**content, "at": at.isoformat(timespec="microseconds")}
    text = previous + json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_entries_are_signed_with_a_key_kept_outside_the_database(
    run, client, keys, registry, tmp_path
):
    checks(client, keys, 3)
    key_file = tmp_path / "audit" / "hmac.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = bytes.fromhex(key_file.read_text().split()[0])
    entries = rows(registry)
    assert {entry["key_id"] for entry in entries} == {audit.key_id(key)}
    assert entries[0]["digest"] != plain_digest(entries[0], GENESIS)
    assert run("audit", "verify").output.startswith(
        "audit log intact: 3 entries, up to checkpoint 1"
    )


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        ("guessed key", " at entry 2: its content or digest was changed"),
        ("plain", " at entry 1: it is not the entry checkpointed at"),
    ],
)
def test_an_entry_edited_and_the_chain_recomputed_without_the_key_is_found(
    run, client, keys, registry, scheme, message
):
    checks(client, keys, 4)
    entries = rows(registry)
    entries[1]["outcome"] = "invalid"

    def guessed(content, previous):
        return hmac.new(b"guess" * 8, (previous + repr(content)).encode(), "sha256").hexdigest()

    if scheme == "plain":
        entries = [{**entry, "key_id": None} for entry in entries]
        forged = rechained(entries, plain_digest)
    else:
        forged = entries[:1] + rechained(entries, guessed)[1:]
    rewrite(registry, forged, (4, forged[-1]["digest"]))
    broken(run("audit", "verify"), message)


def test_the_newest_entries_removed_and_the_head_rewound_are_found(run, client, keys, registry):
    checks(client, keys, 5)
    assert run("audit", "checkpoint").output.startswith("checkpoint 5 written to")
    entries = rows(registry)[:3]
    rewrite(registry, entries, (3, entries[-1]["digest"]))
    broken(run("audit", "verify"), " at entry 4: the log ends at 3 but entry 5 was checkpointed at")


def test_a_rewound_head_is_found(run, client, keys, registry):
    checks(client, keys, 5)
    entries = rows(registry)
    rewrite(registry, entries, (3, entries[2]["digest"]))
    broken(run("audit", "verify"), " at entry 4: audit_head was rewound to 3 while the log holds")


@pytest.mark.parametrize(
    ("again", "at"),
    [(5, " at entry 1: it is not the entry checkpointed"), (1, " at entry 1: it is not the entry")],
)
def test_a_log_emptied_and_restarted_is_found(run, client, keys, registry, again, at):
    """Emptied and the head reset; the service then appends validly signed entries again. The
    service's first checkpoint names its first committed entry, so the new entry 1 betrays it."""
    checks(client, keys, 3)
    run("audit", "checkpoint")
    rewrite(registry, [], (0, GENESIS))
    checks(client, keys, again)
    result = run("audit", "verify")
    broken(result, at)
    assert "emptied and restarted" in result.output


def test_a_forged_checkpoint_is_refused(run, client, keys, tmp_path):
    checks(client, keys, 2)
    run("audit", "checkpoint")
    path = tmp_path / "audit" / "checkpoints.jsonl"
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace('"seq": 2', '"seq": 9')
    path.write_text("\n".join(lines) + "\n")
    broken(run("audit", "verify"), f": line 2 of {path} is not a checkpoint signed by an audit key")


def test_a_removed_checkpoint_file_is_found(run, client, keys, tmp_path):
    checks(client, keys, 2)
    (tmp_path / "audit" / "checkpoints.jsonl").unlink()
    broken(run("audit", "verify"), ": there is no checkpoint in")


def test_checkpoints_come_every_n_entries_not_with_every_request(
    client, keys, tmp_path, monkeypatch
):
    path = tmp_path / "audit" / "checkpoints.jsonl"
    checks(client, keys, 30)
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [1]

    monkeypatch.setattr(audit, "CHECKPOINT_EVERY_ENTRIES", 10)
    checks(client, keys, 25)
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert seqs == [1, 31, 41, 51]  # the entry committed when 10 more were appended


def test_a_check_is_answered_after_the_checkpoint_it_made_due(
    run, client, keys, tmp_path, monkeypatch
):
    """``audit verify`` right after the first answer finds a checkpoint, however slow the disk."""
    write = audit._append_checkpoint

    def slow_write(*args):
        time.sleep(0.3)
        return write(*args)

    monkeypatch.setattr(audit, "_append_checkpoint", slow_write)
    checks(client, keys, 1)
    assert run("audit", "verify").exit_code == 0


def test_a_long_transaction_checkpoints_only_what_is_committed(registry, tmp_path, monkeypatch):
    """An import appends thousands of entries in one transaction: none of them is checkpointed
    before it commits, and the committed head is not checkpointed again and again."""
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY_ENTRIES", 10)
    with registry.begin() as conn:
        for _ in range(35):
            audit.append(
                conn,
                actor=audit.Actor.OPERATOR,
                action=audit.Action.REGISTRY_IMPORT,
                outcome=audit.Outcome.WRITTEN,
            )
    lines = (tmp_path / "audit" / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0]


def test_a_rotated_key_signs_new_entries_and_the_old_one_still_verifies(
    run, client, keys, registry, environment, tmp_path
):
    checks(client, keys, 2)
    rotated = run("audit", "rotate-key")
    assert rotated.exit_code == 0
    new_id = rotated.output.split()[3]
    restarted = create_app(load_settings(environment), TESTING=True)
    checks(restarted.test_client(), keys, 2)
    restarted.extensions["registry"].dispose()

    entries = rows(registry)
    assert [entry["key_id"] == new_id for entry in entries] == [False, False, True, True]
    assert run("audit", "verify").output.startswith("audit log intact: 4 entries")

    key_file = tmp_path / "audit" / "hmac.key"
    key_file.write_text(key_file.read_text().split()[-1] + "\n")  # the old key lost
    old_id = entries[0]["key_id"]
    lost = run("audit", "verify")
    broken(lost, f": line 1 of {tmp_path / 'audit' / 'checkpoints.jsonl'} is signed with audit key")
    assert f"audit key {old_id}, which the key file does not hold" in lost.output


def test_the_key_can_come_from_the_environment(environment, tmp_path, monkeypatch):
    key = os.urandom(32)
    injected = {**environment, "ELIGSIM_AUDIT_KEY": key.hex()}
    app = create_app(load_settings(injected), TESTING=True)
    checks(app.test_client(), clinic_key(app), 2)
    with app.extensions["registry"].connect() as conn:
        assert set(conn.execute(select(audit_log.c.key_id)).scalars()) == {audit.key_id(key)}
    app.extensions["registry"].dispose()
    assert not (tmp_path / "audit" / "hmac.key").exists()

    runner = CliRunner()
    for name, value in injected.items():
        monkeypatch.setenv(name, value)
    assert runner.invoke(main, ["audit", "verify"]).output.startswith("audit log intact: 2 entries")
    refused = runner.invoke(main, ["audit", "rotate-key"])
    assert (refused.exit_code, "put a new key first in it" in refused.output) == (1, True)
    monkeypatch.setenv("ELIGSIM_AUDIT_KEY", "not hex")
    wrong = runner.invoke(main, ["audit", "verify"])
    assert (wrong.exit_code, wrong.output) == (
        1,
        "Error: ELIGSIM_AUDIT_KEY must be hex keys separated by commas\n",
    )


def test_a_key_file_others_can_read_is_refused(run, client, keys, tmp_path):
    checks(client, keys, 1)
    key_file = tmp_path / "audit" / "hmac.key"
    key_file.chmod(0o644)
    result = run("audit", "verify")
    assert (result.exit_code, result.output) == (
        1,
        f"Error: audit key file {key_file} is open to others: chmod 600 it\n",
    )


def test_entries_from_before_the_key_keep_verifying(run, environment):
    """A database whose entries carry plain SHA-256 digests (revision 0007) is upgraded: its old
    entries verify as before, new ones are keyed, and an edit of an old one is still found."""
    registry = Registry(load_settings(environment).database_url)
    _move(registry, "0007")
    old = [
        {key: None for key in CONTENT}
        | {
            "seq": seq,
            "at": dt.datetime(2024, 1, seq, 9, 0, tzinfo=dt.UTC),
            "actor": "institution",
            "institution_code": CLINIC,
            "action": "eligibility_check",
            "outcome": "valid",
        }
        for seq in (1, 2)
    ]
    old = rechained(old, plain_digest)
    with registry.begin() as conn:
        conn.execute(audit_log.insert(), old)  # without key_id: the column does not exist yet
        conn.execute(update(audit_head).values(seq=2, digest=old[-1]["digest"]))
    registry.dispose()

    app = create_app(load_settings(environment), TESTING=True)
    checks(app.test_client(), clinic_key(app), 2)
    entries = rows(app.extensions["registry"])
    assert [entry["key_id"] is None for entry in entries] == [True, True, False, False]
    assert run("audit", "verify").output.startswith("audit log intact: 4 entries")

    with app.extensions["registry"].begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 1).values(outcome="invalid"))
    app.extensions["registry"].dispose()
    broken(run("audit", "verify"), " at entry 1: its content or digest was changed")
