import re

from tests.conftest import TEST_DATABASE


def test_health_reports_the_database(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": TEST_DATABASE}


def test_unknown_path_answers_in_the_one_error_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert set(error) == {"code", "message", "details"}


def test_wrong_method_answers_in_the_one_error_shape(client):
    response = client.post("/api/v1/health")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_openapi_document_is_served(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/health" in document["paths"]


def test_docs_page_works_offline(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in page
    assert "//cdn" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert client.get(f"/api/v1/docs/assets/{asset}").status_code == 200


def test_the_document_in_the_repository_matches_the_code(client):
    import json

    from app.factory import OPENAPI_DOCUMENT as DOCUMENT

    served = client.get("/api/v1/openapi.json").get_json()
    kept = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert kept == served, (
        "docs/openapi.json is stale: run `eligsim openapi --out docs/openapi.json`"
    )


def test_every_operation_has_a_stable_named_operation_id(client):
    """Generated clients name their methods after operationId: every operation names itself (not a
    name derived from its path, such as post_api_v1_eligibility_checks), and no two share one."""
    document = client.get("/api/v1/openapi.json").get_json()
    operations = [
        (f"{method.upper()} {path}", operation.get("operationId"))
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method != "parameters"
    ]
    ids = [operation_id for _, operation_id in operations]
    assert [name for name, operation_id in operations if not operation_id] == []
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", operation_id) for operation_id in ids)
    assert not any("api_v1" in operation_id for operation_id in ids)
    assert {"check_eligibility", "verify_card", "submit_batch", "medication_records"} <= set(ids)
