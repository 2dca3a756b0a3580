"""``eligsim backup`` and ``eligsim restore`` on SQLite and PostgreSQL: a backup taken while the
service writes restores whole (the audit chain verifies, the counts and every acknowledged visit are
there), a tampered backup is refused, and nothing is restored over existing data."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from app import create_app
from app.cli import main
from app.database import migrate
from app.service.accounts import add_institution
from app.service.audit import use_trail
from app.service.cards import issue_linked_card
from app.settings import load_settings
from card_reader.authority import Authority
from card_reader.virtual_card import VirtualCard
from payer_registry.db import Registry
from payer_registry.records import PERSON_RECORD
from payer_registry.seeding import seed_population
from payer_registry.writer import upsert_record
from tests.api.conftest import CLINIC, SAMPLE_CHECK, SAMPLE_NUMBER, bearer, present_card
from tests.conftest import POSTGRES_URL, scratch_postgres
from tests.registry.conftest import BASE_RECORD

COUNTS = ("persons", "visits", "consents", "audit_entries")


@dataclass
class Site:
    """One deployment's settings (a var directory and a database) and how ransomware ends it."""

    var: Path
    database_url: str
    schema: str | None  # PostgreSQL only
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "ELIGSIM_VAR_DIR": str(self.var),
            "DATABASE_URL": self.database_url,
            "ELIGSIM_RATE_LIMIT": "1000000 per minute",
            "ELIGSIM_INQUIRY_RATE_LIMIT": "1000000 per hour",
            **self.extra,
        }

    def destroy(self) -> None:
        """Lose the database and the var directory: moved away, as the docs tell the operator."""
        self.var.rename(self.var.with_name("var.lost"))
        if self.schema:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
                admin.execute(f'CREATE SCHEMA "{self.schema}"')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request, tmp_path):
    var = tmp_path / "var"
    if request.param == "sqlite":
        yield Site(var, f"sqlite:///{var / 'registry.db'}", None)
        return
    with scratch_postgres("backup") as url:
        yield Site(var, url, url.rsplit("%3D", 1)[1])


@pytest.fixture
def sqlite_site(tmp_path):
    var = tmp_path / "var"
    return Site(var, f"sqlite:///{var / 'registry.db'}", None)


def eligsim(site: Site, *args: str):
    return CliRunner().invoke(main, list(args), env=site.env)


def populate(site: Site) -> tuple[str, Path]:
    """A small registry, the sample person with a linked card file, a clinic; its key and card."""
    settings = load_settings(site.env)
    registry = Registry(site.database_url)
    use_trail(registry.engine, settings)  # its audit key in the site's var directory
    try:
        migrate(registry)
        seed_population(registry, 20, seed=3)
        card_file = site.var / "cards" / "sample.card"
        with registry.begin() as conn:
            upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
            key = add_institution(conn, CLINIC, "霞が関内科クリニック")
            issue_linked_card(conn, Authority(settings.jpki_dir), SAMPLE_NUMBER, card_file, "1234")
    finally:
        registry.dispose()
    return key, card_file


class FrontDesk(threading.Thread):
    """Card visits and checks through the API, one after another until stopped; records when each
    visit was acknowledged."""

    def __init__(self, site: Site, key: str, card_file: Path) -> None:
        super().__init__(daemon=True)
        self.app = create_app(load_settings(site.env), TESTING=True)
        self.key, self.card = key, VirtualCard.load(card_file)
        self.visits: list[tuple[str, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        client = self.app.test_client()
        while not self.stop.is_set():
            answer = present_card(client, self.key, self.card, {"medication": True})
            assert answer.status_code == 201, answer.get_json()
            self.visits.append((answer.get_json()["visit_id"], time.monotonic()))
            checked = client.post(
                "/api/v1/eligibility-checks", json=SAMPLE_CHECK, headers=bearer(self.key)
            )
            assert checked.status_code == 200, checked.get_json()

    def wait_for_visits(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.visits) < count:
            assert self.is_alive(), "the front desk failed (its exception is reported above)"
            assert time.monotonic() < deadline, "the front desk stopped writing"
            time.sleep(0.02)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)
        self.app.extensions["registry"].dispose()


def restored_facts(site: Site) -> tuple[dict[str, int], set[str]]:
    """The restored database's counts and visit ids."""
    registry = Registry(site.database_url)
    try:
        with registry.connect() as conn:
            counts = {
                name: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for name, table in zip(
                    COUNTS, ("persons", "visits", "consents", "audit_log"), strict=True
                )
            }
            visits = set(conn.execute(text("SELECT id FROM visits")).scalars())
    finally:
        registry.dispose()
    return counts, visits


def test_a_backup_taken_while_the_service_writes_restores_whole(site, tmp_path):
    key, card_file = populate(site)
    desk = FrontDesk(site, key, card_file)
    desk.start()
    try:
        desk.wait_for_visits(5)
        started = time.monotonic()
        backed_up = eligsim(site, "backup", "--out", str(tmp_path / "backup"))
        desk.wait_for_visits(len(desk.visits) + 3)  # the service wrote on
    finally:
        desk.finish()
    assert backed_up.exit_code == 0, backed_up.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())

    site.destroy()
    restored = eligsim(site, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    verified = eligsim(site, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "audit log intact" in verified.output

    counts, visits = restored_facts(site)
    assert counts == manifest["counts"]
    assert counts["visits"] >= 5 and counts["consents"] >= 5
    assert {visit for visit, at in desk.visits if at < started} <= visits
    assert len(visits) < len(desk.visits)  # the visits after the backup are not in it
    lost = tmp_path / "var.lost"
    for part in ("cards/sample.card", "jpki/2023-auth/ca-key.pem"):
        assert (site.var / part).read_bytes() == (lost / part).read_bytes()


@pytest.fixture(scope="module")
def made_backup(tmp_path_factory) -> Path:
    """A backup of a small SQLite site with a card file and the JPKI authority."""
    root = tmp_path_factory.mktemp("made")
    site = Site(root / "var", f"sqlite:///{root / 'var' / 'registry.db'}", None)
    populate(site)
    assert eligsim(site, "backup", "--out", str(root / "backup")).exit_code == 0
    return root / "backup"


@pytest.fixture
def backup_copy(made_backup, tmp_path) -> Path:
    return Path(shutil.copytree(made_backup, tmp_path / "backup"))


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


def rewrite_manifest(backup: Path, change) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    change(manifest)
    (backup / "manifest.json").write_text(json.dumps(manifest))


TAMPERING = {
    "a changed database": (
        lambda b: flip_last_byte(b / "database" / "registry.sqlite"),
        "database/registry.sqlite does not match its digest in the manifest",
    ),
    "a changed card file": (
        lambda b: flip_last_byte(b / "var" / "cards" / "sample.card"),
        "var/cards/sample.card does not match its digest",
    ),
    "a removed CA key": (
        lambda b: (b / "jpki" / "2023-auth" / "ca-key.pem").unlink(),
        "jpki/2023-auth/ca-key.pem is missing",
    ),
    "an added file": (
        lambda b: (b / "var" / "cards" / "planted.card").write_text("{}"),
        "var/cards/planted.card is not in the manifest",
    ),
    "a path out of the backup": (
        lambda b: rewrite_manifest(
            b, lambda m: m["files"][1].update(path="var/cards/../../../etc/cron.d/x")
        ),
        "outside a backup's layout",
    ),
}


@pytest.mark.parametrize("tampering", TAMPERING, ids=list(TAMPERING))
def test_a_tampered_backup_is_refused_and_nothing_is_written(backup_copy, sqlite_site, tampering):
    tamper, message = TAMPERING[tampering]
    tamper(backup_copy)
    result = eligsim(sqlite_site, "restore", str(backup_copy))
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert not sqlite_site.var.exists()


def test_restore_into_a_site_holding_data_is_refused(site, tmp_path):
    populate(site)
    assert eligsim(site, "backup", "--out", str(tmp_path / "backup")).exit_code == 0
    before = restored_facts(site)

    result = eligsim(site, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert "restore only into an empty" in result.output
    assert "move the old" in result.output
    assert restored_facts(site) == before
    assert eligsim(site, "audit", "verify").exit_code == 0


def test_restore_into_a_var_directory_holding_files_is_refused(backup_copy, sqlite_site):
    (sqlite_site.var / "terminal").mkdir(parents=True)
    (sqlite_site.var / "terminal" / "left-over.xml").write_text("<x/>")
    result = eligsim(sqlite_site, "restore", str(backup_copy))
    assert result.exit_code == 1
    assert "is not empty (" in result.output and "left-over.xml" in result.output
    assert not (sqlite_site.var / "registry.db").exists()


def test_a_backup_is_private_and_its_manifest_describes_it(made_backup):
    manifest = json.loads((made_backup / "manifest.json").read_text())
    assert manifest["database"] == "sqlite"
    assert manifest["schema_revision"]
    assert manifest["counts"]["persons"] == 21  # 20 seeded and the sample person
    assert manifest["created_at"]
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert {"database/registry.sqlite", "var/cards/sample.card", "var/audit/hmac.key"} <= set(
        listed
    )
    assert "jpki/2023-auth/ca-key.pem" in listed
    for entry in listed.values():
        data = (made_backup / entry["path"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    for path in [made_backup, *made_backup.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_backup_goes_only_into_a_new_or_empty_directory(sqlite_site, tmp_path):
    populate(sqlite_site)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "older-backup.txt").write_text("keep me")
    result = eligsim(sqlite_site, "backup", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: {tmp_path / 'out'} is not an empty directory: give a new one for the backup\n"
    )


@pytest.mark.postgres
def test_a_postgresql_backup_restores_only_into_a_schema_of_its_name(tmp_path):
    with scratch_postgres("backup") as url, scratch_postgres("other") as other:
        source = Site(tmp_path / "var", url, url.rsplit("%3D", 1)[1])
        populate(source)
        assert eligsim(source, "backup", "--out", str(tmp_path / "backup")).exit_code == 0
        target = Site(tmp_path / "target", other, other.rsplit("%3D", 1)[1])
        result = eligsim(target, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert f"this backup holds the schema '{source.schema}'" in result.output


def test_audit_files_kept_outside_the_var_directory_are_backed_up_and_restored(tmp_path):
    keys = tmp_path / "keys"
    site = Site(tmp_path / "var", f"sqlite:///{tmp_path / 'var' / 'registry.db'}", None)
    site.extra = {
        "ELIGSIM_AUDIT_KEY_FILE": str(keys / "audit.key"),
        "ELIGSIM_AUDIT_CHECKPOINTS": str(keys / "checkpoints.jsonl"),
    }
    populate(site)
    assert eligsim(site, "backup", "--out", str(tmp_path / "backup")).exit_code == 0
    key = (keys / "audit.key").read_bytes()

    site.destroy()
    keys.rename(tmp_path / "keys.lost")
    restored = eligsim(site, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert (keys / "audit.key").read_bytes() == key
    assert stat.S_IMODE((keys / "audit.key").stat().st_mode) == 0o600
    assert (keys / "checkpoints.jsonl").exists()
    assert eligsim(site, "audit", "verify").exit_code == 0


@pytest.mark.postgres
def test_without_pg_dump_the_backup_says_what_to_install_and_leaves_nothing(tmp_path):
    with scratch_postgres("backup") as url:
        site = Site(tmp_path / "var", url, url.rsplit("%3D", 1)[1])
        populate(site)
        site.extra = {"PATH": str(tmp_path / "empty-bin")}
        result = eligsim(site, "backup", "--out", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert result.output == (
        "Error: pg_dump is not installed: install PostgreSQL's client programs "
        "(Debian: apt-get install postgresql-client)\n"
    )
    assert not (tmp_path / "backup").exists()


def test_a_database_ransomware_overwrote_cannot_be_backed_up_and_says_so(sqlite_site, tmp_path):
    populate(sqlite_site)
    database = sqlite_site.var / "registry.db"
    database.write_bytes(b"\x8f" * database.stat().st_size)
    result = eligsim(sqlite_site, "backup", "--out", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot read the SQLite database {database}:")
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "backup").exists()
