"""What the reader station can read: the scenario library's virtual cards (``<var>/scenarios/
scenarios.json``), the demo cards (``<var>/demo/demo.json``) and the PC/SC readers of this machine.

Readers are named by id (``scenario:<slug>``, ``scenario:<slug>:old``, ``demo:<role>``,
``pcsc:<reader name>``); a page never sends a file path. No Flask here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.training.demo_setup import CONFIG_FILE, DemoSetupError, load_config
from card_reader.card_file import load_card
from card_reader.errors import CardError, NoReader
from card_reader.transport import Transport, open_transport
from card_reader.vpcd import exposure_warning

MANIFEST = Path("scenarios") / "scenarios.json"
HINTS = ("method_hint", "expected", "consents", "next_step_ja", "next_step_en")
DEMO_TITLES = {
    "medications-and-checkups": ("デモ: 薬剤・健診情報あり", "Demo: medications and checkups"),
    "medications": ("デモ: 薬剤情報あり", "Demo: medications"),
    "checkups": ("デモ: 健診情報あり", "Demo: checkups"),
}


@dataclass(frozen=True)
class Reader:
    id: str
    kind: str  # "virtual" (a card file), "pcsc" (a reader of this machine) or "numbers"
    title_ja: str
    title_en: str
    card: Path | None = None
    pin_hint: str | None = None
    pin_tries_left: int | None = None
    scenario: dict = field(default_factory=dict)  # the manifest's hints for trainers


@dataclass(frozen=True)
class Catalogue:
    readers: list[Reader]
    notes: list[str]  # why some source gave nothing (no manifest, no pcscd, ...), or a warning

    def find(self, reader_id: str) -> Reader:
        for reader in self.readers:
            if reader.id == reader_id and reader.kind != "numbers":
                return reader
        raise NoReader(reader_id)


def catalogue(var_dir: Path) -> Catalogue:
    """Every reader the station offers now, scenario cards first."""
    readers: list[Reader] = []
    notes: list[str] = []
    for source in (_scenario_readers, _demo_readers, _pcsc_readers):
        found, note = source(Path(var_dir))
        readers += found
        notes += [note] if note else []
    return Catalogue(readers, notes)


def _card_tries(path: Path) -> int | None:
    try:
        return load_card(path).auth_pin.tries_left
    except CardError:
        return None


def _virtual(reader_id: str, titles: tuple[str, str], path: Path, pin: str | None, hints: dict):
    return Reader(reader_id, "virtual", *titles, path, pin, _card_tries(path), hints)


def _scenario_readers(var_dir: Path) -> tuple[list[Reader], str | None]:
    try:
        entries = json.loads((var_dir / MANIFEST).read_text(encoding="utf-8"))
        return [r for entry in entries for r in _scenario_entry(var_dir, entry)], None
    except FileNotFoundError:
        return [], "no scenario library: run `eligsim registry seed --scenarios` (scripts/run does)"
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        return [], f"{MANIFEST} is unreadable ({type(error).__name__})"


def _scenario_entry(var_dir: Path, entry: dict) -> Iterator[Reader]:
    slug, titles = entry["slug"], (entry["title_ja"], entry["title_en"])
    hints = {key: entry.get(key) for key in HINTS}
    pin = entry.get("pin")
    if entry.get("method_hint") == "numbers" or not entry.get("card"):
        numbers = {key: entry.get(key) for key in ("insured_number", "birth_date")}
        yield Reader(f"scenario:{slug}", "numbers", *titles, scenario=hints | numbers)
        return
    yield _virtual(f"scenario:{slug}", titles, var_dir / entry["card"], pin, hints)
    if entry.get("old_card"):
        old = (f"{titles[0]}（旧カード）", f"{titles[1]} (old card)")
        yield _virtual(f"scenario:{slug}:old", old, var_dir / entry["old_card"], pin, hints)


def _demo_readers(var_dir: Path) -> tuple[list[Reader], str | None]:
    try:
        config = load_config(var_dir / "demo" / CONFIG_FILE)
    except DemoSetupError:
        config = None
    if config is None:
        return [], "no demo cards: run scripts/run or `eligsim demo setup`"
    readers = [
        _virtual(
            f"demo:{card.role}",
            DEMO_TITLES.get(card.role, (card.role, card.role)),
            Path(card.path),
            config.pin,
            {},
        )
        for card in config.cards
    ]
    return readers, None


def _pcsc_readers(_var_dir: Path) -> tuple[list[Reader], str | None]:
    try:
        from card_reader.pcsc import list_readers

        names = list_readers()
    except ImportError:
        return [], "pyscard is not installed: no real card readers"
    except CardError as error:
        return [], f"no real card readers: {error}"
    readers = [Reader(f"pcsc:{name}", "pcsc", name, name) for name in names]
    if not names:
        return readers, "no PC/SC reader is connected"
    # a virtual reader other hosts can reach may hold a card of their choosing
    return readers, " ".join(filter(None, map(exposure_warning, names))) or None


@contextmanager
def connected(reader: Reader) -> Iterator[Transport]:
    """The card in ``reader``: its file in process, or the PC/SC reader; closed afterwards."""
    if reader.kind == "pcsc":
        transport = open_transport(reader.id.removeprefix("pcsc:"))
    else:
        transport = open_transport(card_file=reader.card)
    try:
        yield transport
    finally:
        transport.close()
