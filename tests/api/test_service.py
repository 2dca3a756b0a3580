def test_health_reports_the_database(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "sqlite"}


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
