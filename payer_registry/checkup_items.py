"""Specific health checkup items (特定健診) and their XML checkup codes (健診項目コード), docs/rules.md §5."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckupItem:
    column: str
    code: str
    label: str
    unit: str


ITEMS: tuple[CheckupItem, ...] = (
    CheckupItem("height", "9N001000000000001", "身長", "cm"),
    CheckupItem("weight", "9N006000000000001", "体重", "kg"),
    CheckupItem("bmi", "9N011000000000001", "BMI", "kg/m2"),
    CheckupItem("waist", "9N016160100000001", "腹囲", "cm"),
    CheckupItem("systolic_bp", "9A751000000000001", "収縮期血圧", "mmHg"),
    CheckupItem("diastolic_bp", "9A761000000000001", "拡張期血圧", "mmHg"),
    CheckupItem("triglycerides", "3F015000002327101", "中性脂肪", "mg/dL"),
    CheckupItem("hdl", "3F070000002327101", "HDLコレステロール", "mg/dL"),
    CheckupItem("ldl", "3F077000002327101", "LDLコレステロール", "mg/dL"),
    CheckupItem("ast", "3B035000002327201", "AST(GOT)", "U/L"),
    CheckupItem("alt", "3B045000002327201", "ALT(GPT)", "U/L"),
    CheckupItem("gamma_gt", "3B090000002327101", "γ-GT", "U/L"),
    CheckupItem("fasting_glucose", "3D010000001927201", "空腹時血糖", "mg/dL"),
    CheckupItem("hba1c", "3D046000001920402", "HbA1c(NGSP)", "%"),
    CheckupItem("egfr", "8A065000002391901", "eGFR", "mL/min/1.73m2"),
    CheckupItem("urine_glucose", "1A020000000190111", "尿糖", ""),
    CheckupItem("urine_protein", "1A010000000190111", "尿蛋白", ""),
    CheckupItem("haemoglobin", "2A030000001930101", "血色素量", "g/dL"),
)

METABOLIC_JUDGEMENTS = {"1": "基準該当", "2": "予備群該当", "3": "非該当", "4": "判定不能"}
# Qualitative urine results as the checkup XML codes them (尿糖・尿蛋白: 1 −, 2 ±, 3 +, 4 ++, 5 +++).
URINE_RESULTS = {"1": "−", "2": "±", "3": "+", "4": "++", "5": "+++"}
QUALITATIVE = ("urine_glucose", "urine_protein")
