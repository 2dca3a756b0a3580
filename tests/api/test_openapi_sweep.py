"""A property-based sweep of every documented operation: no 5xx, and every response matches the
OpenAPI document the service serves (schemathesis, bounded in examples and time)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import bearer


@pytest.fixture
def api_schema(app, keys, person):
    app.config["TESTING"] = False  # errors must go through the error handlers, as in production
    demo = app.config["SETTINGS"].var_dir / "demo"  # the reader station acts as the clinic
    demo.mkdir()
    (demo / "api-key").write_text(keys["clinic"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.app_key = keys["clinic"]
    # a body over the upload limit is refused as too large (413) before its content is looked at
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_document(case, api_schema):
    # Schema-valid is not always domain-valid (a check digit, an unknown session): such requests
    # rightly answer 4xx, so only the "valid data is accepted" check is left out.
    case.call_and_validate(
        headers=bearer(api_schema.app_key), excluded_checks=[positive_data_acceptance]
    )
