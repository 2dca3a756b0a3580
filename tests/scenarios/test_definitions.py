"""The scenario definitions: pinned to literal facts, true on any day, disjoint from the synthetic
population, documented in docs/scenarios.md, and seeded by ``eligsim registry seed --scenarios``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.training.scenario_doc import markdown
from app.training.scenarios import Method, scenarios, seed_scenarios
from payer_registry.confirmation import confirm_by_numbers, confirm_person
from payer_registry.identifiers import insurer_kind, parse_insured_number, validate_insurer_number
from payer_registry.models import Person, Qualification
from payer_registry.repository import find_person
from payer_registry.seeding import seed_population
from tests.scenarios.conftest import SCENARIOS

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
# slug: (how it is checked, card state, validity, co-pay %, bracket, refusal), written independently
FACTS = {
    "valid-30": ("card", "linked", "valid", 30, None, None),
    "preschool-20": ("card", "linked", "valid", 20, None, None),
    "elderly-70-20": ("card", "linked", "valid", 20, None, None),
    "elderly-70-30": ("card", "linked", "valid", 30, None, None),
    "late-75-10": ("card", "linked", "valid", 10, None, None),
    "late-75-20": ("card", "linked", "valid", 20, None, None),
    "late-75-30": ("card", "linked", "valid", 30, None, None),
    "limit-a01": ("card", "linked", "valid", 30, "A01", None),
    "limit-a02": ("card", "linked", "valid", 30, "A02", None),
    "limit-a03": ("card", "linked", "valid", 30, "A03", None),
    "limit-a04": ("card", "linked", "valid", 30, "A04", None),
    "limit-a05": ("card", "linked", "valid", 30, "A05", None),
    "limit-b01": ("card", "linked", "valid", 30, "B01", None),
    "limit-b02": ("card", "linked", "valid", 30, "B02", None),
    "limit-b03": ("card", "linked", "valid", 30, "B03", None),
    "limit-b04": ("card", "linked", "valid", 10, "B04", None),
    "limit-b05": ("card", "linked", "valid", 20, "B05", None),
    "limit-b06": ("card", "linked", "valid", 10, "B06", None),
    "qualification-lost": ("numbers", "linked", "invalid", None, None, None),
    "job-change-new-exists": ("numbers", "linked", "invalid_new_exists", None, None, None),
    "job-change-not-registered": ("numbers", "linked", "not_found", None, None, None),
    "multiple-matches": ("numbers", None, "multiple", None, None, None),
    "card-not-linked": ("card", "not_linked", None, None, None, "CARD_NOT_LINKED"),
    "certificate-expired": ("card", "expired", None, None, None, "CERT_EXPIRED"),
    "certificate-revoked": ("card", "revoked", None, None, None, "CERT_REVOKED"),
    "card-renewed": ("card", "renewed", "valid", 30, None, None),
    "pin-one-try-left": ("card", "one_try_left", "valid", 30, None, "PIN_LAST_TRY"),
    "pin-locked": ("card", "locked", None, None, None, "PIN_LOCKED"),
    "specific-disease": ("card", "linked", "valid", 30, None, None),
    "long-medication": ("card", "linked", "valid", 30, None, None),
    "worsening-hba1c": ("card", "linked", "valid", 30, None, None),
    "clinical-surgery": ("card", "linked", "valid", 30, None, None),
    "duplicate-two-clinics": ("card", "linked", "valid", 30, None, None),
    "duplicate-without-consent": ("card", "linked", "valid", 30, None, None),
}
DAYS = [dt.date(2024, 2, 29), dt.date(2025, 3, 31), dt.date(2025, 4, 1), dt.date(2031, 12, 31)]


def test_definitions_match_the_literal_facts():
    assert {
        slug: (
            str(s.method),
            s.card and str(s.card),
            s.expected.validity,
            s.expected.copay_ratio,
            s.expected.limit_bracket,
            s.expected.refusal,
        )
        for slug, s in SCENARIOS.items()
    } == FACTS


def test_a_few_definitions_in_detail():
    assert SCENARIOS["valid-30"].insured_number == "01130012:訓練:0001:00"
    assert SCENARIOS["late-75-10"].insured_number.startswith("39131008:訓練:")
    assert SCENARIOS["multiple-matches"].check.branch is None
    assert SCENARIOS["specific-disease"].expected.specific_disease == "1"
    assert SCENARIOS["worsening-hba1c"].expected.records == {"checkup": 5}
    assert SCENARIOS["clinical-surgery"].expected.records == {"clinical": 3, "surgery": 2}
    assert SCENARIOS["long-medication"].expected.records["medication"] >= 100
    assert SCENARIOS["duplicate-two-clinics"].expected.duplicate_check == {
        "2171022F1016": "duplicate",
        "2171014G1062": "same_class",
        "3962002F2082": "none",
    }
    assert SCENARIOS["duplicate-without-consent"].consents == ()


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_every_person_has_a_post_code_and_issued_cards(today):
    """霞が関's post code; the card issued on acquisition (employees' insurers) or at the latest
    1 August renewal (National Health Insurance, the late-stage system), never after today or the
    loss."""
    for scenario in scenarios(today):
        for record in scenario.records:
            assert record["post_code"] == "100-0013"
            for q in record["qualifications"]:
                issued = dt.date.fromisoformat(q["certificate_issued_on"])
                assert q["card_valid_from"] == q["certificate_issued_on"]
                assert q["card_valid_until"] is None
                assert q["acquired_on"] <= q["certificate_issued_on"] <= today.isoformat()
                assert q["lost_on"] is None or q["certificate_issued_on"] < q["lost_on"]
                kind = insurer_kind(parse_insured_number(q["insured_number"]).insurer)
                renewed = kind in ("national_health_insurance", "late_stage_elderly")
                assert issued.isoformat() == q["acquired_on"] or (
                    renewed and (issued.month, issued.day) == (8, 1)
                )
            for section in ("elderly_certificates", "limit_certificates"):
                for certificate in record[section]:
                    assert certificate["issued_on"] <= today.isoformat()


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_the_registry_answers_as_defined_on_any_day(sqlite_registry, today):
    defined = seed_scenarios(sqlite_registry, today)
    with sqlite_registry.connect() as conn:
        for scenario in defined:
            if scenario.method is Method.NUMBERS:
                result = confirm_by_numbers(conn, scenario.check, today)
            else:
                result = confirm_person(conn, find_person(conn, scenario.holder_number).id, today)
            expected = scenario.expected
            assert str(result.validity) == (expected.validity or "valid"), scenario.slug
            if expected.copay_ratio:
                assert result.copay_ratio == expected.copay_ratio, scenario.slug
            bracket = (result.limit_certificate or {}).get("bracket_code")
            assert bracket == expected.limit_bracket, scenario.slug


def test_seeding_again_replaces_the_people(sqlite_registry):
    for _ in range(2):
        seed_scenarios(sqlite_registry, DAYS[0])
    people = sum(len(s.records) for s in SCENARIOS.values())
    with sqlite_registry.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Person)).scalar_one() == people


def test_scenarios_never_collide_with_the_synthetic_population(sqlite_registry):
    seed_population(sqlite_registry, 400, seed=1, workers=0)
    with sqlite_registry.connect() as conn:
        synthetic = set(conn.execute(select(Qualification.insured_number)).scalars())
    seed_scenarios(sqlite_registry, dt.date.today())
    numbers = {q["insured_number"] for s in SCENARIOS.values() for r in s.records for q in r["qualifications"]}  # fmt: skip
    assert not numbers & synthetic
    assert not any(parse_insured_number(n).symbol == "訓練" for n in synthetic)
    for number in numbers:
        validate_insurer_number(parse_insured_number(number).insurer)


def test_no_individual_number_anywhere():
    text = json.dumps([s.records for s in SCENARIOS.values()], ensure_ascii=False)
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


def test_the_committed_document_matches_the_code_on_any_day():
    assert {markdown(scenarios(day)) for day in DAYS} == {DOC.read_text(encoding="utf-8")}


def test_seed_scenarios_command_issues_cards_and_manifest_idempotently(tmp_path, monkeypatch):
    monkeypatch.setenv("ELIGSIM_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ELIGSIM_JPKI_DIR", raising=False)
    runs = [CliRunner().invoke(main, ["registry", "seed", "--scenarios"]) for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[-1].output
    assert "valid-30" in runs[-1].output
    manifest = json.loads((tmp_path / "scenarios" / "scenarios.json").read_text(encoding="utf-8"))
    assert [entry["slug"] for entry in manifest] == list(FACTS)
    for entry in manifest:
        assert {"slug", "title_ja", "title_en", "card", "pin", "insured_number", "method_hint",
                "expected", "next_step_ja", "next_step_en"} <= set(entry)  # fmt: skip
        assert entry["card"] is None or (tmp_path / entry["card"]).is_file()
