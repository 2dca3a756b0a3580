"""Whole visits through the front-desk page and the patient page in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

CLINIC = "1311234567"


def open_reader(page, reader_id: str) -> None:
    page.goto("/")
    page.locator(f"input[name=reader][value='{reader_id}']").check()
    page.get_by_role("button", name="資格確認を開始").click()


def enter_pin(page, pin: str) -> None:
    page.locator("#pin").fill(pin)
    page.locator("#pin").press("Enter")


def consent(page, all_categories: bool = True) -> None:
    expect(page.locator("#consent-form")).to_be_visible()
    if all_categories:
        page.get_by_role("button", name="すべて同意する").click()
    page.get_by_role("button", name="確定").click()


def visit(page, reader_id: str, pin: str = "1234") -> None:
    open_reader(page, reader_id)
    enter_pin(page, pin)
    consent(page)
    expect(page.locator("#panel[data-step=result]")).to_be_visible()


def test_valid_30_percent_with_medication_timeline(page, shot):
    visit(page, "scenario:long-medication")
    expect(page.locator("#validity")).to_have_text("有効")
    expect(page.locator("#copay")).to_have_text("3割")
    expect(page.locator("#records-medication svg.timeline rect.bar").first).to_be_visible()
    expect(page.locator("#records-medication h3")).to_contain_text("112件")
    shot(page, "frontdesk-valid-30-ja")
    page.locator("#records-medication").scroll_into_view_if_needed()
    shot(page, "frontdesk-medication-timeline-ja")


def test_preschool_child_pays_20_percent(page, shot):
    visit(page, "scenario:preschool-20")
    expect(page.locator("#copay")).to_have_text("2割")
    expect(page.locator(".facts")).to_contain_text("未就学児該当")
    shot(page, "frontdesk-preschool-ja")


def test_limit_bracket_and_the_calculator_in_english(page, shot):
    visit(page, "scenario:limit-a03")
    expect(page.locator("#bracket")).to_contain_text("A03")
    page.locator("#limit-cost").fill("1000000")
    page.get_by_role("button", name="限度額を計算").click()
    expect(page.locator("#limit-result")).to_contain_text("¥87,430")
    page.locator("#limit-many").check()
    page.get_by_role("button", name="限度額を計算").click()
    expect(page.locator("#limit-result")).to_contain_text("¥44,400")
    shot(page, "frontdesk-limit-a03-ja")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#copay")).to_have_text("30%")
    page.get_by_role("button", name="Calculate the limit").click()
    expect(page.locator("#limit-result")).to_contain_text("Monthly out-of-pocket limit: ¥87,430")
    shot(page, "frontdesk-limit-a03-en")
    page.get_by_role("button", name="日本語").click()


def test_a_wrong_pin_then_the_right_one(page, shot):
    open_reader(page, "scenario:elderly-70-20")
    enter_pin(page, "9999")
    expect(page.locator(".refusal")).to_contain_text("暗証番号が違います（残り2回）")
    shot(page, "frontdesk-wrong-pin-ja")
    enter_pin(page, "1234")
    consent(page, all_categories=False)
    expect(page.locator("#validity")).to_have_text("有効")
    expect(page.locator("#copay")).to_have_text("2割")
    expect(page.locator("#records-medication")).to_contain_text("同意がないため")


def test_the_last_try_needs_the_staffs_confirmation(page):
    open_reader(page, "scenario:pin-one-try-left")
    enter_pin(page, "1234")
    expect(page.locator(".refusal")).to_contain_text("残り回数が1回")
    page.locator("#force").check()
    enter_pin(page, "1234")
    consent(page)
    expect(page.locator("#validity")).to_have_text("有効")


@pytest.mark.parametrize(
    ("reader", "title", "next_step"),
    [
        ("pin-locked", "暗証番号がロックされています", "市区町村窓口でのみ"),
        ("card-not-linked", "利用登録がされていません", "資格確認書・保険証の番号で確認"),
        ("certificate-revoked", "電子証明書が失効しています", "市区町村窓口での再発行"),
        ("certificate-expired", "有効期限が切れています", "電子証明書の更新"),
        ("card-renewed:old", "電子証明書が失効しています", "新しいカード"),
    ],
)
def test_refusals_say_what_to_do_next(page, shot, reader, title, next_step):
    open_reader(page, f"scenario:{reader}")
    enter_pin(page, "1234")
    if reader != "pin-locked":
        consent(page)
    refusal = page.locator("#panel[data-step=refused] .refusal")
    expect(refusal).to_contain_text(title)
    expect(refusal).to_contain_text(next_step)
    shot(page, f"frontdesk-refused-{reader.replace(':', '-')}-ja")


def test_not_found_after_a_job_change_by_numbers(page, shot):
    open_reader(page, "scenario:job-change-not-registered")
    expect(page.locator("#n-insurer_number")).not_to_have_value("")
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("#validity")).to_have_text("該当資格なし")
    expect(page.locator(".refusal")).to_contain_text("資格情報のお知らせ")
    expect(page.locator(".refusal")).to_contain_text("自費")
    shot(page, "frontdesk-not-found-ja")


def test_checkup_trends_in_face_mode(page, shot):
    open_reader(page, "scenario:worsening-hba1c")
    page.get_by_label("顔認証").check()
    page.get_by_role("button", name="確認する").click()
    consent(page)
    expect(page.locator("#records-checkup svg.chart")).to_have_count(5)
    expect(page.locator("#records-checkup svg.chart").first).to_contain_text("HbA1c")
    page.locator("#records-checkup").scroll_into_view_if_needed()
    shot(page, "frontdesk-checkup-trends-ja")


def test_a_whole_visit_by_keyboard(page):
    page.goto("/")
    page.locator("input[name=reader]").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect(page.locator("#pin")).to_be_focused()
    page.keyboard.type("1234")
    page.keyboard.press("Enter")
    expect(page.locator("#consent-form input[value=yes]").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#panel[data-step=result]")).to_be_visible()
    expect(page.get_by_role("button", name="次の患者さん")).to_be_focused()


def test_the_patient_sees_who_viewed_what(page, shot):
    visit(page, "scenario:clinical-surgery")
    page.goto("/patient")
    page.locator("input[name=reader][value='scenario:clinical-surgery']").check()
    page.locator("#pin").fill("1234")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#validity")).to_have_text("有効")
    log = page.locator("#access-log")
    expect(log.locator("tbody tr").first).to_be_visible()
    expect(log).to_contain_text(CLINIC)
    expect(log).to_contain_text("閲覧")
    expect(log).to_contain_text(re.compile("手術情報"))
    shot(page, "patient-access-log-ja", full_page=True)
    page.get_by_role("button", name="English").click()
    expect(log).to_contain_text("View")
    shot(page, "patient-access-log-en")


@pytest.mark.parametrize("path", ["/", "/patient"])
def test_the_pages_run_under_a_policy_that_blocks_injected_scripts(page, console_errors, path):
    answer = page.goto(path)
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator("input[name=reader]").first).to_be_attached()  # the page's module ran
    page.evaluate(
        """() => {
            const injected = document.createElement("script");
            injected.textContent = "window.injected = true";
            document.head.append(injected);
        }"""
    )
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in text for text in console_errors)
    console_errors.clear()  # the one blocked script was this test's own


def test_the_front_desk_works_under_the_name_localhost(page, base_url):
    """localhost is a loopback name of this machine: its page gets a token and the station answers."""
    page.goto(base_url.replace("127.0.0.1", "localhost") + "/")
    page.locator("input[name=reader][value='scenario:preschool-20']").check()
    page.get_by_role("button", name="資格確認を開始").click()
    enter_pin(page, "1234")
    consent(page)
    expect(page.locator("#copay")).to_have_text("2割")
