"""What a payer's file can no longer do through ``eligsim registry import``: plant absurd dates,
smuggle look-alike digits or a trailing newline into an identifier, hold text no database stores,
or be read in a codec that garbles it; and a CSV file's rejects can be fixed and imported again."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from app.cli import main
from payer_registry.eligibility import today_in_japan
from payer_registry.repository import counts
from tests.registry.conftest import BASE_RECORD
from tests.registry.test_import_export import CSV_HEADER, write_lines


@pytest.fixture
def cli(registry, monkeypatch):
    """Run ``eligsim`` against the fixture's registry (SQLite, then PostgreSQL)."""
    monkeypatch.setenv("DATABASE_URL", registry.url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def persons(registry) -> int:
    with registry.connect() as conn:
        return counts(conn)["persons"]


def refused(cli, registry, path, message):
    result = cli("registry", "import", path)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert persons(registry) == 0


@pytest.mark.parametrize(
    "birth_date",
    ["9999-12-31", "1899-12-31", (today_in_japan() + dt.timedelta(days=1)).isoformat()],
)
def test_a_birth_date_in_the_future_or_before_1900_is_refused(
    cli,
    registry,
    make_record,
    tmp_path,
    birth_date,
):
    source = write_lines(tmp_path / "payer.jsonl", [make_record(birth_date=birth_date)])
    refused(cli, registry, source, "line 1: birth_date: must be between 1900-01-01 and today")


def test_a_person_born_today_or_in_1900_is_imported(cli, registry, make_record, tmp_path):
    today = make_record(birth_date=today_in_japan().isoformat())
    old = make_record(birth_date="1900-01-01")
    old["qualifications"] = [
        {**old["qualifications"][0], "insured_number": "06139992:12-34:5678:02"}
    ]
    source = write_lines(tmp_path / "payer.jsonl", [today, old])
    assert cli("registry", "import", source).exit_code == 0
    assert persons(registry) == 2


def _qualification(**changes):
    return [{**BASE_RECORD["qualifications"][0], **changes}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"qualifications": _qualification(acquired_on="9999-12-31")},
            "qualifications.0.acquired_on",
        ),
        (
            {"qualifications": _qualification(acquired_on="1899-12-31")},
            "qualifications.0.acquired_on",
        ),
        (
            {"qualifications": _qualification(lost_on="2201-01-01", loss_reason="99")},
            "qualifications.0.lost_on",
        ),
        (
            {"qualifications": _qualification(card_valid_until="9999-12-31")},
            "qualifications.0.card_valid_until",
        ),
        (
            {
                "limit_certificates": [
                    {**BASE_RECORD["limit_certificates"][0], "valid_until": "9999-12-31"}
                ]
            },
            "limit_certificates.0.valid_until",
        ),
        (
            {"medications": [{**BASE_RECORD["medications"][0], "dispensed_on": "0001-01-01"}]},
            "medications.0.dispensed_on",
        ),
    ],
)
def test_dates_outside_1900_to_2200_are_refused(
    cli,
    registry,
    make_record,
    tmp_path,
    change,
    field,
):
    source = write_lines(tmp_path / "payer.jsonl", [make_record(**change)])
    refused(cli, registry, source, f"line 1: {field}: Must be greater than or equal to 1900-01-01")


@pytest.mark.parametrize(
    "number",
    [
        "²6139992:12-34:5678:01",  # a superscript digit: str.isdigit() says yes, int() says no
        "０６１３９９９2:12-34:5678:01",  # full-width digits that passed the check digit
        "06139992:12-34:5678:01\n",  # a trailing newline passed the pattern's $
    ],
)
def test_identifiers_take_ascii_digits_only_and_nothing_after_them(
    cli,
    registry,
    make_record,
    tmp_path,
    number,
):
    record = make_record(qualifications=_qualification(insured_number=number))
    source = write_lines(tmp_path / "payer.jsonl", [record])
    refused(cli, registry, source, "line 1: qualifications.0.insured_number:")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            json.dumps({**BASE_RECORD, "name": "山田\ud800"}),
            "a string holds a NUL character or a lone surrogate",
            id="lone-surrogate",
        ),
        pytest.param(
            json.dumps({**BASE_RECORD, "name": "山田\x00"}),
            "a string holds a NUL character or a lone surrogate",
            id="nul",
        ),
        pytest.param(
            '{"name": ' + "9" * 5000 + "}", "an integer of more than 20 digits", id="huge-integer"
        ),
        pytest.param(
            "[" * 100_000 + "]" * 100_000, "nested more than 32 levels deep", id="deep-nesting"
        ),
        pytest.param(
            json.dumps(BASE_RECORD).replace('"quantity": 1.0', '"quantity": NaN'),
            "NaN is not a JSON number",
            id="nan",
        ),
    ],
)
def test_json_no_database_could_store_is_refused_by_line(
    cli,
    registry,
    tmp_path,
    line,
    message,
):
    source = tmp_path / "payer.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    refused(cli, registry, source, f"line 1: (line): {message}")


def test_csv_rejects_keep_the_header_so_they_can_be_fixed_and_imported_again(
    cli,
    registry,
    tmp_path,
):
    good = "06139992:A:1:00,霞が関健康保険組合,佐藤 一郎,サトウ イチロウ,1985-02-03,1,self,佐藤 一郎,2020-04-01,,,"
    bad = "06139992:A:2:00,霞が関健康保険組合,佐藤 花子,サトウ ハナコ,9999-12-31,2,self,佐藤 花子,2020-04-01,,,"
    source = tmp_path / "payer.csv"
    source.write_text(CSV_HEADER + good + "\n" + bad + "\n", encoding="utf-8")
    assert cli("registry", "import", "--skip-invalid", source).exit_code == 0

    rejects = tmp_path / "payer.rejects.csv"
    assert rejects.read_text(encoding="utf-8") == CSV_HEADER + bad + "\n"
    fixed = rejects.read_text(encoding="utf-8").replace("9999-12-31", "1987-06-05")
    rejects.write_text(fixed, encoding="utf-8")
    again = cli("registry", "import", rejects)
    assert again.exit_code == 0, again.output
    assert "imported 1 record(s)" in again.output
    assert persons(registry) == 2


def test_an_encoding_other_than_utf8_or_shift_jis_is_one_clear_line(
    cli,
    registry,
    make_record,
    tmp_path,
):
    source = write_lines(tmp_path / "payer.jsonl", [make_record()])
    result = cli("registry", "import", "--encoding", "latin-1", source)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: unsupported encoding 'latin-1'; use utf-8 or shift_jis"
    )
    assert persons(registry) == 0


@pytest.mark.parametrize(
    ("encoding", "alias"), [("utf-8", "UTF8"), ("shift_jis", "sjis"), ("cp932", "ms932")]
)
def test_the_usual_names_of_utf8_and_shift_jis_are_accepted(
    cli,
    registry,
    make_record,
    tmp_path,
    encoding,
    alias,
):
    source = write_lines(tmp_path / "payer.jsonl", [make_record()], encoding=encoding)
    result = cli("registry", "import", "--encoding", alias, source)
    assert result.exit_code == 0, result.output
    assert persons(registry) == 1
