"""The API's fixtures, with the sample person given a training scenario's medical history."""

import datetime as dt

import pytest
from fhir.resources import construct_fhir_element

from app.training.scenario_records import People
from payer_registry.records import PERSON_RECORD
from payer_registry.writer import upsert_record
from tests.api.conftest import (  # noqa: F401 (fixtures, found by name)
    app,
    card,
    client,
    environment,
    jpki_dir,
    keys,
    other_clinic,
    registry,
)
from tests.registry.conftest import BASE_RECORD


@pytest.fixture
def person(registry):  # noqa: F811 (the fixture imported above)
    """The sample person (06139992:12-34:5678:01) with the worsening-checkup patient's history:
    three chronic drugs refilled for years and five yearly checkups."""
    people = People(dt.date.today(), "12-34")
    record = {
        **BASE_RECORD,
        "post_code": "100-8916",
        "medications": people.medication_history(),
        "checkups": people.worsening_checkups(),
    }
    with registry.begin() as conn:
        return upsert_record(conn, PERSON_RECORD.load(record))


def valid_r4(resource: dict) -> dict:
    """The resource, after the R4 4.0.1 models of fhir.resources accepted it (raises if not)."""
    construct_fhir_element(resource["resourceType"], resource)
    return resource
