"""One whole front-desk visit as a vendor's software runs it: the service on a loopback port, the
virtual card in pcscd's vpcd reader, the client talking PC/SC to the card and HTTP to the service."""

from __future__ import annotations

import pytest

from app import create_app
from app.client import FrontDeskClient, FrontDeskError
from app.service.accounts import add_institution
from app.service.cards import issuer_serial
from app.settings import load_settings
from card_reader.authority import Authority
from card_reader.issuance import auth_certificate
from card_reader.virtual_card import VirtualCard
from card_reader.vpcd import VirtualCardServer
from payer_registry.card_links import link_card
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.live_server import serve_in_thread
from tests.registry.conftest import BASE_RECORD

from .conftest import PIN

pytestmark = pytest.mark.pcscd
NUMBER = BASE_RECORD["qualifications"][0]["insured_number"]


@pytest.fixture
def service(tmp_path, authority: Authority, card: VirtualCard):
    """The API on the card tests' authority, the card's holder in the registry; (URL, API key)."""
    settings = load_settings(
        {"ELIGSIM_VAR_DIR": str(tmp_path), "ELIGSIM_JPKI_DIR": str(authority.directory)}
    )
    app = create_app(settings)
    with app.extensions["registry"].begin() as conn:
        upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
        link_card(conn, NUMBER, *issuer_serial(auth_certificate(card.state)))
        key = add_institution(conn, "1311234567", "霞が関内科クリニック")
    with serve_in_thread(app) as url:
        yield url, key
    app.extensions["registry"].dispose()


def test_a_whole_visit_through_pcscd(service, served: VirtualCardServer, pcscd: str) -> None:
    url, key = service
    client = FrontDeskClient(url, key)
    steps: list[str] = []
    visit = client.run_visit(pcscd, PIN, ["medication"], on_step=lambda n, t: steps.append(t))

    assert f"read from {pcscd}" in steps[1]
    assert visit.eligibility["validity"] == "valid"
    assert visit.eligibility["name"] == BASE_RECORD["name"]
    assert [c["category"] for c in visit.consents] == ["medication"]
    medications = client.medications(visit.visit_id)
    assert medications["items"][0]["drug_name"] == "アムロジピン錠5mg「サワイ」"
    with pytest.raises(FrontDeskError) as refused:
        client.checkups(visit.visit_id)
    assert refused.value.code == "CONSENT_REQUIRED"
