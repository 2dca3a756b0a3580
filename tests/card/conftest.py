"""Fixtures for the card tests: one simulated authority and one issued card per session (RSA key
generation is the slow part); every test gets its own copy of the card file."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from card_reader.authority import Authority
from card_reader.card_file import save_card
from card_reader.issuance import issue_card
from card_reader.jpki import JpkiClient
from card_reader.surface import SurfaceAttributes
from card_reader.transport import InProcessTransport
from card_reader.verify import TrustStore
from card_reader.virtual_card import VirtualCard

PIN = "1234"
SIGNATURE_PIN = "ABC123"
HOLDER = SurfaceAttributes("山田 太郎", "東京都千代田区霞が関1-2-2", date(1980, 5, 10), "1")


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("jpki"))


@pytest.fixture(scope="session")
def card_template(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.card"
    save_card(path, issue_card(authority, HOLDER, PIN, signature_pin=SIGNATURE_PIN))
    return path


@pytest.fixture
def card_path(card_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "test.card"
    shutil.copyfile(card_template, path)
    return path


@pytest.fixture
def card(card_path: Path) -> VirtualCard:
    return VirtualCard.load(card_path)


@pytest.fixture
def client(card: VirtualCard) -> JpkiClient:
    return JpkiClient(InProcessTransport(card))


@pytest.fixture
def store(authority: Authority) -> TrustStore:
    return TrustStore.for_authority(authority)
