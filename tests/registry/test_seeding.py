"""The synthetic population seeder: determinism, exact size, identifiers, households, the age rules
of the late-stage system and checkups, and its refusal of a populated registry."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

import pytest
from sqlalchemy import select, text

from app.database import migrate
from payer_registry.db import Registry
from payer_registry.eligibility import age_on
from payer_registry.identifiers import (
    insurer_kind,
    parse_insured_number,
    validate_institution_code,
    validate_insurer_number,
)
from payer_registry.models import Base
from payer_registry.seeding import RegistryNotEmpty, seed_population
from payer_registry.synthetic import TABLE_COLUMNS, batch_specs, generate_batch
from payer_registry.synthetic.reference import prefectures
from tests.conftest import scratch_postgres

REFERENCE = dt.date(2025, 4, 1)
SEEDED_TABLES = ("insurers", *TABLE_COLUMNS)


def new_registry(directory) -> Registry:
    registry = Registry(f"sqlite:///{directory / 'registry.db'}")
    migrate(registry)
    return registry


def export(registry: Registry) -> dict[str, list[tuple]]:
    """Every seeded row, table by table, in primary-key order."""
    with registry.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
            for name, table in Base.metadata.tables.items()
            if name in SEEDED_TABLES
        }


def seeded(tmp_path_factory, persons: int, seed: int, **options) -> dict[str, list[tuple]]:
    registry = new_registry(tmp_path_factory.mktemp("seeded"))
    seed_population(registry, persons, seed, reference_date=REFERENCE, **options)
    rows = export(registry)
    registry.dispose()
    return rows


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> dict[str, list[dict]]:
    """3,000 persons as dictionaries per table."""
    rows = seeded(tmp_path_factory, 3_000, 42)
    columns = {name: [c.name for c in Base.metadata.tables[name].columns] for name in rows}
    return {
        name: [dict(zip(columns[name], row, strict=True)) for row in rows[name]] for name in rows
    }


@pytest.fixture
def registry(tmp_path):
    registry = new_registry(tmp_path)
    yield registry
    registry.dispose()


def ages(population) -> dict[int, dt.date]:
    return {p["id"]: p["birth_date"] for p in population["persons"]}


def test_same_seed_same_rows_and_another_seed_other_rows(tmp_path_factory):
    first = seeded(tmp_path_factory, 400, 7)
    assert first == seeded(tmp_path_factory, 400, 7)
    assert first["persons"] != seeded(tmp_path_factory, 400, 8)["persons"]


def test_worker_processes_give_the_rows_of_in_process_generation(tmp_path_factory):
    """Three batches, so card numbers must stay unique across batches too."""
    persons = 10_500
    in_workers = seeded(tmp_path_factory, persons, 3, workers=1)
    assert in_workers == seeded(tmp_path_factory, persons, 3, workers=0)
    assert len(in_workers["persons"]) == persons


def test_exactly_the_persons_asked_for_with_progress(registry):
    reported = []
    summary = seed_population(registry, 1_234, 1, reported.append, REFERENCE)
    with registry.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM persons")).scalar_one() == 1_234
    assert sum(reported) == summary.persons == summary.rows["persons"] == 1_234
    assert 4 <= sum(summary.rows.values()) / 1_234 <= 8


def test_refuses_a_registry_that_holds_persons(registry):
    seed_population(registry, 10, 1, reference_date=REFERENCE)
    before = export(registry)
    with pytest.raises(RegistryNotEmpty, match="--reset"):
        seed_population(registry, 10, 2, reference_date=REFERENCE)
    assert export(registry) == before


def test_insurers_of_every_kind_with_valid_check_digits(population):
    numbers = {i["number"]: i for i in population["insurers"]}
    for number, insurer in numbers.items():
        assert validate_insurer_number(number) == number
        assert insurer["kind"] == insurer_kind(number)
    assert {"01130012", "01270016", "39131008", "06139992"} <= numbers.keys()
    kinds = {i["kind"] for i in numbers.values()}
    assert {
        "national_association",
        "society",
        "mutual_aid",
        "national_health_insurance",
        "late_stage_elderly",
    } <= kinds


def test_insured_numbers_are_unique_and_canonical(population):
    numbers = [q["insured_number"] for q in population["qualifications"]]
    assert len(numbers) == len(set(numbers))
    for q in population["qualifications"]:
        parsed = parse_insured_number(q["insured_number"])
        assert parsed.insurer == q["insurer_number"]


def test_households_share_the_card_number_and_differ_by_branch(population):
    cards = defaultdict(list)
    for q in population["qualifications"]:
        cards[parse_insured_number(q["insured_number"]).household].append(q)
    assert any(len(members) > 2 for members in cards.values())
    for members in cards.values():
        branches = [m["insured_number"][-2:] for m in members]
        assert len(set(branches)) == len(branches)
        assert [m["relationship"] for m in members].count("self") == 1
        assert len({m["insured_name"] for m in members}) == 1
        holder = next(m for m in members if m["relationship"] == "self")
        assert holder["insured_number"][-2:] in ("00", "01")


def test_everyone_75_and_over_is_in_the_late_stage_system_and_nobody_younger(population):
    births = ages(population)
    latest = {}
    for q in sorted(population["qualifications"], key=lambda q: q["acquired_on"]):
        latest[q["person_id"]] = q
    assert latest.keys() == births.keys()
    for person_id, q in latest.items():
        late_stage = insurer_kind(q["insurer_number"]) == "late_stage_elderly"
        assert late_stage == (age_on(births[person_id], REFERENCE) >= 75)


def test_checkups_only_at_40_to_74_within_five_years(population):
    births = ages(population)
    assert population["checkups"]
    for c in population["checkups"]:
        assert 40 <= age_on(births[c["person_id"]], c["examined_on"]) <= 74
        assert REFERENCE - dt.timedelta(days=5 * 365) <= c["examined_on"] < REFERENCE
        assert c["metabolic_judgement"] in ("1", "2", "3", "4")


def test_job_changes_with_and_without_the_new_insurer(population):
    by_person = defaultdict(list)
    for q in population["qualifications"]:
        by_person[q["person_id"]].append(q)
    changed = lagging = 0
    for history in by_person.values():
        for q in history:
            if q["loss_reason"] == "03":
                successors = [n for n in history if n["acquired_on"] == q["lost_on"]]
                assert all(n["insurer_number"] != q["insurer_number"] for n in successors)
                changed += bool(successors)
                lagging += not successors
    assert changed and lagging


def test_certificates_follow_age_and_the_copay_rules(population):
    births = ages(population)
    for c in population["elderly_certificates"]:
        assert 70 <= age_on(births[c["person_id"]], REFERENCE) <= 74
        assert c["copay_ratio"] in (20, 30)
    for c in population["limit_certificates"]:
        over_70 = age_on(births[c["person_id"]], REFERENCE) >= 70
        assert c["bracket_code"][0] == ("B" if over_70 else "A")
        assert c["classification"] in ("01", "02")
    limits = {
        (c["category"], c["self_pay_limit"]) for c in population["specific_disease_certificates"]
    }
    assert limits <= {("1", 10_000), ("1", 20_000), ("2", 10_000), ("3", 10_000)}


def test_post_codes_follow_the_city_and_the_town(population):
    """The three-digit area is the city's; neighbours in one town share the code, towns differ."""
    codes: dict[tuple[str, str], set[str]] = defaultdict(set)  # (city, town) -> codes
    for p in population["persons"]:
        assert re.fullmatch(r"[0-9]{3}-[0-9]{4}", p["post_code"])
        prefecture = next(pr for pr in prefectures().items if p["address"].startswith(pr.name))
        k, city = next(
            (k, prefecture.name + name)
            for k, name in enumerate(prefecture.cities)
            if p["address"].startswith(prefecture.name + name)
        )
        assert p["post_code"][:3] == prefecture.post_codes[k]
        town = p["address"].removeprefix(city).rstrip("0123456789-")
        codes[city, town].add(p["post_code"])
    assert all(len(found) == 1 for found in codes.values())
    by_city: dict[str, set[str]] = defaultdict(set)
    for (city, _), found in codes.items():
        by_city[city] |= found
    towns_by_city = {city: sum(c == city for c, _ in codes) for city in by_city}
    assert all(len(by_city[city]) == towns for city, towns in towns_by_city.items())


def test_cards_are_issued_on_acquisition_or_at_the_latest_renewal(population):
    for q in population["qualifications"]:
        issued, kind = q["certificate_issued_on"], insurer_kind(q["insurer_number"])
        assert q["card_valid_from"] == issued
        assert q["acquired_on"] <= issued <= REFERENCE
        assert q["lost_on"] is None or issued < q["lost_on"]
        if kind in ("national_health_insurance", "late_stage_elderly"):
            assert issued == q["acquired_on"] or issued.day == 1
        else:
            assert issued == q["acquired_on"]
        if q["card_classification"] in ("03", "04"):
            assert issued < q["card_valid_until"] <= issued + dt.timedelta(days=184)
            assert (q["card_valid_until"] + dt.timedelta(days=1)).month in (2, 8)
        else:
            assert q["card_valid_until"] is None


def test_certificates_carry_their_issue_dates(population):
    for c in population["elderly_certificates"]:
        assert c["issued_on"] <= min(c["valid_from"], REFERENCE)
    for c in population["limit_certificates"]:
        assert c["issued_on"] == c["valid_from"]
        if c["long_term_on"] is not None:
            assert c["classification"] == "02"
            assert c["valid_from"] < c["long_term_on"] <= REFERENCE
    for c in population["specific_disease_certificates"]:
        assert c["issued_on"] == c["valid_from"]


@pytest.mark.parametrize(
    ("reference", "classifications"),
    [
        (REFERENCE, {"01", "03", "06", "07"}),
        (dt.date(2019, 4, 1), {"01", "03", "04", "06", "07"}),  # the retiree system still ran
    ],
)
def test_rarer_card_classifications_only_where_they_apply(reference, classifications):
    """20,000 persons generated in process (no database): 04 is a retiree's (60-64) short-term
    National Health Insurance card, 06 a society's special retiree (60-74) with their family, 07 a
    national civil servant's (law code 31) own card."""
    rows = [
        row
        for spec in batch_specs(20_000, 11, reference)
        for row in generate_batch(spec)["qualifications"]
    ]
    columns = TABLE_COLUMNS["qualifications"]
    qualifications = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {q["card_classification"] for q in qualifications} == classifications
    holders = {
        parse_insured_number(q["insured_number"]).household: q
        for q in qualifications
        if q["relationship"] == "self"
    }
    for q in qualifications:
        card = q["card_classification"]
        holder = holders[parse_insured_number(q["insured_number"]).household]
        if card in ("03", "04"):
            assert insurer_kind(q["insurer_number"]) == "national_health_insurance"
        if card == "04":
            assert reference < dt.date(2020, 4, 1)
        if card == "06":
            assert insurer_kind(q["insurer_number"]) == "society"
            assert holder["card_classification"] == "06" and q["loss_reason"] in (None, "01")
        if card == "07":
            assert q["insurer_number"].startswith("31") and q["relationship"] == "self"
    assert sum(q["card_classification"] != "01" for q in qualifications) < 0.02 * len(rows)


def test_medical_records_are_recent_and_name_valid_institutions(population):
    three_years_back = REFERENCE - dt.timedelta(days=3 * 365)
    for m in population["medications"]:
        assert three_years_back <= m["prescribed_on"] <= m["dispensed_on"] < REFERENCE
        assert validate_institution_code(m["dispenser_code"])[2] in "14"
        assert validate_institution_code(m["prescriber_code"])[2] == "1"
        assert len(m["drug_code"]) == 12 and 7 <= m["days"] <= 90
    for r in population["procedure_records"]:
        assert three_years_back <= r["performed_on"] < REFERENCE
        assert r["kind"] in ("clinical", "surgery")
        assert r["kind"] != "surgery" or r["procedure_code"].startswith("K")


def test_no_individual_number_is_ever_generated(population):
    twelve_digits = re.compile(r"\d{12}")
    for table in ("persons", "qualifications"):
        for row in population[table]:
            assert not any(twelve_digits.search(str(value)) for value in row.values())


@pytest.fixture
def postgres_registry():
    with scratch_postgres("eligsim_seed") as url:
        registry = Registry(url)
        try:
            migrate(registry)
            yield registry
        finally:
            registry.dispose()


@pytest.mark.postgres
def test_postgres_gets_the_rows_sqlite_gets(postgres_registry, tmp_path_factory):
    seed_population(postgres_registry, 500, 5, reference_date=REFERENCE)
    assert export(postgres_registry) == seeded(tmp_path_factory, 500, 5)
    with postgres_registry.begin() as conn:  # the id sequences were moved past the explicit ids
        new_id = conn.execute(
            text(
                "INSERT INTO persons (name, name_kana, birth_date, sex, address, income_category) "
                "VALUES ('試験　太郎', 'シケン　タロウ', '1980-01-01', '1', '東京都', 'general') RETURNING id"
            )
        ).scalar_one()
    assert new_id > 500
    with pytest.raises(RegistryNotEmpty):
        seed_population(postgres_registry, 1, 5, reference_date=REFERENCE)
