"""Disaster mode through the HTTP API: during a declared period, an institution in one of its
prefectures searches a person without a card and views their eligibility, medications and
checkups without a consent; outside the period or the prefectures it is refused; searches that
would list strangers or say too little are refused; searches are rate-limited; every search and
look is audited and shown to the patient as disaster access."""

import copy
import datetime as dt

import pytest

from app import create_app
from app.service import disasters
from app.service.accounts import add_institution, operator_name
from app.settings import SettingsError, load_settings
from payer_registry.eligibility import JAPAN, today_in_japan
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import CLINIC, PHARMACY, audit_rows, bearer, present_card
from tests.api.test_portal import portal_token
from tests.conftest import scratch_postgres
from tests.registry.conftest import BASE_RECORD

OSAKA = "2711234567"
SEARCH = {"name_kana": "ヤマダ タロウ", "birth_date": "1980-05-01", "sex": "1"}


def declare(registry, *prefectures, starts=0, ends=0):
    """A disaster period from ``starts`` to ``ends`` days after today (Japan); its id."""
    today = today_in_japan()
    declaration = disasters.Declaration(
        prefectures or ("13",), today + dt.timedelta(starts), today + dt.timedelta(ends)
    )
    with registry.begin() as conn:
        return disasters.declare(conn, declaration)["id"]


def search(client, key, **fields):
    return client.post("/api/v1/disaster-searches", json={**SEARCH, **fields}, headers=bearer(key))


def found(client, key, **fields):
    response = search(client, key, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["candidates"]


def view(client, key, handle, page=""):
    return client.get(f"/api/v1/disaster-candidates/{handle}{page}", headers=bearer(key))


def refusal(response):
    return response.status_code, response.get_json()["error"]["code"]


@pytest.fixture
def clock(monkeypatch):
    """Set the service's clock (``payer_registry.clock.now_utc`` as the disaster rules read it)."""

    def set_to(moment: dt.datetime) -> None:
        for module in ("app.service.disasters", "app.service.visits"):
            monkeypatch.setattr(f"{module}.now_utc", lambda: moment)

    return set_to


def japan(day: dt.date, *time: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, *time, tzinfo=JAPAN)


def add_namesakes(registry, count):
    """``count`` more people with the sample person's kana, birth date and sex, elsewhere."""
    with registry.begin() as conn:
        for n in range(count):
            record = copy.deepcopy(BASE_RECORD)
            record["address"] = f"大阪府大阪市北区梅田{n + 1}-1-1"
            record["qualifications"][0]["insured_number"] = f"06139992:12-34:{7000 + n}:01"
            upsert_record(conn, PERSON_RECORD.load(record))


def test_in_a_declared_period_a_person_is_found_and_viewed_without_card_or_consent(
    client, keys, person, registry
):
    declare(registry, "13")
    [candidate] = found(client, keys["clinic"])
    assert candidate.keys() == {"handle", "name_kana", "birth_date", "sex", "address_area"}
    assert candidate["name_kana"] == "ヤマダ タロウ"
    assert candidate["address_area"] == "東京都千代田区"  # not the street

    handle = candidate["handle"]
    eligibility = view(client, keys["clinic"], handle).get_json()["eligibility"]
    assert eligibility["validity"] == "valid"
    assert "limit_certificate" not in eligibility  # certificates still need a consent
    medications = view(client, keys["clinic"], handle, "/medications").get_json()
    assert [item["drug_name"] for item in medications["items"]] == ["アムロジピン錠5mg「サワイ」"]
    assert view(client, keys["clinic"], handle, "/checkups").status_code == 200
    assert view(client, keys["clinic"], handle, "/clinical").status_code == 404


def test_without_a_declared_period_the_search_is_refused(client, keys, person):
    assert refusal(search(client, keys["clinic"])) == (403, "DISASTER_ACCESS_FORBIDDEN")


def test_an_institution_outside_the_prefectures_is_refused_and_cannot_use_their_handles(
    client, keys, person, registry
):
    declare(registry, "27", "28")
    assert refusal(search(client, keys["clinic"])) == (403, "DISASTER_ACCESS_FORBIDDEN")
    with registry.begin() as conn:
        osaka = add_institution(conn, OSAKA, "梅田クリニック")
    [candidate] = found(client, osaka)  # the patient may come from anywhere
    assert refusal(view(client, keys["clinic"], candidate["handle"])) == (404, "NOT_FOUND")
    assert view(client, osaka, candidate["handle"], "/medications").status_code == 200


def test_a_period_opens_on_its_first_day(client, keys, person, registry, clock):
    tomorrow = today_in_japan() + dt.timedelta(days=1)
    declare(registry, "13", starts=1, ends=1)
    assert refusal(search(client, keys["clinic"])) == (403, "DISASTER_ACCESS_FORBIDDEN")
    clock(japan(tomorrow) - dt.timedelta(microseconds=1))
    assert refusal(search(client, keys["clinic"])) == (403, "DISASTER_ACCESS_FORBIDDEN")
    clock(japan(tomorrow))
    assert len(found(client, keys["clinic"])) == 1


def test_a_period_closes_after_its_last_day_and_its_handles_with_it(
    client, keys, person, registry, clock
):
    tomorrow = today_in_japan() + dt.timedelta(days=1)
    declare(registry, "13")
    [candidate] = found(client, keys["clinic"])
    clock(japan(tomorrow) - dt.timedelta(microseconds=1))
    assert view(client, keys["clinic"], candidate["handle"], "/medications").status_code == 200
    clock(japan(tomorrow))
    for page in ("", "/medications", "/checkups"):
        response = view(client, keys["clinic"], candidate["handle"], page)
        assert refusal(response) == (403, "DISASTER_ACCESS_FORBIDDEN")
    assert refusal(search(client, keys["clinic"])) == (403, "DISASTER_ACCESS_FORBIDDEN")


def test_a_period_ended_early_closes_at_once(client, keys, person, registry):
    disaster_id = declare(registry, "13", ends=30)
    [candidate] = found(client, keys["clinic"])
    with registry.begin() as conn:
        disasters.end(conn, disaster_id)
    response = view(client, keys["clinic"], candidate["handle"])
    assert refusal(response) == (403, "DISASTER_ACCESS_FORBIDDEN")
    declare(registry, "13")  # a new period: the old handles stay closed, a new search works
    assert refusal(view(client, keys["clinic"], candidate["handle"])) == (
        403,
        "DISASTER_ACCESS_FORBIDDEN",
    )
    [again] = found(client, keys["clinic"])
    assert view(client, keys["clinic"], again["handle"]).status_code == 200


def test_a_search_that_would_list_strangers_is_refused(client, keys, person, registry):
    declare(registry, "13")
    add_namesakes(registry, 2)
    assert len(found(client, keys["clinic"])) == 3  # as many as a search lists
    add_namesakes(registry, 3)
    response = search(client, keys["clinic"])
    assert refusal(response) == (422, "DISASTER_SEARCH_TOO_BROAD")
    assert "candidates" not in response.get_json()
    [candidate] = found(client, keys["clinic"], address="東京都千代田区")
    assert candidate["address_area"] == "東京都千代田区"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"birth_date": None}, ["birth_date"]),
        ({"sex": None}, ["sex"]),
        ({"name_kana": "　 "}, ["name or name_kana"]),
        (
            {"name_kana": None, "birth_date": None, "sex": None},
            ["name or name_kana", "birth_date", "sex"],
        ),
    ],
)
def test_a_search_with_too_little_information_is_refused(
    client, keys, person, registry, fields, missing
):
    declare(registry, "13")
    body = {name: value for name, value in {**SEARCH, **fields}.items() if value is not None}
    response = client.post("/api/v1/disaster-searches", json=body, headers=bearer(keys["clinic"]))
    assert refusal(response) == (422, "DISASTER_SEARCH_INCOMPLETE")
    assert response.get_json()["error"]["details"] == {"missing": missing}


@pytest.mark.parametrize(
    "fields",
    [
        {"name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ"},  # half width
        {"name_kana": "やまだたろう"},  # hiragana, no space
        {"name_kana": None, "name": "山田　太郎"},  # full-width space
        {"name": " "},  # a blank name is not given
        {"name": "山田太郎", "address": "東京都千代田区霞が関１－２"},  # full-width digits
    ],
)
def test_names_and_addresses_match_whatever_their_width_spaces_or_kana(
    client, keys, person, registry, fields
):
    declare(registry, "13")
    body = {name: value for name, value in {**SEARCH, **fields}.items() if value is not None}
    assert len(found(client, keys["clinic"], **body)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"name_kana": "ヤマダ"},  # a part of the name is not the name
        {"name": "山田 太郎", "name_kana": "ヤマダ ジロウ"},  # every given field must match
        {"sex": "2"},
        {"birth_date": "1980-05-02"},
        {"address": "大阪府"},
    ],
)
def test_a_partial_or_different_field_matches_nobody(client, keys, person, registry, fields):
    declare(registry, "13")
    assert found(client, keys["clinic"], **fields) == []


def test_disaster_searches_have_a_tight_limit_of_their_own(client, keys, person, registry):
    declare(registry, "13")
    statuses = [search(client, keys["clinic"]).status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]
    assert refusal(search(client, keys["clinic"])) == (429, "TOO_MANY_REQUESTS")
    assert search(client, keys["pharmacy"]).status_code == 200  # another account
    assert client.post("/api/v1/card-sessions", headers=bearer(keys["clinic"])).status_code == 201


def test_the_disaster_search_limit_is_a_setting(environment):
    settings = load_settings({**environment, "ELIGSIM_DISASTER_SEARCH_RATE_LIMIT": "2 per minute"})
    app = create_app(settings, TESTING=True)
    client, registry = app.test_client(), app.extensions["registry"]
    try:
        with registry.begin() as conn:
            key = add_institution(conn, CLINIC, "霞が関内科クリニック")
            upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
        declare(registry, "13")
        assert [search(client, key).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        registry.dispose()


def test_a_misspelt_disaster_search_limit_stops_the_service_from_starting(environment):
    environment = {**environment, "ELIGSIM_DISASTER_SEARCH_RATE_LIMIT": "six a minute"}
    with pytest.raises(SettingsError, match="ELIGSIM_DISASTER_SEARCH_RATE_LIMIT"):
        create_app(load_settings(environment))


@pytest.mark.sqlite  # SQLite's query plan
def test_the_search_reads_only_people_born_that_day_through_the_index(registry):
    query = disasters.DisasterSearch(birth_date=dt.date(1980, 5, 1), sex="1")
    with registry.connect() as conn:  # SQLite's plan
        statement = disasters.same_birth(query).compile(
            conn, compile_kwargs={"literal_binds": True}
        )
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    details = " ".join(row.detail for row in plan)
    assert "USING INDEX ix_persons_birth_date (birth_date=?)" in details
    assert "SCAN persons" not in details


def test_every_disaster_search_and_look_is_audited_as_such(client, keys, person, registry):
    assert search(client, keys["clinic"]).status_code == 403
    disaster_id = declare(registry, "13")
    [candidate] = found(client, keys["clinic"], staff_id="nurse-7")
    view(client, keys["clinic"], candidate["handle"])
    view(client, keys["clinic"], candidate["handle"], "/medications")
    view(client, keys["pharmacy"], candidate["handle"])  # not the pharmacy's handle
    found(client, keys["clinic"], birth_date="1990-01-01")
    add_namesakes(registry, 3)
    search(client, keys["clinic"])
    columns = ("action", "institution_code", "staff_id", "person_id", "category", "outcome")
    entries = audit_rows(registry, *columns)
    assert entries == [
        ("disaster_search", CLINIC, None, None, None, "DISASTER_ACCESS_FORBIDDEN"),
        ("disaster_period", None, operator_name(), None, f"disaster:{disaster_id}", "declared"),
        ("disaster_search", CLINIC, "nurse-7", person, None, "shown"),
        ("disaster_view", CLINIC, "nurse-7", person, "eligibility", "shown"),
        ("disaster_view", CLINIC, "nurse-7", person, "medication", "shown"),
        ("disaster_view", PHARMACY, None, None, None, "NOT_FOUND"),
        ("disaster_search", CLINIC, None, None, None, "NOT_FOUND"),
        ("disaster_search", CLINIC, None, None, None, "DISASTER_SEARCH_TOO_BROAD"),
    ]


def test_the_patient_sees_disaster_access_marked(client, keys, card, person, registry):
    present_card(client, keys["clinic"], card)
    declare(registry, "13")
    [candidate] = found(client, keys["pharmacy"])
    view(client, keys["pharmacy"], candidate["handle"], "/medications")

    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    marked = [(e["institution_code"], e["action"], e["disaster_access"]) for e in log]
    assert marked[:2] == [
        (PHARMACY, "disaster_view", True),
        (PHARMACY, "disaster_search", True),
    ]
    assert {e["disaster_access"] for e in log[2:]} == {False}  # the card visit's entries


@pytest.mark.postgres
def test_the_period_rules_and_the_report_on_postgresql(environment):
    with scratch_postgres("eligsim_disaster") as url:
        app = create_app(load_settings({**environment, "DATABASE_URL": url}), TESTING=True)
        registry, client = app.extensions["registry"], app.test_client()
        try:
            assert registry.dialect == "postgresql"
            with registry.begin() as conn:
                key = add_institution(conn, CLINIC, "霞が関内科クリニック")
                person = upsert_record(conn, PERSON_RECORD.load(BASE_RECORD))
            disaster_id = declare(registry, "13")
            [candidate] = found(client, key)
            assert view(client, key, candidate["handle"], "/medications").status_code == 200
            with registry.begin() as conn:
                disasters.end(conn, disaster_id)
            assert view(client, key, candidate["handle"]).status_code == 403
            with registry.connect() as conn:
                report = disasters.disaster_access(conn, today_in_japan(), today_in_japan())
            assert [(e["action"], e["person_id"], e["outcome"]) for e in report] == [
                ("disaster_period", None, "declared"),
                ("disaster_search", person, "shown"),
                ("disaster_view", person, "shown"),
                ("disaster_period", None, "ended"),
                ("disaster_view", person, "DISASTER_ACCESS_FORBIDDEN"),
            ]
        finally:
            registry.dispose()
