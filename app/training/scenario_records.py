"""Person records of the training scenarios (``app.training.scenarios``): people of a given age
today with their qualifications, certificates and medical histories, as raw record dicts (ISO dates)
that ``records.PERSON_RECORD`` loads. Every date is relative to ``today``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from payer_registry.confirmation import Inquiry
from payer_registry.eligibility import elderly_rate_starts
from payer_registry.identifiers import InsuredNumber
from payer_registry.synthetic.certificates import ISSUED_AHEAD, certificate_year
from payer_registry.synthetic.coverage import GENERAL, anniversary, card_dates
from payer_registry.synthetic.insurers import InsurerInfo, catalogue
from payer_registry.synthetic.medical import CLAIMS_LAG, metabolic_judgement
from payer_registry.synthetic.reference import Drug, drugs, procedures

TOKYO = "13"
POST_CODE = "100-0013"  # 東京都千代田区霞が関, every scenario person's address
CLINIC = ("1319900011", "霞が関内科クリニック")  # 医療機関コード: Tokyo, medical
PHARMACY = ("1349900015", "霞が関薬局")  # Tokyo, pharmacy
OTHER_CLINIC = ("1319900029", "日比谷循環器クリニック")  # a second clinic of the same patients
CHRONIC = ("2171022F1016", "3962002F2082", "2189015F1129")  # amlodipine, metformin, atorvastatin
ACUTE = "1149019F1224"  # loxoprofen
REFILLS, REFILL_DAYS, ACUTE_EPISODES = 36, 28, 4
# Five yearly checkups, oldest first: weight, waist and glucose creep up, HbA1c crosses 6.5%.
CHECKUP_SERIES: dict[str, tuple[Any, ...]] = {
    "weight": (68.0, 70.1, 72.3, 74.0, 75.8),
    "waist": (84.0, 86.5, 88.0, 90.5, 92.0),
    "systolic_bp": (124, 128, 132, 136, 141),
    "diastolic_bp": (78, 80, 83, 86, 88),
    "triglycerides": (120, 138, 152, 171, 190),
    "hdl": (52, 50, 47, 45, 43),
    "ldl": (128, 132, 138, 141, 146),
    "ast": (22, 23, 25, 27, 29),
    "alt": (24, 26, 30, 34, 38),
    "gamma_gt": (35, 38, 44, 49, 55),
    "fasting_glucose": (98, 106, 118, 131, 148),
    "hba1c": (5.6, 5.9, 6.3, 6.8, 7.4),
    "egfr": (82.0, 80.5, 78.9, 77.0, 75.2),
    "urine_glucose": ("1", "1", "1", "2", "3"),
    "haemoglobin": (14.8, 14.7, 14.9, 14.6, 14.5),
}
HEIGHT = 170.2
# (kind, code, days ago)
PROCEDURES = (
    ("clinical", "D007", 400),
    ("clinical", "E200", 300),
    ("clinical", "D313", 200),
    ("surgery", "K721", 199),
    ("surgery", "K282", 100),
)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 2, 28)


class People:
    """Builds the scenario people for one ``today``; card numbers are given, symbols are fixed."""

    def __init__(self, today: dt.date, symbol: str) -> None:
        self.today = today
        self.symbol = symbol
        insurers = catalogue()
        self.association = insurers.association[TOKYO]  # 01130012
        self.late_stage = insurers.late_stage[TOKYO]  # 39131008
        self.nhi = insurers.nhi[TOKYO][0]
        self.societies = [e for e in insurers.employers if e.kind == "society"][:2]

    def days_ago(self, days: int) -> str:
        return (self.today - dt.timedelta(days=days)).isoformat()

    def birth(self, age: int) -> dt.date:
        """Born so that the birthday was 100 days ago: aged ``age`` for the next 265 days, too."""
        return years_before(self.today, age) - dt.timedelta(days=100)

    def number(self, insurer: InsurerInfo, card_number: str, branch: str = "00") -> str:
        return str(InsuredNumber(insurer.number, self.symbol, card_number, branch))

    def inquiry(self, insurer: InsurerInfo, card_number: str, birth_date: str) -> Inquiry:
        """The numbers printed on a card, as the front desk types them."""
        birth = dt.date.fromisoformat(birth_date)
        return Inquiry(insurer.number, self.symbol, card_number, "00", birth)

    def qualification(
        self,
        insurer: InsurerInfo,
        card_number: str,
        insured_name: str,
        acquired: dt.date,
        branch: str = "00",
        lost: tuple[int, str] | None = None,
    ) -> dict:
        """One qualification; ``lost`` is (days ago, loss reason). The card (一般, no end date) was
        issued as the synthetic population's are: on acquisition, or at the latest yearly renewal."""
        lost_on = self.today - dt.timedelta(days=lost[0]) if lost else None
        issued, _ = card_dates(
            insurer.number,
            GENERAL,
            acquired.toordinal(),
            lost_on.toordinal() if lost_on else None,
            self.today.toordinal(),
        )
        issued_on = dt.date.fromordinal(issued).isoformat()
        return {
            "insured_number": self.number(insurer, card_number, branch),
            "insurer_name": insurer.name,
            "relationship": "self" if branch == "00" else "family",
            "card_classification": GENERAL,
            "insured_name": insured_name,
            "acquired_on": acquired.isoformat(),
            "lost_on": lost_on.isoformat() if lost_on else None,
            "loss_reason": lost[1] if lost else None,
            "certificate_issued_on": issued_on,
            "card_valid_from": issued_on,
            "card_valid_until": None,
        }

    def person(
        self,
        name: str,
        kana: str,
        sex: str,
        age: int,
        income: str,
        card_number: str,
        insurer: InsurerInfo | None = None,
        holder: str | None = None,
        lost: tuple[int, str] | None = None,
        bracket: str | None = None,
        specific_disease: str | None = None,
        **sections: list,
    ) -> dict:
        """A person on their own card (or, with ``holder``, as family on the holder's card, branch
        01); 75 and over under the late-stage insurer, 70-74 with their elderly certificate."""
        birth = self.birth(age)
        insurer = insurer or (self.late_stage if age >= 75 else self.association)
        branch = "01" if holder else "00"
        qualification = self.qualification(
            insurer, card_number, holder or name, self._joined(birth, age), branch, lost
        )
        return {
            "name": name,
            "name_kana": kana,
            "birth_date": birth.isoformat(),
            "sex": sex,
            "address": f"東京都千代田区霞が関1-{int(card_number)}-1",
            "post_code": POST_CODE,
            "income_category": income,
            "qualifications": [qualification],
            "elderly_certificates": self._elderly(birth, age, income),
            "limit_certificates": self._limit(bracket, income),
            "specific_disease_certificates": self._disease(specific_disease),
            "medications": [],
            "checkups": [],
            "procedures": [],
            "card_links": [],
            **sections,
        }

    def _joined(self, birth: dt.date, age: int) -> dt.date:
        """Insured since birth (children), the 75th birthday (late stage) or up to 10 years ago."""
        if age < 18:
            return birth
        if age >= 75:
            return dt.date.fromordinal(anniversary(birth.toordinal(), 75))
        return years_before(self.today, min(age - 18, 10))

    def _elderly(self, birth: dt.date, age: int, income: str) -> list[dict]:
        """高齢受給者証 from the 70-74 rate's start to the day before the 75th birthday."""
        if not 70 <= age < 75:
            return []
        until = dt.date.fromordinal(anniversary(birth.toordinal(), 75) - 1)
        starts = elderly_rate_starts(birth)
        issued = min(starts - dt.timedelta(days=ISSUED_AHEAD), self.today)
        return [
            {
                "copay_ratio": 30 if income == "high" else 20,
                "valid_from": starts.isoformat(),
                "valid_until": until.isoformat(),
                "issued_on": issued.isoformat(),
            }
        ]

    def _limit(self, bracket: str | None, income: str) -> list[dict]:
        """限度額適用認定証 for this certificate year (1 August to 31 July); low income also gets the
        reduced meal cost (02)."""
        if bracket is None:
            return []
        start, end = certificate_year(self.today.toordinal())
        return [
            {
                "classification": "02" if income == "low" else "01",
                "bracket_code": bracket,
                "valid_from": dt.date.fromordinal(start).isoformat(),
                "valid_until": dt.date.fromordinal(end).isoformat(),
                "issued_on": dt.date.fromordinal(start).isoformat(),
            }
        ]

    def _disease(self, category: str | None) -> list[dict]:
        if category is None:
            return []
        since = self.days_ago(1500)
        return [
            {
                "category": category,
                "self_pay_limit": 10_000,
                "valid_from": since,
                "issued_on": since,
            }
        ]

    def job_changer(
        self,
        names: tuple[str, str, str],
        age: int,
        old: tuple[InsurerInfo, str],
        new: tuple[InsurerInfo, str] | None,
        days_ago: int,
    ) -> dict:
        """Left the ``old`` employer's insurance ``days_ago`` (loss reason 03) for the ``new`` one;
        ``new`` None: the new insurer has not registered them yet."""
        name, kana, sex = names
        record = self.person(name, kana, sex, age, "general", old[1], insurer=old[0])
        record["qualifications"][0] |= {
            "lost_on": self.days_ago(days_ago),
            "loss_reason": "03",
        }
        if new:
            changed = self.today - dt.timedelta(days=days_ago)
            record["qualifications"].append(self.qualification(new[0], new[1], name, changed))
        return record

    def twins(self, card_number: str) -> tuple[dict, dict, dict]:
        """A parent (branch 00) and twins (01, 02) on one card, the twins sharing a birth date."""
        parent = self.person("西村　健太", "ニシムラ　ケンタ", "1", 38, "general", card_number)
        twins = []
        for branch, name, kana in (("01", "西村　蓮", "ニシムラ　レン"), ("02", "西村　湊", "ニシムラ　ミナト")):  # fmt: skip
            twin = self.person(name, kana, "1", 8, "general", card_number, holder="西村　健太")
            twin["qualifications"][0] |= {
                "insured_number": self.number(self.association, card_number, branch)
            }
            twins.append(twin)
        return parent, twins[0], twins[1]

    # -- medical histories --------------------------------------------------------------------

    def medication_history(self) -> list[dict]:
        """Three chronic drugs refilled every 28 days for about three years, and a few painkiller
        courses; the newest dispensing is the claims lag (45 days) ago."""
        by_code = {drug.code: drug for drug, _ in drugs()}
        rows = [
            self._dispensed(by_code[code], CLAIMS_LAG + REFILL_DAYS * refill, REFILL_DAYS)
            for refill in range(REFILLS)
            for code in CHRONIC
        ]
        rows += [
            self._dispensed(by_code[ACUTE], CLAIMS_LAG + 250 * episode + 10, 7)
            for episode in range(ACUTE_EPISODES)
        ]
        return sorted(rows, key=lambda row: (row["dispensed_on"], row["drug_code"]))

    def prescribed_at_two_clinics(self, code: str) -> list[dict]:
        """The same drug for 90 days from two clinics, each unaware of the other: the newest claims
        (the lag ago and a few days before), both still being taken today and for weeks to come."""
        drug = next(drug for drug, _ in drugs() if drug.code == code)
        return [
            self._dispensed(drug, CLAIMS_LAG + 5, 90),
            self._dispensed(drug, CLAIMS_LAG + 1, 90, prescriber=OTHER_CLINIC),
        ]

    def _dispensed(
        self, drug: Drug, days_ago: int, days: int, prescriber: tuple[str, str] = CLINIC
    ) -> dict:
        day = self.days_ago(days_ago)
        return {
            "dispensed_on": day,
            "prescribed_on": day,
            "drug_code": drug.code,
            "drug_name": drug.name,
            "ingredient": drug.ingredient,
            "quantity": drug.daily_quantity,
            "unit": drug.unit,
            "usage": drug.usage,
            "days": days,
            "dispenser_code": PHARMACY[0],
            "dispenser_name": PHARMACY[1],
            "prescriber_code": prescriber[0],
            "prescriber_name": prescriber[1],
            "in_house": False,
        }

    def worsening_checkups(self) -> list[dict]:
        """Five yearly checkups (a man of 170 cm), oldest first, HbA1c from 5.6 to 7.4."""
        rows = []
        for year in range(5):
            values = {item: series[year] for item, series in CHECKUP_SERIES.items()}
            bmi = round(values["weight"] / (HEIGHT / 100) ** 2, 1)
            judgement = metabolic_judgement(
                True, values["waist"], values["triglycerides"], values["hdl"],
                values["systolic_bp"], values["diastolic_bp"], values["fasting_glucose"],
                values["hba1c"],
            )  # fmt: skip
            rows.append(
                {
                    "examined_on": self.days_ago(60 + 365 * (4 - year)),
                    "institution_name": CLINIC[1],
                    "height": HEIGHT,
                    "bmi": bmi,
                    "urine_protein": "1",
                    "metabolic_judgement": judgement,
                    **values,
                }
            )
        return rows

    def procedure_records(self) -> list[dict]:
        names = {(p.kind, p.code): p.name for p, _ in procedures()}
        return [
            {
                "kind": kind,
                "performed_on": self.days_ago(days),
                "procedure_code": code,
                "procedure_name": names[kind, code],
                "institution_code": CLINIC[0],
                "institution_name": CLINIC[1],
            }
            for kind, code, days in PROCEDURES
        ]
