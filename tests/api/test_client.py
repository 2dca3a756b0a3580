"""The integrators' client (app.client) against the service served on a loopback port."""

import datetime as dt
import json

import pytest
from werkzeug.wrappers import Request, Response

from app.client import FrontDeskClient, FrontDeskError
from app.service.accounts import add_reader_key
from card_reader.card_file import save_card
from card_reader.errors import WrongPin
from card_reader.face_reader import FaceReader
from card_reader.transport import InProcessTransport
from tests.api.conftest import CLINIC
from tests.live_server import free_port, serve_in_thread

STEPS = ["challenge", "certificate", "pin", "signature", "verification"]


@pytest.fixture
def url(app):
    with serve_in_thread(app) as base_url:
        yield base_url


@pytest.fixture
def front_desk(url, keys) -> FrontDeskClient:
    return FrontDeskClient(url, keys["clinic"])


def test_a_whole_visit_from_a_card_file(front_desk, card, tmp_path):
    path = tmp_path / "patient.card"
    save_card(path, card.state)
    steps = []
    visit = front_desk.run_visit(
        path, "1234", ["medication"], on_step=lambda name, _text: steps.append(name)
    )
    assert steps == STEPS
    assert (visit.method, visit.eligibility["validity"]) == ("pin", "valid")
    assert [c["category"] for c in visit.consents] == ["medication"]
    page = front_desk.medications(visit.visit_id, page_size=1)
    assert (page["total"], page["page_size"], len(page["items"])) == (1, 1, 1)
    assert dt.date.fromisoformat(page["items"][0]["dispensed_on"])
    assert front_desk.visit(visit.visit_id)["method"] == "pin"
    with pytest.raises(FrontDeskError) as refused:
        front_desk.checkups(visit.visit_id)
    assert (refused.value.code, refused.value.status) == ("CONSENT_REQUIRED", 403)


def test_paging_and_date_filters_reach_the_api(front_desk, card):
    visit = front_desk.run_visit(InProcessTransport(card), "1234", ["medication"])
    future = front_desk.medications(visit.visit_id, date_from=dt.date(2099, 1, 1))
    assert future["total"] == 0
    with pytest.raises(FrontDeskError) as invalid:
        front_desk.medications(visit.visit_id, page_size=1000)
    assert (invalid.value.code, invalid.value.status) == ("VALIDATION_FAILED", 422)


def test_a_face_visit_needs_no_pin(front_desk, card, registry, tmp_path):
    reader = FaceReader.load_or_create(tmp_path)
    with registry.begin() as conn:
        add_reader_key(conn, CLINIC, "受付1", reader.public_key_pem())
    steps = []
    visit = front_desk.run_visit(
        InProcessTransport(card),
        None,
        iter(["medication"]),  # read once for the reader's attestation, once for the server
        face_reader=reader,
        on_step=lambda n, _t: steps.append(n),
    )
    assert visit.method == "face" and "pin" not in steps and "face" in steps
    assert [c["category"] for c in visit.consents] == ["medication"]
    assert front_desk.medications(visit.visit_id)["total"] == 1


def test_a_wrong_pin_is_a_card_error_and_nothing_is_verified(front_desk, card):
    with pytest.raises(WrongPin) as wrong:
        front_desk.run_visit(InProcessTransport(card), "9999")
    assert wrong.value.tries_left == 2


def test_eligibility_by_numbers(front_desk, person):
    eligibility = front_desk.check_eligibility(
        "06139992", "5678", dt.date(1980, 5, 1), symbol="12-34", branch="01"
    )
    assert eligibility["validity"] == "valid"
    assert "limit_certificate" not in eligibility


def test_api_errors_carry_the_stable_code(url, card):
    with pytest.raises(FrontDeskError) as refused:
        FrontDeskClient(url, "esk_wrong_key").create_card_session()
    assert (refused.value.code, refused.value.status) == ("AUTH_INVALID", 401)
    assert str(refused.value) == "the API key is not valid [AUTH_INVALID]"


def test_an_unreachable_service_is_one_clear_error():
    with pytest.raises(FrontDeskError) as unreachable:
        FrontDeskClient(f"http://127.0.0.1:{free_port()}", "key").health()
    assert unreachable.value.code == "SERVICE_UNREACHABLE"
    assert "Connection refused" in unreachable.value.message


def _batch_stub(polls_before_done: int):
    """Stands in for the batch endpoints: accepts a batch, reports it running, then done."""
    polls = []

    @Request.application
    def stub(request: Request) -> Response:
        if request.method == "POST" and request.path == "/api/v1/batches":
            inquiries = request.get_json()["inquiries"]
            body = {"reception_number": "R-1", "status": "queued", "total": len(inquiries)}
            return Response(json.dumps(body), 202, content_type="application/json")
        if request.path == "/api/v1/batches/R-1":
            polls.append(1)
            status = "done" if len(polls) > polls_before_done else "running"
            return Response(json.dumps({"status": status}), content_type="application/json")
        return Response("not JSON", 500)

    return stub


def test_batch_submit_and_poll():
    with serve_in_thread(_batch_stub(polls_before_done=2)) as url:
        client = FrontDeskClient(url, "key")
        number = client.submit_batch([{"insurer_number": "06139992"}], dt.date(2026, 4, 1))
        assert number == "R-1"
        assert client.wait_for_batch(number, interval=0.01)["status"] == "done"


def test_an_answer_without_the_error_shape_is_a_bad_response():
    with (
        serve_in_thread(_batch_stub(polls_before_done=0)) as url,
        pytest.raises(FrontDeskError) as bad,
    ):
        FrontDeskClient(url, "key").health()
    assert (bad.value.code, bad.value.status) == ("BAD_RESPONSE", 500)


def test_a_batch_that_never_finishes_times_out():
    endless = _batch_stub(polls_before_done=10**6)
    with serve_in_thread(endless) as url, pytest.raises(FrontDeskError) as timeout:
        FrontDeskClient(url, "key").wait_for_batch("R-1", timeout=0.05, interval=0.01)
    assert timeout.value.code == "BATCH_TIMEOUT"
