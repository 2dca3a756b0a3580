"""The duplicate-medication check (重複投薬等チェック) on the front-desk page, in headless Chromium:
planned drugs searched in the bundled list, the answer with or without details by consent, and the
check listed on the patient page."""

from playwright.sync_api import expect

from tests.browser.test_pages import consent, enter_pin, open_reader, visit


def plan(page, query: str, name: str) -> None:
    page.locator("#drug-search").fill(query)
    page.locator("#drug-matches").get_by_role("button", name=name).click()


def run_check(page) -> None:
    page.get_by_role("button", name="重複をチェック").click()
    expect(page.locator("#duplicate-answer")).to_be_visible()


def test_a_duplicate_from_another_clinic_is_shown_in_full_under_consent(page, shot):
    visit(page, "scenario:duplicate-two-clinics")
    plan(page, "アムロジ", "アムロジピン錠5mg「サワイ」（アムロジピンベシル酸塩）")
    plan(page, "ニフェジピン", "ニフェジピンCR錠20mg「サワイ」（ニフェジピン）")
    plan(page, "3962002", "メトホルミン塩酸塩錠250mgMT「DSEP」（メトホルミン塩酸塩）")
    expect(page.locator("#duplicate-check table tbody tr")).to_have_count(3)
    run_check(page)
    duplicate, same_class, none = page.locator(".dup-result").all()
    expect(duplicate).to_have_attribute("data-finding", "duplicate")
    expect(duplicate.locator(".badge")).to_have_text("重複あり")
    expect(duplicate).to_contain_text("日比谷循環器クリニック")
    expect(duplicate).to_contain_text("霞が関内科クリニック")
    expect(same_class.locator(".badge")).to_have_text("同じ薬効分類")
    expect(same_class).to_contain_text("アムロジピン錠5mg「サワイ」")
    expect(none.locator(".badge")).to_have_text("重複なし")
    expect(page.locator("#duplicate-check")).not_to_contain_text("null")
    page.locator("#duplicate-check").scroll_into_view_if_needed()
    shot(page, "frontdesk-duplicate-check-ja")
    page.get_by_role("button", name="English").click()
    expect(duplicate.locator(".badge")).to_have_text("Duplicate")
    page.get_by_role("button", name="日本語").click()


def test_without_the_consent_only_the_ingredient_is_told(page, shot):
    open_reader(page, "scenario:duplicate-without-consent")
    enter_pin(page, "1234")
    consent(page, all_categories=False)
    plan(page, "ランソ", "ランソプラゾールOD錠15mg「トーワ」（ランソプラゾール）")
    run_check(page)
    answer = page.locator(".dup-result")
    expect(answer.locator(".badge")).to_have_text("重複あり")
    expect(answer).to_contain_text("同じ成分の薬が処方・調剤されています: ランソプラゾール")
    expect(answer).to_contain_text("「薬剤情報」の同意がある場合のみ")
    expect(answer).not_to_contain_text("クリニック")
    expect(answer.locator("table")).to_have_count(0)
    shot(page, "frontdesk-duplicate-check-no-consent-ja")


def test_the_patient_page_lists_the_checks_made_on_them(page):
    reader = "scenario:duplicate-without-consent"
    open_reader(page, reader)
    enter_pin(page, "1234")
    consent(page, all_categories=False)
    plan(page, "ランソ", "ランソプラゾールOD錠15mg「トーワ」（ランソプラゾール）")
    run_check(page)
    page.goto("/patient")
    page.locator(f"input[name=reader][value='{reader}']").check()
    page.locator("#pin").fill("1234")
    page.get_by_role("button", name="ログイン").click()
    checks = page.locator("#prescription-checks")
    expect(checks.locator("tbody tr").first).to_contain_text(
        "ランソプラゾールOD錠15mg「トーワ」（重複あり）"
    )
    expect(page.locator("#access-log")).to_contain_text("重複投薬等チェック")


def test_a_recorded_prescription_is_a_duplicate_of_the_same_drug_at_once(page):
    """The prescription stays in the session's registry: a drug of a class no other test plans."""
    visit(page, "scenario:duplicate-two-clinics")
    plan(page, "ランソ", "ランソプラゾールOD錠15mg「トーワ」（ランソプラゾール）")
    run_check(page)
    expect(page.locator(".dup-result .badge")).to_have_text("重複なし")
    page.get_by_role("button", name="この内容で処方を記録").click()
    expect(page.locator("#prescriptions-recorded")).to_contain_text("1件の処方を記録しました")
    expect(page.locator("#duplicate-answer")).to_have_count(0)
    run_check(page)
    answer = page.locator(".dup-result")
    expect(answer.locator(".badge")).to_have_text("重複あり")
    recorded = answer.locator("tbody tr")
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text("処方（登録済み）")
    expect(recorded).to_contain_text("ランソプラゾールOD錠15mg「トーワ」")
    expect(recorded).to_contain_text(page.locator("#who").inner_text().split("（")[0])
