"""A payer account writes the persons of its own insurers only, never a card link, and every write
it makes is audited (the attacks of the security issue, item 1, as a payer's key would make them)."""

import copy
import datetime as dt
import time

import pytest
from sqlalchemy import select, text

from app import create_app
from app.service.accounts import add_payer, authenticate, token_digest
from app.service.uploads import payer_uploads, process_upload, store_upload
from app.settings import load_settings
from card_reader.authority import Authority
from card_reader.issuance import auth_certificate, issue_card
from card_reader.surface import SurfaceAttributes
from card_reader.virtual_card import VirtualCard
from payer_registry.db import Registry
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import SAMPLE_NUMBER, audit_rows, bearer, card_answer, present_card
from tests.conftest import scratch_postgres
from tests.registry.conftest import BASE_RECORD, qualification
from tests.registry.test_schema import _move

OTHER_INSURER = "01130012"  # 協会けんぽ: not the sample person's insurer (06139992)
PLANTED = {
    **BASE_RECORD["medications"][0],
    "drug_code": "1149019F1234",
    "drug_name": "植え付けられた薬",
}


def record(**changes):
    return {**copy.deepcopy(BASE_RECORD), **changes}


def with_numbers(*numbers):
    return record(qualifications=[qualification(n, "2015-04-01") for n in numbers])


@pytest.fixture
def intruder(registry):
    """A payer account that owns another insurer only."""
    with registry.begin() as conn:
        return add_payer(conn, "よその保険者", insurers=[OTHER_INSURER])


def write(client, key, *records):
    return client.post(
        "/api/v1/payer/records", json={"records": list(records)}, headers=bearer(key)
    )


def medications_seen_by_the_clinic(client, keys, card):
    visit_id = present_card(client, keys["clinic"], card, {"medication": True}).get_json()[
        "visit_id"
    ]
    page = client.get(f"/api/v1/visits/{visit_id}/medications", headers=bearer(keys["clinic"]))
    return [item["drug_name"] for item in page.get_json()["items"]]


def refusal(response):
    return response.status_code, response.get_json()["error"]["code"]


def test_a_payer_cannot_overwrite_a_person_of_another_insurer(client, keys, card, intruder):
    planted = record(medications=[PLANTED])
    assert refusal(write(client, intruder, planted)) == (403, "PAYER_INSURER_FORBIDDEN")

    assert medications_seen_by_the_clinic(client, keys, card) == ["アムロジピン錠5mg「サワイ」"]


def test_mixing_in_a_number_of_its_own_insurer_does_not_help(client, keys, card, intruder):
    mixed = with_numbers(f"{OTHER_INSURER}:9:1:01", SAMPLE_NUMBER) | {"medications": [PLANTED]}
    response = write(client, intruder, mixed)
    assert refusal(response) == (403, "PAYER_INSURER_FORBIDDEN")
    assert "06139992" in response.get_json()["error"]["details"]["records"]["0"]
    assert medications_seen_by_the_clinic(client, keys, card) == ["アムロジピン錠5mg「サワイ」"]


def test_a_person_who_also_holds_another_insurers_qualification_is_not_the_payers_alone(
    client, keys, registry, intruder
):
    """A job changer holds qualifications of two insurers; a record replaces them all, so neither
    insurer's account may rewrite the person alone."""
    own_number = f"{OTHER_INSURER}:9:1:01"
    both = with_numbers(SAMPLE_NUMBER, own_number)
    with registry.begin() as conn:
        both_insurers = add_payer(conn, "共同", insurers=["06139992", OTHER_INSURER])
    assert write(client, both_insurers, both).status_code == 200

    response = write(client, intruder, with_numbers(own_number))
    assert refusal(response) == (403, "PAYER_INSURER_FORBIDDEN")
    assert "other insurers" in response.get_json()["error"]["details"]["records"]["0"]
    assert write(client, both_insurers, both).get_json() == {"written": 1}


def test_a_payer_cannot_end_another_insurers_qualification(client, keys, person, intruder):
    def lose(number):
        body = {"insured_number": number, "lost_on": "2024-08-01", "loss_reason": "03"}
        return client.post(
            "/api/v1/payer/qualification-losses", json=body, headers=bearer(intruder)
        )

    # refused before the number is looked up: a registered and an unknown number answer alike
    assert refusal(lose(SAMPLE_NUMBER)) == (403, "PAYER_INSURER_FORBIDDEN")
    assert refusal(lose("06139992:9:9:01")) == (403, "PAYER_INSURER_FORBIDDEN")
    check = {
        "insurer_number": "06139992",
        "symbol": "12-34",
        "number": "5678",
        "birth_date": "1980-05-01",
        "confirmation_date": "2024-09-01",
    }
    eligibility = client.post(
        "/api/v1/eligibility-checks", json=check, headers=bearer(keys["clinic"])
    ).get_json()["eligibility"]
    assert eligibility["validity"] == "valid"


def test_an_upload_is_refused_before_it_is_queued(client, keys, card, intruder, registry):
    response = client.post(
        "/api/v1/payer/uploads",
        json={"records": [record(medications=[PLANTED])]},
        headers=bearer(intruder),
    )
    assert refusal(response) == (403, "PAYER_INSURER_FORBIDDEN")
    with registry.connect() as conn:
        assert conn.execute(select(payer_uploads.c.id)).all() == []
    assert medications_seen_by_the_clinic(client, keys, card) == ["アムロジピン錠5mg「サワイ」"]


def test_upload_status_belongs_to_the_account_not_its_name(client, keys, registry):
    with registry.begin() as conn:
        namesake = add_payer(conn, "霞が関健康保険組合", insurers=["06139992"])
    response = client.post(
        "/api/v1/payer/uploads", json={"records": [record()]}, headers=bearer(keys["payer"])
    )
    upload = f"/api/v1/payer/uploads/{response.get_json()['upload_id']}"

    answer = client.get(upload, headers=bearer(namesake))
    assert refusal(answer) == (404, "NOT_FOUND")
    assert client.get(upload, headers=bearer(keys["payer"])).status_code == 200


def test_a_queued_upload_is_checked_again_when_it_runs(client, keys, registry):
    """The person gained another insurer's qualification (an operator's import) after the upload
    was accepted: the job refuses the upload rather than replace that qualification."""
    with registry.begin() as conn:
        account = authenticate(conn, keys["payer"]).payer_id
        upload_id = store_upload(conn, account, [PERSON_RECORD.load(record())])
        upsert_record(
            conn, PERSON_RECORD.load(with_numbers(SAMPLE_NUMBER, f"{OTHER_INSURER}:9:1:01"))
        )
    process_upload(registry, upload_id)

    status = client.get(f"/api/v1/payer/uploads/{upload_id}", headers=bearer(keys["payer"]))
    assert status.get_json()["status"] == "failed"
    assert "may not write" in status.get_json()["error"]


def unlinked_card(app):
    """The intruder's own card: genuine, but linked to nobody."""
    authority = Authority(app.config["SETTINGS"].jpki_dir)
    holder = SurfaceAttributes("侵入 者", "東京都", dt.date(1990, 1, 1), "1")
    return VirtualCard(issue_card(authority, holder, pin="1234"))


def test_a_payer_record_cannot_link_a_card(app, client, keys, person):
    stranger = unlinked_card(app)
    certificate = auth_certificate(stranger.state)
    link = {
        "cert_issuer": certificate.issuer.rfc4514_string(),
        "cert_serial": format(certificate.serial_number, "X"),
        "linked_at": "2024-01-01T00:00:00+00:00",
    }
    response = write(client, keys["payer"], record(card_links=[link]))
    assert refusal(response) == (422, "VALIDATION_FAILED")
    assert set(response.get_json()["error"]["details"]["records"]["0"]) == {"card_links"}

    session = client.post("/api/v1/portal/sessions").get_json()
    portal = client.post(
        f"/api/v1/portal/sessions/{session['session_id']}/verification",
        json=card_answer(stranger, session["challenge"]),
    )
    assert refusal(portal) == (422, "CARD_NOT_LINKED")


def test_a_payer_update_keeps_the_persons_card_links(client, keys, card):
    assert write(client, keys["payer"], record(name_kana="ヤマダ タロー")).get_json() == {
        "written": 1
    }
    assert present_card(client, keys["clinic"], card).status_code == 201


def audit_entries(registry):
    return audit_rows(registry, "actor", "staff_id", "person_id", "action", "outcome")


def test_every_payer_write_is_audited_with_the_account_and_the_person(client, keys, registry):
    second = record(qualifications=[qualification("06139992:12-34:7777:01", "2015-04-01")])
    assert write(client, keys["payer"], record(), second).status_code == 200
    upload = client.post(
        "/api/v1/payer/uploads", json={"records": [record()]}, headers=bearer(keys["payer"])
    ).get_json()
    _wait_done(client, keys["payer"], upload["upload_id"])
    loss = {"insured_number": SAMPLE_NUMBER, "lost_on": "2024-08-01", "loss_reason": "03"}
    client.post("/api/v1/payer/qualification-losses", json=loss, headers=bearer(keys["payer"]))

    entries = audit_entries(registry)
    with registry.connect() as conn:
        account = authenticate(conn, keys["payer"]).payer_id
    assert {(actor, staff) for actor, staff, *_ in entries} == {("payer", f"payer:{account}")}
    first, other = entries[0][2], entries[1][2]
    assert first != other
    assert [(person, action, outcome) for _, _, person, action, outcome in entries] == [
        (first, "payer_records", "written"),
        (other, "payer_records", "written"),
        (first, "payer_upload", "written"),
        (first, "qualification_loss", "ended"),
    ]


def _wait_done(client, key, upload_id):
    deadline = time.monotonic() + 30
    while (
        client.get(f"/api/v1/payer/uploads/{upload_id}", headers=bearer(key)).get_json()["status"]
        == "queued"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with scratch_postgres("eligsim_payers") as url:
            yield url


OLD_KEYS = ("esk_0000aaaa_first-secret", "esk_0000bbbb_second-secret")


def test_payer_keys_from_before_accounts_write_nobody_until_granted(environment, database_url):
    """Revision 0007 turns each payer name into one account without insurers: its keys still
    authenticate, share their uploads as before, and write nobody; downgrading restores the names."""
    registry = Registry(database_url)
    try:
        _move(registry, "0006")
        with registry.begin() as conn:
            for key in OLD_KEYS:
                conn.execute(
                    text(
                        "INSERT INTO api_keys (prefix, digest, kind, payer_name, created_at) "
                        "VALUES (:prefix, :digest, 'payer', '旧保険者', '2024-01-01 00:00:00+00')"
                    ),
                    {"prefix": key.split("_")[1], "digest": token_digest(key)},
                )
            conn.execute(
                text(
                    "INSERT INTO payer_uploads (id, payer_name, records, total, written, "
                    "created_at, finished_at) VALUES ('u1', '旧保険者', '', 1, 1, "
                    "'2024-01-01 00:00:00+00', '2024-01-01 00:00:01+00')"
                )
            )
        app = create_app(load_settings({**environment, "DATABASE_URL": database_url}), TESTING=True)
        client = app.test_client()
        for key in OLD_KEYS:
            assert client.get("/api/v1/payer/uploads/u1", headers=bearer(key)).status_code == 200
            assert refusal(write(client, key, record())) == (403, "PAYER_INSURER_FORBIDDEN")
        app.extensions["registry"].dispose()

        _move(registry, "0006", down=True)
        with registry.connect() as conn:
            names = conn.execute(text("SELECT payer_name FROM api_keys")).scalars().all()
            uploader = conn.execute(text("SELECT payer_name FROM payer_uploads")).scalar_one()
        assert (names, uploader) == (["旧保険者", "旧保険者"], "旧保険者")
    finally:
        registry.dispose()
