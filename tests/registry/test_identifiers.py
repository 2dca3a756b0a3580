import pytest

from payer_registry.identifiers import (
    IdentifierError,
    check_digit,
    insurer_kind,
    make_insurer_number,
    parse_insured_number,
    validate_institution_code,
    validate_insurer_number,
)


@pytest.mark.parametrize("number", ["01130012", "01270016", "39131008", "06139992", "138057"])
def test_real_insurer_numbers_have_valid_check_digits(number):
    assert validate_insurer_number(number) == number
    assert check_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("01130013", "wrong check digit"),
        ("0113001", "6 or 8 digits"),
        ("0113001A", "6 or 8 digits"),
        ("", "6 or 8 digits"),
        ("138058", "wrong check digit"),
        ("²1130012", "6 or 8 digits"),  # str.isdigit() is true for a superscript two
        ("０１１３００１2", "6 or 8 digits"),  # full-width digits, ASCII check digit
        ("01130012\n", "6 or 8 digits"),
    ],
)
def test_bad_insurer_numbers_are_refused(number, reason):
    with pytest.raises(IdentifierError, match=reason):
        validate_insurer_number(number)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("01130012", "national_association"),
        ("06139992", "society"),
        ("39131008", "late_stage_elderly"),
        ("32130019", "mutual_aid"),
        ("138057", "national_health_insurance"),
    ],
)
def test_insurer_kind_comes_from_the_law_code(number, kind):
    assert insurer_kind(number) == kind


def test_make_insurer_number_appends_the_check_digit():
    assert make_insurer_number("01", "13", "001") == "01130012"


def test_canonical_form_round_trips_and_keeps_leading_zeros():
    parsed = parse_insured_number("06139992:12-34:0056:01")
    assert (parsed.insurer, parsed.symbol, parsed.number, parsed.branch) == (
        "06139992",
        "12-34",
        "0056",
        "01",
    )
    assert str(parsed) == "06139992:12-34:0056:01"
    assert parsed.household == "06139992:12-34:0056:"


def test_symbol_may_be_empty_or_hold_kanji():
    assert str(parse_insured_number("138057::12345:00")) == "138057::12345:00"
    assert parse_insured_number("01130012:東京あ1:77:02").symbol == "東京あ1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("06139992:12-34:5678:1", "two digits"),
        ("06139992:12-34:5678:001", "two digits"),
        ("06139992:12-34:5678", "INSURER:SYMBOL:NUMBER:BRANCH"),
        ("06139993:12-34:5678:01", "check digit"),
        ("06139992:12 34:5678:01", "symbol"),
        ("06139992:12-34::01", "card number"),
        ("06139992:12-34:5678:01\n", "two digits"),  # `$` matched before a trailing newline
        ("06139992:12-34:5678\n:01", "card number"),
        ("06139992:12\x00:5678:01", "symbol"),
    ],
)
def test_malformed_insured_numbers_are_refused(text, reason):
    with pytest.raises(IdentifierError, match=reason):
        parse_insured_number(text)


@pytest.mark.parametrize("code", ["1311234567", "1331234567", "1341234567"])
def test_institution_codes(code):
    assert validate_institution_code(code) == code


@pytest.mark.parametrize("code", ["131123456", "1321234567", "13112345ab", "131123456７"])
def test_bad_institution_codes(code):
    with pytest.raises(IdentifierError):
        validate_institution_code(code)
