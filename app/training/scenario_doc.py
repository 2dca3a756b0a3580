"""The scenario table in words, Japanese and English: ``docs/scenarios.md`` (``eligsim registry
scenarios-doc``) and the summary ``eligsim registry seed --scenarios`` prints. Nothing here depends
on today's date, so the committed document stays equal to the code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.training.scenarios import MANIFEST, PIN, PLANNED_DAYS, Expected, Method, Scenario
from payer_registry.eligibility import VALIDITY_CODES, Validity
from payer_registry.identifiers import is_late_stage_elderly
from payer_registry.limits import BRACKETS
from payer_registry.synthetic.reference import drugs

JA, EN = 0, 1
VALIDITY = {
    "valid": ("有効", "valid"),
    "invalid": ("無効", "invalid"),
    "invalid_new_exists": ("無効（新しい資格あり）", "invalid, a newer qualification exists"),
    "not_found": ("該当資格なし", "not found"),
    "multiple": ("複数該当", "several matches"),
}
REFUSALS = {
    "CARD_NOT_LINKED": ("カードが保険証として未登録", "card not linked"),
    "CERT_EXPIRED": ("電子証明書の有効期限切れ", "certificate expired"),
    "CERT_REVOKED": ("電子証明書の失効", "certificate revoked"),
    "PIN_LAST_TRY": ("暗証番号の残り回数1回の警告", "warning: one PIN try left"),
    "PIN_LOCKED": ("暗証番号ロック", "PIN locked"),
}
DISEASES = {
    "1": ("人工透析", "dialysis"),
    "2": ("血友病", "haemophilia"),
    "3": ("血液製剤によるHIV", "HIV from blood products"),
}
CATEGORIES = {
    "medication": ("薬剤情報", "medication"),
    "checkup": ("特定健診等情報", "checkup"),
    "clinical": ("診療情報", "clinical"),
    "surgery": ("手術情報", "surgery"),
    "limit_certificate": ("限度額適用認定証関連情報", "limit certificate"),
    "specific_diseases": ("特定疾病療養受療証", "specific diseases"),
}
FINDINGS = {
    "duplicate": ("重複あり", "duplicate"),
    "same_class": ("同じ薬効分類", "same class"),
    "none": ("重複なし", "none"),
}
DRUG_NAMES = {drug.code: drug.name for drug, _ in drugs()}
_SEPARATOR = ("、", ", ")


def expected_text(expected: Expected, lang: int) -> str:
    """What the front desk should see, e.g. ``有効、3割、限度額 A03（ウ）``; a refusal comes first."""
    shown = _SEPARATOR[lang].join(_shown(expected, lang))
    if not expected.refusal:
        return shown
    refusal = f"{REFUSALS[expected.refusal][lang]} ({expected.refusal})"
    if not shown:
        return refusal
    return (f"{refusal}。正しい暗証番号で: {shown}", f"{refusal}; with the right PIN: {shown}")[
        lang
    ]


def _shown(expected: Expected, lang: int) -> list[str]:
    parts = []
    if expected.validity:
        parts.append(VALIDITY[expected.validity][lang])
    if expected.copay_ratio:
        parts.append((f"{expected.copay_ratio // 10}割", f"{expected.copay_ratio}%")[lang])
    if expected.limit_bracket:
        label = BRACKETS[expected.limit_bracket].label
        parts.append((f"限度額 {expected.limit_bracket}（{label}）", f"bracket {expected.limit_bracket}")[lang])  # fmt: skip
    if expected.specific_disease:
        disease = DISEASES[expected.specific_disease][lang]
        parts.append((f"特定疾病: {disease}", f"specific disease: {disease}")[lang])
    for category, count in expected.records.items():
        name = CATEGORIES[category][lang]
        parts.append((f"{name} {count}件", f"{count} {name} records")[lang])
    if expected.duplicate_check:
        parts.append(_duplicate_text(expected.duplicate_check, lang))
    return parts


def _duplicate_text(findings: Mapping[str, str], lang: int) -> str:
    """The duplicate-medication check of planned drugs, e.g. ``重複投薬等チェック（今日から28日分）: …``."""
    found = _SEPARATOR[lang].join(
        f"{DRUG_NAMES[code]} → {FINDINGS[finding][lang]}" for code, finding in findings.items()
    )
    return (
        f"重複投薬等チェック（今日から{PLANNED_DAYS}日分）: {found}",
        f"duplicate check ({PLANNED_DAYS} days from today): {found}",
    )[lang]


def terminal_text(scenario: Scenario, lang: int) -> str:
    """What the eligibility terminal's file interface gives (docs/terminal.md): the face result of a
    card visit, or the result of a check by numbers, with its main codes."""
    expected = scenario.expected
    if expected.validity is None:
        return ("結果ファイルなし（読取りで拒否）", "no result file (refused at the reader)")[lang]
    kind = "OQSsiquc01res_face" if scenario.method is Method.CARD else "OQSsiquc01res"
    parts = [f"QualificationValidity {VALIDITY_CODES[Validity(expected.validity)]}"]
    if expected.copay_ratio and is_late_stage_elderly(scenario.check.insurer_number):
        parts.append(f"InsuredPartialContributionRatio {expected.copay_ratio:03d}")
    if expected.limit_bracket:
        parts.append(f"LimitApplicationCertificateClassificationFlag {expected.limit_bracket}")
    if expected.specific_disease:
        parts.append(f"SpecificDiseasesDiseaseCategory {expected.specific_disease}")
    return f"`{kind}`: " + ", ".join(parts)


def how_text(scenario: Scenario, lang: int) -> str:
    """How to run the scenario at the front desk: which card and PIN, or which numbers to type."""
    if scenario.method is Method.CARD:
        how = (f"カード `{scenario.card_file}`、暗証番号 {PIN}", f"card `{scenario.card_file}`, PIN {PIN}")[lang]  # fmt: skip
        if scenario.old_card_file:
            how += (f"（旧カード `{scenario.old_card_file}`）", f" (old card `{scenario.old_card_file}`)")[lang]  # fmt: skip
    else:
        c = scenario.check
        branch = c.branch or ("なし", "none")[lang]
        how = (
            f"番号で照会: 保険者番号 {c.insurer_number}、記号 {c.symbol}、番号 {c.number}、枝番 {branch}、生年月日",
            f"check by numbers: insurer {c.insurer_number}, symbol {c.symbol}, number {c.number}, branch {branch}, birth date",
        )[lang]  # fmt: skip
    if scenario.consents:
        chosen = _SEPARATOR[lang].join(CATEGORIES[c][lang] for c in scenario.consents)
        how += (f"。同意: {chosen}", f"; consent: {chosen}")[lang]
    return how


def _same_or_both(ja: str, en: str) -> str:
    return ja.replace("|", "\\|") if ja == en else _cell(ja, en)


def _cell(ja: str, en: str) -> str:
    return f"{ja}<br>{en}".replace("|", "\\|")


def markdown(defined: Sequence[Scenario]) -> str:
    """The whole ``docs/scenarios.md``."""
    lines = [
        "# 研修シナリオ / Training scenarios",
        "",
        "<!-- Generated by `eligsim registry scenarios-doc --out docs/scenarios.md`; do not edit. -->",
        "",
        "`eligsim registry seed --scenarios` creates these people and their virtual cards. Card files",
        f"are under the var directory (`var/` by default); every card's PIN is {PIN}. Insured numbers",
        "carry the card symbol 訓練 and never collide with the synthetic population. Ages stay as",
        "listed because birth dates move with today: the table the command prints and",
        f"`var/{MANIFEST}` give each birth date. The terminal result is what `eligsim terminal`",
        "writes (docs/terminal.md): the face result of the card visit, or the result of the check by",
        "numbers.",
        "",
        "| シナリオ / Scenario | 年齢 / Age | 確認方法 / How | 窓口に表示されること / The front desk sees | 資格確認端末の結果 / Terminal result | 次の対応 / Next step |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for s in defined:
        cells = (
            _cell(f"**{s.title_ja}**", f"{s.title_en} (`{s.slug}`)"),
            str(s.age),
            _cell(how_text(s, JA), how_text(s, EN)),
            _cell(expected_text(s.expected, JA), expected_text(s.expected, EN)),
            _same_or_both(terminal_text(s, JA), terminal_text(s, EN)),
            _cell(s.next_step_ja, s.next_step_en),
        )
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def summary_lines(defined: Sequence[Scenario]) -> list[str]:
    """One line per scenario for the terminal: slug, number, birth date, card, what to see."""
    rows = [("scenario", "insured number", "birth date", "card", "expected")]
    for s in defined:
        birth = s.check.birth_date.isoformat() if s.check.birth_date else "-"
        card = str(s.card_file or "-")
        rows.append((s.slug, s.insured_number, birth, card, expected_text(s.expected, EN)))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        "  ".join([*(v.ljust(w) for v, w in zip(row, widths, strict=False)), row[4]])
        for row in rows
    ]
