"""No input gives a 500: arbitrary JSON bodies, query values and path values sent to every operation
of the OpenAPI document the service serves, with a valid key, as an attacker would send them (raw
bytes, lone surrogates, integers too long for ``int``, nesting too deep for the parser). Every
answer is below 500, and every refusal is in the one error shape with its documented status.

Bounded and deterministic (derandomized, a few dozen examples an operation) so that CI stays stable.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.web.errors import ERROR_CODES
from tests.api.conftest import bearer

METHODS = ("get", "post", "put", "patch", "delete")
EXAMPLES_PER_OPERATION = 100

# Text as an attacker types it: any code point, lone surrogates included, plus look-alikes.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    ["²1130012", "０１１３００１２", "06139992\n", "\x00", "\ud800", "..", "%", "a" * 300]
)
RAW_SCALARS = st.one_of(
    st.sampled_from(["null", "true", "false", "NaN", "Infinity", "-1e999", "1e999", '"\\ud800"']),
    st.integers().map(str),
    st.integers(min_value=4000, max_value=6000).map(lambda digits: "9" * digits),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    ANY_TEXT.map(json.dumps),  # json.dumps escapes a lone surrogate as \udXXX, as a client would
)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(members: dict[str, str]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in members.items()) + "}"


RAW_JSON = st.recursive(
    RAW_SCALARS,
    lambda children: (
        st.lists(children, max_size=4).map(_array)
        | st.dictionaries(ANY_TEXT, children, max_size=4).map(_object)
    ),
    max_leaves=12,
)
DEEP_JSON = st.integers(min_value=30, max_value=100_000).map(
    lambda depth: "[" * depth + "]" * depth
)


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def body_properties(document: dict, operation: dict) -> list[str]:
    """The property names of the operation's JSON body, so that bodies reach the fields."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


def bodies(properties: list[str]) -> st.SearchStrategy[tuple[bytes, str]]:
    """A body and its media type: JSON over the real fields, any JSON, deep JSON, or raw bytes."""
    json_text = st.one_of(
        st.dictionaries(st.sampled_from(properties or ["x"]), RAW_JSON, max_size=6).map(_object),
        RAW_JSON,
        DEEP_JSON,
    ).map(lambda text: (text.encode("utf-8", "surrogatepass"), "application/json"))
    raw = st.tuples(st.binary(max_size=200), st.sampled_from(["application/json", "text/plain"]))
    return json_text | raw


def query_strings(parameters: list[str]) -> st.SearchStrategy[str]:
    """No query (so that the body is looked at), the documented names with any values, or any
    names at all."""
    pairs = st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=3)
    if parameters:
        pairs |= st.lists(st.tuples(st.sampled_from(parameters), ANY_TEXT), max_size=4)
    encoded = pairs.map(lambda items: "&".join(f"{_quoted(n)}={_quoted(v)}" for n, v in items))
    return st.tuples(st.integers(0, 2), encoded).map(lambda drawn: drawn[1] if drawn[0] else "")


def _quoted(text: str) -> str:
    """Percent-encoded bytes, lone surrogates too (as UTF-8 would spell them, invalid as it is)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        body = response.get_json()
        if body.get("resourceType") == "OperationOutcome":  # the FHIR views' one error shape
            issue = body["issue"][0]
            error = {"code": issue["details"]["coding"][0]["code"], "message": issue["diagnostics"]}
        else:
            error = body["error"]
            assert set(error) == {"code", "message", "details"}
            assert isinstance(error["details"], dict)
        assert ERROR_CODES[error["code"]][0] == response.status_code, error


@pytest.fixture
def attacker(app, client, keys, person):
    """The served document and a way to call any operation with the key it takes."""
    app.config["TESTING"] = False  # errors go through the error handlers, as in production
    demo = app.config["SETTINGS"].var_dir / "demo"  # the reader station acts as the clinic
    demo.mkdir()
    (demo / "api-key").write_text(keys["clinic"])
    document = client.get("/api/v1/openapi.json").get_json()
    return document, client, keys


def credentials(client, path: str, keys: dict) -> dict:
    """The key the operation takes; for the reader station, the token its own page carries."""
    if path.startswith("/frontdesk/api"):
        page = client.get("/").get_data(as_text=True)
        token = re.search(r'name="station-token" content="([^"]*)"', page)
        return {"X-Station-Token": token.group(1)} if token else {}
    return bearer(keys["payer"] if path.startswith("/api/v1/payer") else keys["clinic"])


def test_the_sweep_reaches_every_operation(attacker):
    document, _, _ = attacker
    assert len(operations(document)) >= 25


def test_no_input_gives_a_server_error(attacker):
    document, client, keys = attacker
    for path, method, operation in operations(document):
        parameters = operation.get("parameters", [])
        path_names = [p["name"] for p in parameters if p["in"] == "path"]
        query_names = [p["name"] for p in parameters if p["in"] == "query"]
        request = st.fixed_dictionaries(
            {
                "path": st.fixed_dictionaries({name: ANY_TEXT for name in path_names}),
                "query": query_strings(query_names),
                "body": bodies(body_properties(document, operation))
                if "requestBody" in operation
                else st.none(),
            }
        )
        send_arbitrary_requests(client, credentials(client, path, keys), path, method, request)


def send_arbitrary_requests(client, headers, path, method, request) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request)
    def send(drawn: dict) -> None:
        url = path
        for name, value in drawn["path"].items():
            url = url.replace("{" + name + "}", _quoted(value) or "x")
        data, content_type = drawn["body"] or (None, None)
        response = client.open(
            f"{url}?{drawn['query']}",
            method=method.upper(),
            data=data,
            content_type=content_type,
            headers=headers,
        )
        assert_no_server_error(response)

    send()
