"""The patient page marks disaster access (災害時): a search without a card and a look without a
consent by the demo clinic, during a declared period, in headless Chromium."""

import requests
from playwright.sync_api import expect

from app.training.scenarios import scenarios
from payer_registry.eligibility import today_in_japan
from tests.browser.conftest import _eligsim

SLUG = "long-medication"


def test_the_patient_sees_disaster_access_marked(page, base_url, var_dir, shot):
    today = today_in_japan().isoformat()
    _eligsim(
        var_dir, "disaster", "declare", "--prefecture", "13", "--from", today, "--until", today
    )
    patient = next(s for s in scenarios(today_in_japan()) if s.slug == SLUG).records[0]
    headers = {"Authorization": f"Bearer {(var_dir / 'demo' / 'api-key').read_text().strip()}"}
    fields = {key: patient[key] for key in ("name_kana", "birth_date", "sex")}
    answer = requests.post(
        f"{base_url}/api/v1/disaster-searches", json=fields, headers=headers, timeout=10
    )
    [candidate] = answer.json()["candidates"]
    url = f"{base_url}/api/v1/disaster-candidates/{candidate['handle']}/medications"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200

    page.goto("/patient")
    page.locator(f"input[name=reader][value='scenario:{SLUG}']").check()
    page.locator("#pin").fill("1234")
    page.get_by_role("button", name="ログイン").click()
    log = page.locator("#access-log")
    expect(log.locator("tbody tr").first).to_contain_text("同意なしの閲覧")
    expect(log.locator("tbody tr").first.locator(".mark.disaster")).to_have_text("災害時")
    expect(log.locator("tbody tr").nth(1)).to_contain_text("カードなしの検索")
    expect(log.locator(".mark.disaster")).to_have_count(2)
    shot(page, "patient-disaster-access-ja")
    page.get_by_role("button", name="English").click()
    expect(log.locator("tbody tr").first.locator(".mark.disaster")).to_have_text("Disaster")
