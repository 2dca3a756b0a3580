"""The duplicate-medication check (重複投薬等チェック, docs/rules.md §7) through the HTTP API: the
same ingredient over overlapping days is a duplicate, the same class a warning, prescriptions of
other institutions count at once, and the details show only under a medication consent here."""

import datetime as dt
import json

import pytest

from tests.api.conftest import OTHER_CLINIC, bearer, visit_of
from tests.api.test_consent_choice import error_of
from tests.api.test_portal import portal_token

AMLODIPINE = "2171022F1016"  # the sample person's dispensed drug: 2171022F1234, 2024-05-10, 28 days
NIFEDIPINE = "2171014G1062"  # the same class (2171), another ingredient
METFORMIN = "3962002F2082"
DISPENSED_ON, LAST_DAY = dt.date(2024, 5, 10), dt.date(2024, 6, 6)


def check(client, key, visit_id, *drugs, **extra):
    body = {"visit_id": visit_id, "drugs": list(drugs), **extra}
    return client.post("/api/v1/prescription-checks", json=body, headers=bearer(key))


def planned(code=AMLODIPINE, start=DISPENSED_ON, days=14) -> dict:
    return {"drug_code": code, "start_on": start.isoformat(), "days": days}


def prescription(visit_id: str, **changes) -> dict:
    return {
        "visit_id": visit_id,
        "drug_code": AMLODIPINE,
        "drug_name": "アムロジピン錠5mg「サワイ」",
        "ingredient": "アムロジピンベシル酸塩",
        "quantity": 1,
        "unit": "錠",
        "usage": "1日1回朝食後",
        "days": 28,
        **changes,
    }


def test_a_dispensed_drug_of_the_same_ingredient_is_a_duplicate_shown_in_full(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card, medication=True)
    response = check(client, keys["clinic"], visit_id, planned(start=dt.date(2024, 6, 1)))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["finding"], body["details_shown"]) == ("duplicate", True)
    [result] = body["results"]
    assert result["drug_name"] == "アムロジピン錠5mg「サワイ」"
    assert (result["finding"], result["same_class"]) == ("duplicate", [])
    assert result["duplicates"] == [
        {
            "source": "dispensed",
            "drug_code": "2171022F1234",
            "drug_name": "アムロジピン錠5mg「サワイ」",
            "ingredient": "アムロジピンベシル酸塩",
            "institution_code": "1311234567",
            "institution_name": "霞が関内科クリニック",
            "start_on": "2024-05-10",
            "last_day": "2024-06-06",
            "days": 28,
            "usage": "1日1回朝食後",
        }
    ]


@pytest.mark.parametrize(
    ("start", "days", "finding"),
    [
        (LAST_DAY + dt.timedelta(days=1), 14, "none"),  # the dispensed drug ends the day before
        (LAST_DAY, 14, "duplicate"),  # ... or on the planned first day
        (DISPENSED_ON - dt.timedelta(days=9), 9, "none"),  # it starts the day after the plan ends
        (DISPENSED_ON - dt.timedelta(days=9), 10, "duplicate"),  # ... or on its last day
    ],
    ids=["ends-day-before", "ends-on-first-day", "starts-day-after", "starts-on-last-day"],
)
def test_the_days_of_use_overlap_exactly(client, keys, card, start, days, finding):
    visit_id = visit_of(client, keys["clinic"], card, medication=True)
    body = check(client, keys["clinic"], visit_id, planned(start=start, days=days)).get_json()
    assert body["results"][0]["finding"] == finding
    assert len(body["results"][0]["duplicates"]) == (finding == "duplicate")


def test_the_same_therapeutic_class_is_a_weaker_warning(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card, medication=True)
    body = check(
        client, keys["clinic"], visit_id, planned(NIFEDIPINE), planned(METFORMIN)
    ).get_json()
    nifedipine, metformin = body["results"]
    assert body["finding"] == "same_class"
    assert (nifedipine["finding"], nifedipine["duplicates"]) == ("same_class", [])
    assert [c["drug_code"] for c in nifedipine["same_class"]] == ["2171022F1234"]
    assert (metformin["finding"], metformin["duplicates"], metformin["same_class"]) == (
        "none",
        [],
        [],
    )


def test_without_a_medication_consent_only_the_ingredient_is_told(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card, checkup=True)
    plan = dt.date(2024, 6, 1)
    response = check(
        client, keys["clinic"], visit_id, planned(start=plan), planned(NIFEDIPINE, plan)
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["finding"], body["details_shown"]) == ("duplicate", False)
    duplicate, same_class = body["results"]
    assert duplicate["duplicates"] == [{"ingredient": "アムロジピンベシル酸塩"}]
    assert same_class["same_class"] == [{"ingredient": "アムロジピンベシル酸塩"}]
    text = json.dumps(body, ensure_ascii=False)
    for hidden in ("霞が関内科クリニック", "2171022F1234", "2024-05-10", "2024-06-06", "1日1回"):
        assert hidden not in text


def test_a_later_decline_hides_the_details_again(client, keys, card):
    first = visit_of(client, keys["clinic"], card, medication=True)
    visit_of(client, keys["clinic"], card)
    body = check(client, keys["clinic"], first, planned()).get_json()
    assert (body["details_shown"], body["results"][0]["duplicates"]) == (
        False,
        [{"ingredient": "アムロジピンベシル酸塩"}],
    )


def test_another_institutions_prescription_counts_at_once(client, keys, card, other_clinic):
    today = dt.date.today()
    at_other = visit_of(client, other_clinic, card)
    recorded = client.post(
        "/api/v1/prescriptions",
        json=prescription(at_other, issued_on=today.isoformat()),
        headers=bearer(other_clinic),
    )
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["institution_code"] == OTHER_CLINIC

    here = visit_of(client, keys["clinic"], card, medication=True)
    body = check(client, keys["clinic"], here, planned(start=today + dt.timedelta(days=27)))
    [duplicate] = body.get_json()["results"][0]["duplicates"]
    assert (duplicate["source"], duplicate["institution_name"]) == (
        "prescribed",
        "日比谷クリニック",
    )
    assert duplicate["last_day"] == (today + dt.timedelta(days=27)).isoformat()
    later = check(client, keys["clinic"], here, planned(start=today + dt.timedelta(days=28)))
    assert later.get_json()["results"][0]["finding"] == "none"


def test_a_consent_at_another_institution_shows_nothing_here(client, keys, card, other_clinic):
    visit_of(client, other_clinic, card, medication=True)
    here = visit_of(client, keys["clinic"], card)
    body = check(client, keys["clinic"], here, planned()).get_json()
    assert (body["finding"], body["details_shown"]) == ("duplicate", False)


@pytest.mark.parametrize(
    "drug",
    [
        {"drug_code": "2171022", "days": 14},
        {"drug_code": "2171022f1016", "days": 14},
        {"drug_code": "2171022F1016\n", "days": 14},
        {"drug_code": "２１７１０２２F1016", "days": 14},
        {"drug_code": AMLODIPINE, "days": 0},
        {"drug_code": AMLODIPINE, "days": 366},
        {"drug_code": AMLODIPINE, "days": "14"},
        {"drug_code": AMLODIPINE, "days": 14, "start_on": "1899-12-31"},
        {"drug_code": AMLODIPINE, "days": 14, "start_on": "2201-01-01"},
        {"drug_code": AMLODIPINE, "days": 14, "dose": 1},
        {"days": 14},
    ],
)
def test_a_bad_planned_drug_is_refused_with_the_error_shape(client, keys, card, drug):
    visit_id = visit_of(client, keys["clinic"], card)
    response = check(client, keys["clinic"], visit_id, drug)
    assert error_of(response) == (422, "VALIDATION_FAILED")
    assert "drugs" in response.get_json()["error"]["details"]["json"]


@pytest.mark.parametrize("drugs", [[], [planned()] * 21])
def test_a_check_takes_one_to_twenty_drugs(client, keys, card, drugs):
    visit_id = visit_of(client, keys["clinic"], card)
    assert error_of(check(client, keys["clinic"], visit_id, *drugs)) == (422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "changes",
    [
        {"drug_code": "ABC"},
        {"drug_name": ""},
        {"ingredient": "x" * 101},
        {"quantity": 0},
        {"days": 0},
        {"issued_on": "9999-12-31"},
        {"usage": None},
    ],
)
def test_a_bad_prescription_is_refused_with_the_error_shape(client, keys, card, changes):
    visit_id = visit_of(client, keys["clinic"], card)
    response = client.post(
        "/api/v1/prescriptions",
        json=prescription(visit_id, **changes),
        headers=bearer(keys["clinic"]),
    )
    assert error_of(response) == (422, "VALIDATION_FAILED")
    assert set(response.get_json()["error"]["details"]["json"]) == set(changes)


def test_a_visit_of_another_institution_is_not_found(client, keys, card, other_clinic):
    theirs = visit_of(client, other_clinic, card, medication=True)
    for visit_id in (theirs, "no-such-visit"):
        checked = check(client, keys["clinic"], visit_id, planned())
        recorded = client.post(
            "/api/v1/prescriptions", json=prescription(visit_id), headers=bearer(keys["clinic"])
        )
        assert error_of(checked) == (404, "NOT_FOUND")
        assert error_of(recorded) == (404, "NOT_FOUND")
        assert "ingredient" not in checked.get_data(as_text=True)


def test_only_institutions_check(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    assert error_of(check(client, keys["payer"], visit_id, planned())) == (403, "AUTH_WRONG_KIND")
    response = client.post("/api/v1/prescription-checks", json={"visit_id": visit_id})
    assert error_of(response) == (401, "AUTH_REQUIRED")


def test_every_check_is_audited_and_listed_in_the_patients_portal(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    check(client, keys["clinic"], visit_id, planned(), planned(METFORMIN))
    check(client, keys["clinic"], visit_id, planned(METFORMIN))

    token = portal_token(client, card)
    listed = client.get("/api/v1/portal/me/prescription-checks", headers=bearer(token))
    assert listed.status_code == 200
    newest, oldest = listed.get_json()["checks"]
    assert (newest["institution_name"], newest["finding"]) == ("霞が関内科クリニック", "none")
    assert [(d["drug_code"], d["finding"]) for d in oldest["drugs"]] == [
        (AMLODIPINE, "duplicate"),
        (METFORMIN, "none"),
    ]
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    audited = [(e["action"], e["category"], e["outcome"]) for e in log[:2]]
    assert audited == [
        ("prescription_check", "medication", "no_duplicate"),
        ("prescription_check", "medication", "duplicate"),
    ]


def test_a_recorded_prescription_is_audited(client, keys, card):
    visit_id = visit_of(client, keys["clinic"], card)
    client.post(
        "/api/v1/prescriptions", json=prescription(visit_id), headers=bearer(keys["clinic"])
    )
    token = portal_token(client, card)
    log = client.get("/api/v1/portal/me/access-log", headers=bearer(token)).get_json()["entries"]
    assert (log[0]["action"], log[0]["outcome"]) == ("prescription", "written")


def test_the_bundled_drug_list_is_served(client, keys):
    response = client.get("/api/v1/drugs", headers=bearer(keys["clinic"]))
    drugs = {d["drug_code"]: d for d in response.get_json()["drugs"]}
    assert drugs[AMLODIPINE]["ingredient"] == "アムロジピンベシル酸塩"
    assert len(drugs) == 63
