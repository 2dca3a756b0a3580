"""Everything the synthetic population generator makes imports back: its export passes the
importer's validation line by line, outliers included (they are clamped to the importer's bounds)."""

import datetime as dt

import pytest

from app.database import migrate
from payer_registry import importer
from payer_registry.db import Registry
from payer_registry.exporter import export_lines
from payer_registry.seeding import seed_population
from payer_registry.synthetic import medical

REFERENCE = dt.date(2026, 4, 1)


def exported_population(tmp_path, persons: int, seed: int):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    migrate(registry)
    seed_population(registry, persons, seed, reference_date=REFERENCE, workers=0)
    path = tmp_path / "population.jsonl"
    with registry.connect() as conn, path.open("w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in export_lines(conn))
    registry.dispose()
    return path


def refused_lines(path) -> list[str]:
    return [str(error) for parsed in importer.parse_file(path) for error in parsed.errors]


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_every_generated_person_passes_the_importers_validation(tmp_path, seed):
    path = exported_population(tmp_path, 2_000, seed)
    assert sum(1 for _ in importer.parse_file(path)) == 2_000
    assert refused_lines(path) == []


def test_outlying_measures_are_clamped_to_what_the_importer_takes(tmp_path, monkeypatch):
    monkeypatch.setattr(medical, "_lognormal", lambda rng, median, spread: 10**6)
    path = exported_population(tmp_path, 300, 3)

    assert refused_lines(path) == []
    checkups = [c for parsed in importer.parse_file(path) for c in parsed.record["checkups"]]
    assert checkups, "people of checkup age were generated"
    assert {(c["triglycerides"], c["ast"], c["alt"], c["gamma_gt"]) for c in checkups} == {
        (5000, 5000, 5000, 5000)
    }
