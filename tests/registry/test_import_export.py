"""Payer updates through the command line: import, export, show, stats on SQLite and PostgreSQL."""

import json

import pytest
from click.testing import CliRunner

from app.cli import main
from payer_registry.repository import counts
from tests.registry.conftest import qualification


@pytest.fixture
def cli(registry, monkeypatch):
    """Run ``eligsim`` against the fixture's registry."""
    monkeypatch.setenv("DATABASE_URL", registry.url)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


def write_lines(path, records, encoding="utf-8"):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding=encoding
    )
    return path


def test_export_then_import_round_trips(cli, registry, make_record, tmp_path):
    family = make_record(
        name="山田 花子",
        name_kana="ヤマダ ハナコ",
        sex="2",
        qualifications=[
            qualification("06139992:12-34:5678:02", "2015-04-01", relationship="family")
        ],
        medications=[],
        limit_certificates=[],
    )
    source = write_lines(tmp_path / "in.jsonl", [make_record(), family])
    assert cli("registry", "import", source).exit_code == 0
    first = cli("registry", "export").output
    assert len(first.splitlines()) == 2

    exported = tmp_path / "out.jsonl"
    exported.write_text(first, encoding="utf-8")
    assert cli("registry", "import", exported).exit_code == 0  # idempotent upsert
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 2
        assert counts(conn)["medications"] == 1
    assert cli("registry", "export").output == first
    assert json.loads(first.splitlines()[0])["qualifications"][0]["insured_number"] == (
        "06139992:12-34:5678:01"
    )


def test_a_file_with_invalid_lines_is_refused_whole(cli, registry, make_record, tmp_path):
    bad_branch = make_record(qualifications=[qualification("06139992:12-34:5678:1", "2015-04-01")])
    bad_date = make_record(birth_date="1980-13-01", sex="4")
    duplicate = make_record()
    source = tmp_path / "payer.jsonl"
    write_lines(source, [make_record(), bad_branch, bad_date, duplicate])
    with source.open("a", encoding="utf-8") as f:
        f.write("{not json\n")

    result = cli("registry", "import", source)

    assert result.exit_code == 1
    assert (
        "line 2: qualifications.0.insured_number: branch must be exactly two digits"
        in result.output
    )
    assert "line 3: birth_date: Not a valid date." in result.output
    assert "line 3: sex: Must be one of" in result.output
    assert "line 4: insured_number: 06139992:12-34:5678:01 is also on line 1" in result.output
    assert "line 5: (line): not JSON" in result.output
    assert "nothing was written" in result.output
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 0


def test_skip_invalid_writes_the_valid_lines_and_keeps_the_rejects(
    cli, registry, make_record, tmp_path
):
    source = write_lines(tmp_path / "payer.jsonl", [make_record(), make_record(sex="9")])
    result = cli("registry", "import", "--skip-invalid", source)
    assert result.exit_code == 0
    assert "imported 1 record(s)" in result.output
    rejects = tmp_path / "payer.rejects.jsonl"
    assert json.loads(rejects.read_text(encoding="utf-8"))["sex"] == "9"
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 1


CSV_HEADER = (
    "insured_number,insurer_name,name,name_kana,birth_date,sex,relationship,insured_name,"
    "acquired_on,lost_on,loss_reason,previous_insured_number\n"
)


def test_shift_jis_csv_import_and_job_change(cli, registry, tmp_path):
    first = tmp_path / "payer.csv"
    first.write_text(
        CSV_HEADER
        + "01130012:東京1:0001:00,全国健康保険協会東京支部,佐藤 一郎,サトウ イチロウ,1985-02-03,1,self,佐藤 一郎,"
        "2010-04-01,2024-04-01,03,\n",
        encoding="shift_jis",
    )
    assert cli("registry", "import", first).exit_code == 0
    change = tmp_path / "change.csv"
    change.write_text(
        CSV_HEADER
        + "06139992:A:77:00,霞が関健康保険組合,佐藤 一郎,サトウ イチロウ,1985-02-03,1,self,佐藤 一郎,"
        "2024-04-01,,,01130012:東京1:0001:00\n",
        encoding="utf-8",
    )
    assert cli("registry", "import", change).exit_code == 0

    shown = json.loads(
        cli("registry", "show", "01130012:東京1:0001:00", "--at", "2024-05-01").output
    )
    assert shown["eligibility"]["validity"] == "valid"
    assert shown["eligibility"]["insurer_number"] == "06139992"
    assert [q["insured_number"] for q in shown["record"]["qualifications"]] == [
        "01130012:東京1:0001:00",
        "06139992:A:77:00",
    ]
    with registry.connect() as conn:
        assert counts(conn)["persons"] == 1


def test_csv_with_unknown_columns_is_refused(cli, tmp_path):
    source = tmp_path / "payer.csv"
    source.write_text("insured_number,name,my_number\n", encoding="utf-8")
    result = cli("registry", "import", source)
    assert result.exit_code == 1
    assert "line 1: (header): unknown columns: my_number" in result.output


def test_show_and_stats(cli, make_record, tmp_path):
    cli("registry", "import", write_lines(tmp_path / "in.jsonl", [make_record()]))
    shown = json.loads(
        cli("registry", "show", "06139992:12-34:5678:01", "--at", "2024-09-01").output
    )
    assert shown["eligibility"]["validity"] == "valid"
    assert shown["eligibility"]["copay_ratio"] == 30
    assert shown["eligibility"]["limit_certificate"]["bracket_label"] == "ウ"
    assert shown["record"]["name"] == "山田 太郎"
    stats = cli("registry", "stats").output
    assert "persons" in stats
    assert "medications                                 1" in stats


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("registry", "show", "06139992:12-34:5678:1"), "branch must be exactly two digits"),
        (("registry", "show", "06139992:12-34:9999:01"), "no insured person with number"),
        (("registry", "import", "missing.jsonl"), "No such file or directory"),
        (("registry", "import", "payer.xlsx"), "unknown format"),
    ],
)
def test_errors_are_one_clear_line(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_seeded_population_round_trips(cli, registry, tmp_path, monkeypatch):
    """Everything the seeder and the scenarios write is importable as exported."""
    import datetime as dt

    from app.training.scenarios import seed_scenarios
    from payer_registry.seeding import seed_population

    seed_population(registry, 300, seed=3, reference_date=dt.date(2026, 11, 29), workers=0)
    seed_scenarios(registry, dt.date(2026, 11, 29))
    exported = tmp_path / "population.jsonl"
    exported.write_text(cli("registry", "export").output, encoding="utf-8")

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    imported = cli("registry", "import", exported)
    assert imported.exit_code == 0, imported.output[:2000]
    assert cli("registry", "export").output == exported.read_text(encoding="utf-8")
