"""Payer updates through the command line: import, export, show, stats on SQLite and PostgreSQL."""

import json
import re

import pytest
from click.testing import CliRunner

from app.cli import main
from payer_registry.repository import counts
from tests.registry.conftest import BASE_RECORD, DETAILED_RECORD, qualification, with_details


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
        post_code="100-0013",
        qualifications=[
            qualification("06139992:12-34:5678:02", "2015-04-01", relationship="family")
            | {
                "card_classification": "03",
                "certificate_issued_on": "2024-08-01",
                "card_valid_from": "2024-08-01",
                "card_valid_until": "2025-01-31",
            }
        ],
        medications=[],
        limit_certificates=[
            {
                "classification": "02",
                "bracket_code": "A05",
                "valid_from": "2024-08-01",
                "valid_until": "2025-07-31",
                "issued_on": "2024-08-09",
                "long_term_on": "2024-11-01",
            }
        ],
        specific_disease_certificates=[
            {"category": "1", "self_pay_limit": 10_000, "valid_from": "2020-04-01"}
            | {"valid_until": None, "issued_on": "2020-03-25"}
        ],
    )
    source = write_lines(tmp_path / "in.jsonl", [make_record(), family])
    assert cli("registry", "import", source).exit_code == 0
    first = cli("registry", "export").output
    assert len(first.splitlines()) == 2
    exported_family = json.loads(first.splitlines()[1])
    assert exported_family["post_code"] == "100-0013"
    assert exported_family["qualifications"][0] == {
        **family["qualifications"][0],
        "insurer_name": "テスト保険者",
    }
    assert exported_family["limit_certificates"] == family["limit_certificates"]
    assert (
        exported_family["specific_disease_certificates"]
        == (family["specific_disease_certificates"])
    )

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


def test_an_old_format_file_imports_without_the_certificate_details(cli, tmp_path):
    """A line written before post codes, card dates and certificate issue dates existed."""
    old = {key: value for key, value in BASE_RECORD.items() if key != "post_code"}
    assert "certificate_issued_on" not in old["qualifications"][0]
    assert "issued_on" not in old["limit_certificates"][0]
    assert cli("registry", "import", write_lines(tmp_path / "old.jsonl", [old])).exit_code == 0

    exported = json.loads(cli("registry", "export").output)
    assert exported["post_code"] is None
    assert exported["qualifications"][0]["certificate_issued_on"] is None
    assert exported["qualifications"][0]["card_valid_until"] is None
    assert exported["limit_certificates"][0]["issued_on"] is None
    assert exported["limit_certificates"][0]["long_term_on"] is None
    shown = json.loads(
        cli("registry", "show", "06139992:12-34:5678:01", "--at", "2024-09-01").output
    )
    assert shown["eligibility"]["validity_code"] == "1"
    assert shown["eligibility"]["post_code"] is None
    assert shown["eligibility"]["certificate_issued_on"] is None


def test_show_carries_the_certificate_details_and_the_real_systems_codes(cli, tmp_path):
    cli("registry", "import", write_lines(tmp_path / "in.jsonl", [DETAILED_RECORD]))
    shown = json.loads(
        cli("registry", "show", "06139992:12-34:5678:01", "--at", "2024-09-01").output
    )
    eligibility = shown["eligibility"]
    assert (eligibility["validity"], eligibility["validity_code"]) == ("valid", "1")
    assert (eligibility["relationship"], eligibility["relationship_code"]) == ("self", "1")
    assert eligibility["post_code"] == "100-0013"
    assert eligibility["certificate_issued_on"] == "2015-04-01"
    assert eligibility["card_valid_from"] == "2015-04-01"
    assert eligibility["card_valid_until"] is None
    assert eligibility["limit_certificate"]["issued_on"] == "2024-08-01"
    assert eligibility["limit_certificate"]["long_term_on"] is None
    assert shown["record"]["post_code"] == "100-0013"

    lost = json.loads(
        cli("registry", "show", "06139992:12-34:5678:01", "--at", "2010-01-01").output
    )
    assert (lost["eligibility"]["validity"], lost["eligibility"]["validity_code"]) == (
        "not_found",
        "4",
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"post_code": "1000013"}, "post_code", "must be NNN-NNNN"),
        ({"post_code": "１００-００１３"}, "post_code", "must be NNN-NNNN"),
        (
            {"qualifications.0.certificate_issued_on": "2015-04-02"},
            "qualifications.0.card_valid_from",
            "must not be before certificate_issued_on",
        ),
        (
            {"qualifications.0.card_valid_until": "2015-03-31"},
            "qualifications.0.card_valid_until",
            "must not be before card_valid_from",
        ),
        (
            {"qualifications.0.card_classification": "08"},
            "qualifications.0.card_classification",
            "Must be one of",
        ),
        (
            {"limit_certificates.0.long_term_on": "2024-10-01"},
            "limit_certificates.0.long_term_on",
            "only a certificate that reduces the standard meal cost",
        ),
        (
            {"limit_certificates.0.issued_on": "2031-01-01"},
            "limit_certificates.0.valid_until",
            "must not be before issued_on",
        ),
        (
            {"limit_certificates.0.issued_on": "2024-13-01"},
            "limit_certificates.0.issued_on",
            "Not a valid date",
        ),
    ],
)
def test_certificate_details_are_validated(cli, tmp_path, change, field, message):
    record = with_details(BASE_RECORD)
    for path, value in change.items():
        *parents, last = path.split(".")
        target = record
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    result = cli("registry", "import", write_lines(tmp_path / "in.jsonl", [record]))
    assert result.exit_code == 1
    assert f"line 1: {field}: {message}" in result.output


@pytest.mark.parametrize("classification", ["04", "06", "07"])
def test_the_newer_card_classifications_are_accepted(cli, tmp_path, classification):
    record = with_details(BASE_RECORD)
    record["qualifications"][0]["card_classification"] = classification
    assert cli("registry", "import", write_lines(tmp_path / "in.jsonl", [record])).exit_code == 0
    shown = json.loads(cli("registry", "show", "06139992:12-34:5678:01").output)
    assert shown["eligibility"]["card_classification"] == classification


def test_csv_with_the_certificate_detail_columns(cli, tmp_path):
    source = tmp_path / "payer.csv"
    source.write_text(
        "insured_number,insurer_name,name,name_kana,birth_date,sex,post_code,relationship,"
        "card_classification,insured_name,acquired_on,certificate_issued_on,card_valid_from,"
        "card_valid_until\n"
        "130013:千代田1:42:00,千代田区,鈴木 一郎,スズキ イチロウ,1970-01-02,1,100-0013,self,"
        "03,鈴木 一郎,2020-04-01,2024-08-01,2024-08-01,2025-01-31\n"
        "130013:千代田1:43:00,千代田区,鈴木 二郎,スズキ ジロウ,1972-01-02,1,,self,"
        "01,鈴木 二郎,2020-04-01,,,\n",
        encoding="utf-8",
    )
    assert cli("registry", "import", source).exit_code == 0
    short_term = json.loads(
        cli("registry", "show", "130013:千代田1:42:00", "--at", "2024-09-01").output
    )["eligibility"]
    assert short_term["post_code"] == "100-0013"
    assert short_term["card_classification"] == "03"
    assert (short_term["certificate_issued_on"], short_term["card_valid_until"]) == (
        "2024-08-01",
        "2025-01-31",
    )
    plain = json.loads(cli("registry", "show", "130013:千代田1:43:00").output)["eligibility"]
    assert (plain["post_code"], plain["card_valid_from"]) == (None, None)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "insured_number,insurer_name,name,name_kana,birth_date,sex,relationship,insured_name,"
        "acquired_on,certificate_issued_on,card_valid_from\n"
        "130013:千代田1:44:00,千代田区,鈴木 三郎,スズキ サブロウ,1975-01-02,1,self,鈴木 三郎,"
        "2020-04-01,2024-08-02,2024-08-01\n",
        encoding="utf-8",
    )
    result = cli("registry", "import", bad)
    assert result.exit_code == 1
    assert (
        "line 2: qualifications.0.card_valid_from: must not be before certificate_issued_on"
        in result.output
    )


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

    seeded = json.loads(exported.read_text(encoding="utf-8").splitlines()[0])
    number = seeded["qualifications"][-1]["insured_number"]
    shown = json.loads(cli("registry", "show", number, "--at", "2026-11-29").output)
    eligibility = shown["eligibility"]
    assert re.fullmatch(r"[0-9]{3}-[0-9]{4}", eligibility["post_code"])
    assert eligibility["post_code"] == seeded["post_code"]
    assert eligibility["certificate_issued_on"] == eligibility["card_valid_from"]
    assert eligibility["acquired_on"] <= eligibility["certificate_issued_on"] <= "2026-11-29"
    assert eligibility["validity_code"] in ("1", "2", "3")
    assert (
        eligibility["relationship_code"]
        == {"self": "1", "family": "2"}[eligibility["relationship"]]
    )

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    imported = cli("registry", "import", exported)
    assert imported.exit_code == 0, imported.output[:2000]
    assert cli("registry", "export").output == exported.read_text(encoding="utf-8")
