"""Training scenarios (研修シナリオ): named people for every case a front desk meets, with what the
front desk should see for each (``eligsim registry seed --scenarios``, docs/scenarios.md).

The people live in a reserved number range that the synthetic population never produces: every
qualification carries the card symbol (記号) ``訓練`` and a 4-digit card number with a leading zero
(``0001`` …), under real insurers' numbers with valid check digits (01130012, 39131008, …). Synthetic
symbols are digits, digits with hyphens, a city name with digits, or empty; synthetic card numbers
never start with 0 except the 8-digit late-stage ones.

Dates are relative to ``today`` (Asia/Tokyo) so each scenario stays true: a person "aged 72" is
always 72, a qualification "lost 60 days ago" always lost. The same ``today`` gives the same records.
Cards are issued by ``app.training.scenario_cards`` (this package never touches card code); here a
scenario only says which card state it needs (:class:`CardSetup`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from app.training.scenario_records import People
from payer_registry.confirmation import Inquiry
from payer_registry.db import Registry
from payer_registry.identifiers import InsuredNumber, parse_insured_number
from payer_registry.limits import BRACKETS
from payer_registry.records import PersonRecordSchema
from payer_registry.writer import upsert_record

PIN = "1234"
SYMBOL = "訓練"
# drugs of the duplicate-medication scenarios (YJ codes of the bundled drug list)
AMLODIPINE, NIFEDIPINE, METFORMIN = "2171022F1016", "2171014G1062", "3962002F2082"
LANSOPRAZOLE = "2329023F2165"
PLANNED_DAYS = 28
SCENARIO_DIR = PurePosixPath("scenarios")  # under the var directory
CARD_DIR = SCENARIO_DIR / "cards"
MANIFEST = SCENARIO_DIR / "scenarios.json"


class Method(StrEnum):
    """How the front desk confirms: the My Number Card at the reader, or the numbers on a card."""

    CARD = "card"
    NUMBERS = "numbers"


class CardSetup(StrEnum):
    """The state of the scenario's virtual card (PIN 1234)."""

    LINKED = "linked"
    NOT_LINKED = "not_linked"  # issued, never linked (保険証利用登録なし)
    ONE_TRY_LEFT = "one_try_left"
    LOCKED = "locked"
    EXPIRED = "expired"  # certificate issued more than five years ago
    REVOKED = "revoked"
    RENEWED = "renewed"  # the old card (``<slug>-old.card``) revoked, the new one linked


class ScenarioSetupError(RuntimeError):
    """The scenario people or cards could not be set up; the message says why."""


@dataclass(frozen=True)
class Expected:
    """What the front desk should see. ``refusal`` is the stable code met first (the API's or the
    card reader's); the eligibility fields are what shows once through (None: it never gets through)."""

    validity: str | None = None
    copay_ratio: int | None = None
    limit_bracket: str | None = None
    refusal: str | None = None
    specific_disease: str | None = None
    records: Mapping[str, int] = field(default_factory=dict)  # medical category -> record count
    # planned drug (YJ code, taken for PLANNED_DAYS from today) -> what the duplicate check finds
    duplicate_check: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "validity": self.validity,
            "copay_ratio": self.copay_ratio,
            "limit_bracket": self.limit_bracket,
            "refusal": self.refusal,
            "specific_disease": self.specific_disease,
            "records": dict(self.records),
            "duplicate_check": dict(self.duplicate_check),
        }


@dataclass(frozen=True)
class Scenario:
    slug: str
    title_ja: str
    title_en: str
    age: int
    records: tuple[dict, ...]  # person records (records.py format); the first is the patient
    check: Inquiry  # what the front desk types or the reader stands for
    method: Method
    card: CardSetup | None
    consents: tuple[str, ...]  # chosen at the reader (or the staff's limit-certificate consent)
    expected: Expected
    next_step_ja: str
    next_step_en: str

    @property
    def insured_number(self) -> str:
        """The checked number, ``INSURER:SYMBOL:NUMBER:BRANCH``; the branch is empty when the check
        goes without one."""
        c = self.check
        return str(InsuredNumber(c.insurer_number, c.symbol, c.number, c.branch or ""))

    @property
    def holder_number(self) -> str:
        """The patient's newest registered qualification: what their card is linked to."""
        return self.records[0]["qualifications"][-1]["insured_number"]

    @property
    def card_file(self) -> PurePosixPath | None:
        return CARD_DIR / f"{self.slug}.card" if self.card else None

    @property
    def old_card_file(self) -> PurePosixPath | None:
        return CARD_DIR / f"{self.slug}-old.card" if self.card is CardSetup.RENEWED else None


def _number_check(record: dict, branch: bool = True) -> Inquiry:
    number = parse_insured_number(record["qualifications"][0]["insured_number"])
    birth = dt.date.fromisoformat(record["birth_date"])
    return Inquiry(
        number.insurer, number.symbol, number.number, number.branch if branch else None, birth
    )


def _scenario(
    slug: str,
    titles: tuple[str, str],
    age: int,
    records: dict | tuple[dict, ...],
    expected: Expected,
    next_steps: tuple[str, str],
    method: Method = Method.CARD,
    card: CardSetup | None = CardSetup.LINKED,
    consents: tuple[str, ...] = (),
    check: Inquiry | None = None,
) -> Scenario:
    people = records if isinstance(records, tuple) else (records,)
    return Scenario(
        slug,
        *titles,
        age,
        people,
        check or _number_check(people[0]),
        method,
        card,
        consents,
        expected,
        *next_steps,
    )


_ACCEPT = ("通常どおり受付する。", "Accept as usual.")


def _age_scenarios(p: People) -> list[Scenario]:
    """Co-pay by age and income (docs/rules.md §2)."""
    cases = (
        ("valid-30", "有効・3割（一般の成人）", "Valid, 30% (adult)", "0001", 45, "general", "佐藤　健一", "サトウ　ケンイチ", "1", 30),
        ("elderly-70-20", "70〜74歳・2割", "Age 70-74, 20%", "0003", 72, "general", "高橋　和子", "タカハシ　カズコ", "2", 20),
        ("elderly-70-30", "70〜74歳・3割（現役並み所得）", "Age 70-74, 30% (income like the working-age)", "0004", 72, "high", "田中　勇", "タナカ　イサム", "1", 30),
        ("late-75-10", "後期高齢者・1割", "Aged 75+, 10%", "0005", 80, "general", "伊藤　静子", "イトウ　シズコ", "2", 10),
        ("late-75-20", "後期高齢者・2割（一定以上所得）", "Aged 75+, 20% (upper-middle income)", "0006", 80, "upper_middle", "渡辺　清", "ワタナベ　キヨシ", "1", 20),
        ("late-75-30", "後期高齢者・3割（現役並み所得）", "Aged 75+, 30% (income like the working-age)", "0007", 80, "high", "山本　茂", "ヤマモト　シゲル", "1", 30),
    )  # fmt: skip
    scenarios = [
        _scenario(
            slug, (ja, en), age,
            p.person(name, kana, sex, age, income, number),
            Expected("valid", ratio), _ACCEPT,
        )
        for slug, ja, en, number, age, income, name, kana, sex, ratio in cases
    ]  # fmt: skip
    child = p.person("中村　陽菜", "ナカムラ　ヒナ", "2", 3, "general", "0002", holder="中村　大輔")
    scenarios.insert(
        1,
        _scenario(
            "preschool-20",
            ("未就学児・2割", "Preschool child, 20%"),
            3,
            child,
            Expected("valid", 20),
            _ACCEPT,
        ),
    )
    return scenarios


def _bracket_scenarios(p: People) -> list[Scenario]:
    """One person per limit bracket (限度額適用区分), shown under the patient's consent."""
    cases = (
        ("A01", "0011", 50, "high", "小林　誠", "コバヤシ　マコト", "1", 30),
        ("A02", "0012", 48, "high", "加藤　直樹", "カトウ　ナオキ", "1", 30),
        ("A03", "0013", 42, "general", "吉田　美香", "ヨシダ　ミカ", "2", 30),
        ("A04", "0014", 38, "general", "山田　翔太", "ヤマダ　ショウタ", "1", 30),
        ("A05", "0015", 35, "low", "佐々木　彩", "ササキ　アヤ", "2", 30),
        ("B01", "0016", 72, "high", "山口　博", "ヤマグチ　ヒロシ", "1", 30),
        ("B02", "0017", 78, "high", "松本　節子", "マツモト　セツコ", "2", 30),
        ("B03", "0018", 73, "high", "井上　正", "イノウエ　タダシ", "1", 30),
        ("B04", "0019", 82, "general", "木村　幸子", "キムラ　サチコ", "2", 10),
        ("B05", "0020", 71, "low", "林　実", "ハヤシ　ミノル", "1", 20),
        ("B06", "0021", 88, "low", "斎藤　ハル", "サイトウ　ハル", "2", 10),
    )  # fmt: skip
    scenarios = []
    for code, number, age, income, name, kana, sex, ratio in cases:
        person = p.person(name, kana, sex, age, income, number, bracket=code)
        label = BRACKETS[code].label
        scenarios.append(
            _scenario(
                f"limit-{code.lower()}",
                (f"限度額適用区分 {code}（{label}）", f"Limit bracket {code} ({label})"),
                age,
                person,
                Expected("valid", ratio, code),
                (
                    "限度額適用認定証関連情報の提供に同意してもらい、区分に応じた上限額で会計する。",
                    "Ask for consent to the limit-certificate information; cap the bill at the bracket's monthly limit.",
                ),
                consents=("limit_certificate",),
            )
        )
    return scenarios


def _qualification_scenarios(p: People) -> list[Scenario]:
    """Lost qualifications, job changes (転職) and several matches."""
    lost = p.person(
        "清水　恵子", "シミズ　ケイコ", "2", 52, "general", "0031", insurer=p.nhi, lost=(60, "99")
    )
    changed = p.job_changer(
        ("森　大輔", "モリ　ダイスケ", "1"), 34,
        old=(p.association, "0032"), new=(p.societies[0], "0033"), days_ago=40,
    )  # fmt: skip
    lagging = p.job_changer(
        ("池田　拓也", "イケダ　タクヤ", "1"), 29,
        old=(p.societies[1], "0034"), new=None, days_ago=10,
    )  # fmt: skip
    parent, *twins = p.twins("0036")
    return [
        _scenario(
            "qualification-lost", ("資格喪失", "Qualification lost"), 52, lost,
            Expected("invalid"),
            (
                "現在の保険の資格確認書や資格情報のお知らせを確認する（カードでも無効と表示される）。確認できなければ自費（10割）で受け、後日精算を案内する。",
                "Ask for the current insurance's certificate or qualification notice (the card shows invalid too); without one, charge in full and explain the later refund.",
            ),
            method=Method.NUMBERS,
        ),
        _scenario(
            "job-change-new-exists", ("転職（新しい資格あり）", "Job change, newer qualification"),
            34, changed, Expected("invalid_new_exists"),
            (
                "古い保険証の番号です。マイナンバーカードで確認する（新しい資格が有効と表示される）か、新しい保険の番号で照会し直す。",
                "These are the old card's numbers: confirm with the My Number Card (it shows the new qualification, valid) or check the new insurance's numbers.",
            ),
            method=Method.NUMBERS,
        ),
        _scenario(
            "job-change-not-registered",
            ("転職（新しい保険者が未登録）", "Job change, not yet registered by the new insurer"),
            29, lagging, Expected("not_found"),
            (
                "新しい保険者の登録待ちの可能性（カードでは前の資格が無効と表示される）。資格情報のお知らせや資格確認書の提示を求めるか、いったん自費で受けて後日再照会する。",
                "The new insurer may not have registered yet (the card shows the old qualification, invalid): ask for the qualification notice or certificate, or charge in full and re-check later.",
            ),
            method=Method.NUMBERS,
            check=p.inquiry(p.association, "0035", lagging["birth_date"]),  # the new card's numbers
        ),
        _scenario(
            "multiple-matches", ("複数該当（双子・枝番なし）", "Several matches (twins, no branch)"),
            8, (twins[0], twins[1], parent), Expected("multiple"),
            (
                "枝番を確認して、枝番付きで照会し直す。",
                "Ask for the branch number and check again with it.",
            ),
            method=Method.NUMBERS, card=None, check=_number_check(twins[0], branch=False),
        ),
    ]  # fmt: skip


_OTHER_PROOF = (
    "今回は資格確認書や資格情報のお知らせで確認する。",
    "This time, confirm with the qualification certificate or notice.",
)


def _card_scenarios(p: People) -> list[Scenario]:
    """The card's own states: link, certificate, PIN. Where the card gets nowhere, the next step
    ends with confirming another way."""
    cases = (
        ("card-not-linked", "カードの保険証利用登録なし", "Card not linked", "0041", 41, "石川　真由美", "イシカワ　マユミ", "2", CardSetup.NOT_LINKED, Expected(refusal="CARD_NOT_LINKED"),
         ("保険証利用登録（マイナポータルやカードリーダーで）を案内する。", "Explain how to link the card (My Number Portal or the card reader).")),
        ("certificate-expired", "電子証明書の有効期限切れ", "Certificate expired", "0042", 47, "前田　剛", "マエダ　ツヨシ", "1", CardSetup.EXPIRED, Expected(refusal="CERT_EXPIRED"),
         ("市区町村の窓口で電子証明書の更新を案内する。", "Send the patient to the municipal office to renew the certificate.")),
        ("certificate-revoked", "電子証明書の失効", "Certificate revoked", "0043", 39, "藤田　愛", "フジタ　アイ", "2", CardSetup.REVOKED, Expected(refusal="CERT_REVOKED"),
         ("失効したカードです。新しいカードの有無を確認し、なければ市区町村の窓口を案内する。", "The card is revoked: ask for a newer card, else send the patient to the municipal office.")),
        ("card-renewed", "カード更新（旧カードは失効）", "Card renewed (old card revoked)", "0044", 44, "岡田　浩二", "オカダ　コウジ", "1", CardSetup.RENEWED, Expected("valid", 30),
         ("新しいカードで確認する（旧カードは失効済み）。", "Use the new card (the old one is revoked).")),
        ("pin-one-try-left", "暗証番号 残り1回", "One PIN try left", "0045", 61, "後藤　洋子", "ゴトウ　ヨウコ", "2", CardSetup.ONE_TRY_LEFT, Expected("valid", 30, refusal="PIN_LAST_TRY"),
         ("次に間違えるとロックされます。顔認証に切り替えるか、暗証番号を確かめてから入力してもらう。", "One more mistake locks the card: switch to face recognition, or have the patient make sure of the PIN first.")),
        ("pin-locked", "暗証番号ロック", "PIN locked", "0046", 58, "長谷川　隆", "ハセガワ　タカシ", "1", CardSetup.LOCKED, Expected(refusal="PIN_LOCKED"),
         ("ロック解除は市区町村の窓口のみ。顔認証で確認する。", "Only the municipal office can unlock it: use face recognition.")),
    )  # fmt: skip
    return [
        _scenario(
            slug, (ja, en), age,
            p.person(name, kana, sex, age, "general", number),
            expected,
            (next_ja, next_en) if expected.validity else
            (next_ja + _OTHER_PROOF[0], f"{next_en} {_OTHER_PROOF[1]}"),
            card=card,
        )
        for slug, ja, en, number, age, name, kana, sex, card, expected, (next_ja, next_en) in cases
    ]  # fmt: skip


def _medical_scenarios(p: People) -> list[Scenario]:
    """Certificates and records shown under consent at the reader."""
    dialysis = p.person(
        "近藤　武", "コンドウ　タケシ", "1", 63, "general", "0051", specific_disease="1"
    )
    medicated = p.person(
        "遠藤　光子", "エンドウ　ミツコ", "2", 68, "general", "0052",
        medications=p.medication_history(),
    )  # fmt: skip
    examined = p.person(
        "青木　修", "アオキ　オサム", "1", 57, "general", "0053", checkups=p.worsening_checkups()
    )
    operated = p.person(
        "坂本　京子", "サカモト　キョウコ", "2", 66, "general", "0054",
        procedures=p.procedure_records(),
    )  # fmt: skip
    kinds = Counter(row["kind"] for row in operated["procedures"])
    show = ("同意された情報を診療に活かす。", "Use the consented information in care.")
    return [
        _scenario(
            "specific-disease", ("特定疾病（人工透析）", "Specific disease (dialysis)"), 63,
            dialysis, Expected("valid", 30, specific_disease="1"),
            ("特定疾病療養受療証の情報に同意してもらい、自己負担上限（月1万円）で会計する。",
             "Ask for consent to the specific-disease information; cap the bill at 10,000 yen a month."),
            consents=("specific_diseases",),
        ),
        _scenario(
            "long-medication", ("長期の薬剤情報", "Long medication history"), 68, medicated,
            Expected("valid", 30, records={"medication": len(medicated["medications"])}),
            show, consents=("medication",),
        ),
        _scenario(
            "worsening-hba1c", ("5年分の健診（HbA1c悪化）", "Five years of checkups, HbA1c worsening"),
            57, examined, Expected("valid", 30, records={"checkup": len(examined["checkups"])}),
            show, consents=("checkup",),
        ),
        _scenario(
            "clinical-surgery", ("診療・手術情報", "Clinical and surgery records"), 66, operated,
            Expected("valid", 30, records=dict(sorted(kinds.items()))),
            ("診療・手術情報は施設が同意画面で提示している場合のみ同意できる（施設の設定）。",
             "Clinical and surgery information can be consented to only where the institution offers it."),
            consents=("clinical", "surgery"),
        ),
    ]  # fmt: skip


def _duplicate_scenarios(p: People) -> list[Scenario]:
    """The same drug prescribed at two clinics, for the duplicate-medication check (重複投薬等チェック):
    with the medication consent the check shows both clinics, without it only the ingredient."""
    amlodipine = p.person(
        "原田　正男", "ハラダ　マサオ", "1", 67, "general", "0055",
        medications=p.prescribed_at_two_clinics(AMLODIPINE),
    )  # fmt: skip
    lansoprazole = p.person(
        "西村　久美子", "ニシムラ　クミコ", "2", 59, "general", "0056",
        medications=p.prescribed_at_two_clinics(LANSOPRAZOLE),
    )  # fmt: skip
    return [
        _scenario(
            "duplicate-two-clinics", ("2つの診療所で同じ薬（重複投薬）", "The same drug from two clinics (duplicate)"),
            67, amlodipine,
            Expected("valid", 30, records={"medication": 2},
                     duplicate_check={AMLODIPINE: "duplicate", NIFEDIPINE: "same_class", METFORMIN: "none"}),
            ("処方前に重複投薬等チェックを行う。重複があれば処方を見直すか、処方元の医療機関に照会する。",
             "Run the duplicate-medication check before prescribing; on a duplicate, rethink the prescription or ask the prescribing clinic."),
            consents=("medication",),
        ),
        _scenario(
            "duplicate-without-consent", ("重複投薬（薬剤情報の同意なし）", "A duplicate without the medication consent"),
            59, lansoprazole,
            Expected("valid", 30, duplicate_check={LANSOPRAZOLE: "duplicate"}),
            ("同意がないため、重複の有無と成分名だけが表示される。お薬手帳や本人への確認で処方元を確かめる。",
             "Without the consent the check tells only that a duplicate exists and its ingredient: ask the patient (or their medication notebook) where it was prescribed."),
        ),
    ]  # fmt: skip


_GROUPS: tuple[Callable[[People], list[Scenario]], ...] = (
    _age_scenarios,
    _bracket_scenarios,
    _qualification_scenarios,
    _card_scenarios,
    _medical_scenarios,
    _duplicate_scenarios,
)


def scenarios(today: dt.date) -> list[Scenario]:
    """Every scenario, its dates relative to ``today``; validated against the person-record schema."""
    people = People(today, SYMBOL)
    result = [scenario for group in _GROUPS for scenario in group(people)]
    for scenario in result:
        for record in scenario.records:
            PersonRecordSchema(today=today).load(record)
    return result


def seed_scenarios(registry: Registry, today: dt.date) -> list[Scenario]:
    """Insert or replace the scenario people (their card links are dropped: cards are re-issued)."""
    defined = scenarios(today)
    with registry.begin() as conn:
        for scenario in defined:
            for record in scenario.records:
                upsert_record(conn, PersonRecordSchema(today=today).load(record))
    return defined


def manifest_entry(scenario: Scenario) -> dict:
    """One scenario as the front-desk page lists it (card paths relative to the var directory)."""
    check = scenario.check
    return {
        "slug": scenario.slug,
        "title_ja": scenario.title_ja,
        "title_en": scenario.title_en,
        "card": str(scenario.card_file) if scenario.card_file else None,
        "old_card": str(scenario.old_card_file) if scenario.old_card_file else None,
        "pin": PIN if scenario.card else None,
        "insured_number": scenario.insured_number,
        "birth_date": check.birth_date.isoformat() if check.birth_date else None,
        "method_hint": str(scenario.method),
        "consents": list(scenario.consents),
        "expected": scenario.expected.as_dict(),
        "next_step_ja": scenario.next_step_ja,
        "next_step_en": scenario.next_step_en,
    }


def write_manifest(var_dir: Path, defined: Sequence[Scenario]) -> Path:
    """``<var>/scenarios/scenarios.json``: the list the front-desk page shows."""
    path = Path(var_dir) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    document = json.dumps([manifest_entry(s) for s in defined], ensure_ascii=False, indent=1)
    path.write_text(document + "\n", encoding="utf-8")
    return path
