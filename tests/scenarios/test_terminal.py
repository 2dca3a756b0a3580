"""Every scenario gives through the eligibility terminal's file interface what docs/scenarios.md says:
the face result of its card visit, or the result of its check by numbers."""

import xml.etree.ElementTree as ET

import pytest

from app.service.visits import visits_after
from app.terminal.answers import Terminal
from app.training.scenarios import Method
from payer_registry.eligibility import VALIDITY_CODES, Validity
from payer_registry.identifiers import is_late_stage_elderly
from tests.scenarios.conftest import CLINIC
from tests.scenarios.test_api import PIN_STATES, _select, visit


def codes(root: ET.Element) -> dict[str, str | None]:
    def text(name: str) -> str | None:
        found = root.find(f".//{name}")
        return None if found is None else found.text

    return {
        "validity": text("QualificationValidity"),
        "ratio": text("InsuredPartialContributionRatio"),
        "bracket": text("LimitApplicationCertificateClassificationFlag"),
        "disease": text("SpecificDiseasesDiseaseCategory"),
    }


def expected_codes(scenario) -> dict[str, str | None]:
    expected = scenario.expected
    late_stage = is_late_stage_elderly(scenario.check.insurer_number)
    return {
        "validity": VALIDITY_CODES[Validity(expected.validity)],
        "ratio": f"{expected.copay_ratio:03d}" if late_stage and expected.copay_ratio else None,
        "bracket": expected.limit_bracket,
        "disease": expected.specific_disease,
    }


@pytest.fixture
def terminal(app, clinic_key):
    return Terminal(app.extensions["service"], CLINIC)


@pytest.mark.parametrize(
    "scenario",
    **_select(
        lambda s: s.method is Method.CARD and s.card not in PIN_STATES and s.expected.validity
    ),
)
def test_card_scenario_face_result(client, clinic_key, cards, terminal, scenario):
    response = visit(client, clinic_key, cards(scenario), scenario)
    assert response.status_code == 201
    (opened,) = visits_after(terminal.ctx, CLINIC, None)
    result = ET.fromstring(terminal.face_result(opened).data)
    assert codes(result) == expected_codes(scenario)


@pytest.mark.parametrize("scenario", **_select(lambda s: s.method is Method.NUMBERS))
def test_number_scenario_result(terminal, scenario):
    check = scenario.check
    consent = "1" if "limit_certificate" in scenario.consents else "0"
    branch = f"<InsuredBranchNumber>{check.branch}</InsuredBranchNumber>" if check.branch else ""
    request = (
        f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{check.insurer_number}</InsurerNumber>"
        f"<InsuredCardSymbol>{check.symbol}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{check.number}</InsuredIdentificationNumber>{branch}"
        f"<Birthdate>{check.birth_date:%Y%m%d}</Birthdate>"
        f"<LimitApplicationCertificateRelatedConsFlg>{consent}"
        "</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )
    result = ET.fromstring(terminal.answer("OQSsiquc01req_s.xml", request.encode()).data)
    assert codes(result) == expected_codes(scenario)
