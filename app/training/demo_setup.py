"""Demo data on a seeded registry (``eligsim demo setup``, called by ``scripts/run``): a demo clinic
offering every consent category, an API key, its face-recognition reader, and three virtual cards
(PIN 1234) of persons with a valid qualification today. Running it again reuses what exists: the key
in ``<out-dir>/api-key`` while it still authenticates (else the clinic's keys are rotated, so no
demo key is left valid unseen).

``<out-dir>/demo.json`` (mode 0600, it holds the key) gives ``eligsim demo`` its defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Connection, exists, or_, select

from app.database import open_registry
from app.service.accounts import (
    add_institution,
    add_reader_key,
    authenticate,
    institution,
    reader_keys_of,
    rotate_institution_key,
)
from app.service.cards import issue_linked_card, issuer_serial
from app.service.consent import CATEGORIES
from app.settings import Settings
from card_reader.authority import Authority
from card_reader.card_file import load_card
from card_reader.errors import CardFileError
from card_reader.face_reader import FaceReader
from card_reader.files import write_private
from card_reader.issuance import auth_certificate
from payer_registry.card_links import person_for_card
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import Validity, today_in_japan
from payer_registry.models import Checkup, Medication, Qualification, table_of

DEMO_CODE = "1311234567"
DEMO_NAME = "デモ内科クリニック"
DEMO_PIN = "1234"
DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_FILE = "demo.json"
KEY_FILE = "api-key"
# (card file name, needs medications, needs checkups); the first is the demo's default card
ROLES = (
    ("medications-and-checkups", True, True),
    ("medications", True, False),
    ("checkups", False, True),
)

qualifications = table_of(Qualification)


class DemoSetupError(RuntimeError):
    """The registry cannot hold a demo (e.g. nobody is insured today)."""


@dataclass(frozen=True)
class DemoCard:
    role: str
    path: str
    insured_number: str


@dataclass(frozen=True)
class DemoConfig:
    url: str
    api_key: str
    institution_code: str
    card: str
    pin: str
    cards: list[DemoCard]


def default_dir(settings: Settings) -> Path:
    return settings.var_dir / "demo"


def set_up(settings: Settings, out_dir: Path, url: str = DEFAULT_URL) -> DemoConfig:
    """Create (or reuse) the demo institution, reader and cards; write ``demo.json``."""
    registry = open_registry(settings)
    authority = Authority(settings.jpki_dir)
    with registry.begin() as conn:
        api_key = _institution_key(conn, _saved_key(out_dir / KEY_FILE))
        _register_face_reader(conn, FaceReader.load_or_create(settings.var_dir))
        cards = _cards(conn, authority, out_dir.resolve() / "cards")
    config = DemoConfig(url, api_key, DEMO_CODE, cards[0].path, DEMO_PIN, cards)
    document = json.dumps(asdict(config), ensure_ascii=False, indent=1)
    write_private(out_dir / CONFIG_FILE, document.encode("utf-8"))
    write_private(out_dir / KEY_FILE, f"{api_key}\n".encode("ascii"))
    return config


def _saved_key(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _institution_key(conn: Connection, saved: str | None) -> str:
    """The saved key while it is still the demo clinic's live key, else a new one replacing all of
    the clinic's earlier keys."""
    if institution(conn, DEMO_CODE) is None:
        return add_institution(conn, DEMO_CODE, DEMO_NAME, "medical", CATEGORIES)
    if saved and _is_demo_key(conn, saved):
        return saved
    return rotate_institution_key(conn, DEMO_CODE)


def _is_demo_key(conn: Connection, key: str) -> bool:
    principal = authenticate(conn, key)
    return principal is not None and principal.institution_code == DEMO_CODE


def _register_face_reader(conn: Connection, reader: FaceReader) -> None:
    pem = reader.public_key_pem()
    if pem not in reader_keys_of(conn, DEMO_CODE):
        add_reader_key(conn, DEMO_CODE, "demo face reader", pem)


def _cards(conn: Connection, authority: Authority, card_dir: Path) -> list[DemoCard]:
    cards: list[DemoCard] = []
    taken: set[int] = set()
    for role, medications, checkups in ROLES:
        person_id, number = _holder(conn, taken, medications, checkups)
        taken.add(person_id)
        path = card_dir / f"{role}.card"
        if not _linked_to(conn, path, person_id):
            issue_linked_card(conn, authority, number, path, DEMO_PIN)
        cards.append(DemoCard(role, str(path), number))
    return cards


def _linked_to(conn: Connection, path: Path, person_id: int) -> bool:
    """Whether the card file exists and its certificate is linked to ``person_id``."""
    try:
        certificate = auth_certificate(load_card(path))
    except CardFileError:
        return False
    person = person_for_card(conn, *issuer_serial(certificate))
    return person is not None and person.id == person_id


def _holder(
    conn: Connection, taken: set[int], medications: bool, checkups: bool
) -> tuple[int, str]:
    """The first person (by id) insured today, not ``taken``, holding the wanted records; failing
    that, the first person insured today."""
    for wanted in ((medications, checkups), (False, False)):
        for row in conn.execute(_candidates(taken, *wanted)):
            if confirm_person(conn, row.person_id, today_in_japan()).validity is Validity.VALID:
                return row.person_id, row.insured_number
    raise DemoSetupError(
        "the registry holds nobody insured today: seed it first (eligsim registry seed)"
    )


def _candidates(taken: set[int], medications: bool, checkups: bool):
    today = today_in_japan()
    q = qualifications.c
    stmt = (
        select(q.person_id, q.insured_number)
        .where(q.acquired_on <= today, or_(q.lost_on.is_(None), q.lost_on > today))
        .where(q.person_id.not_in(taken))
        .order_by(q.person_id, q.insured_number)
    )
    for needed, table in ((medications, table_of(Medication)), (checkups, table_of(Checkup))):
        if needed:
            stmt = stmt.where(exists().where(table.c.person_id == q.person_id))
    return stmt


def load_config(path: Path) -> DemoConfig | None:
    """The demo settings written by ``set_up``, or None when there are none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        cards = [DemoCard(**card) for card in document.pop("cards")]
        return DemoConfig(**document, cards=cards)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise DemoSetupError(f"{path}: not a demo configuration ({error})") from None
