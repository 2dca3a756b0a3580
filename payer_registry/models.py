"""The registry's tables (SQLAlchemy 2 declarative models). Alembic migrations follow these."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _person_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)


def table_of(model: type[Base]) -> Table:
    """The table a mapped class declares, typed as a ``Table`` for Core statements."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Insurer(Base):
    """保険者: number with a validated check digit, kind from the law code."""

    __tablename__ = "insurers"
    number: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))


class Person(Base):
    """A person as the payers know them; never holds the Individual Number."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date] = mapped_column(Date, index=True)  # disaster searches start here
    sex: Mapped[str] = mapped_column(String(1))
    address: Mapped[str] = mapped_column(String(200))
    income_category: Mapped[str] = mapped_column(String(20))
    post_code: Mapped[str | None] = mapped_column(String(8))  # 郵便番号, "NNN-NNNN"


class Qualification(Base):
    """One insurance qualification (資格); its individualized insured number is unique."""

    __tablename__ = "qualifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    insured_number: Mapped[str] = mapped_column(String(60), unique=True)
    insurer_number: Mapped[str] = mapped_column(ForeignKey("insurers.number"), index=True)
    relationship: Mapped[str] = mapped_column(String(6))
    card_classification: Mapped[str] = mapped_column(String(2))
    insured_name: Mapped[str] = mapped_column(String(100))
    acquired_on: Mapped[dt.date] = mapped_column(Date)
    lost_on: Mapped[dt.date | None] = mapped_column(Date)
    loss_reason: Mapped[str | None] = mapped_column(String(2))
    certificate_issued_on: Mapped[dt.date | None] = mapped_column(Date)  # 交付年月日
    card_valid_from: Mapped[dt.date | None] = mapped_column(Date)  # 有効開始日
    card_valid_until: Mapped[dt.date | None] = mapped_column(Date)  # 有効終了日


class ElderlyCertificate(Base):
    """高齢受給者証 (70-74)."""

    __tablename__ = "elderly_certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    copay_ratio: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)  # 交付年月日


class LimitCertificate(Base):
    """限度額適用認定証 and its relatives."""

    __tablename__ = "limit_certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    classification: Mapped[str] = mapped_column(String(2))
    bracket_code: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)  # 交付年月日
    long_term_on: Mapped[dt.date | None] = mapped_column(Date)  # 長期入院該当年月日


class SpecificDiseaseCertificate(Base):
    """特定疾病療養受療証: 1 dialysis, 2 haemophilia, 3 HIV from blood products."""

    __tablename__ = "specific_disease_certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    category: Mapped[str] = mapped_column(String(1))
    self_pay_limit: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)  # 交付年月日


class Medication(Base):
    """薬剤情報: one dispensed drug extracted from claims."""

    __tablename__ = "medications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    dispensed_on: Mapped[dt.date] = mapped_column(Date)
    prescribed_on: Mapped[dt.date] = mapped_column(Date)
    drug_code: Mapped[str] = mapped_column(String(12))
    drug_name: Mapped[str] = mapped_column(String(100))
    ingredient: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    usage: Mapped[str] = mapped_column(String(60))
    days: Mapped[int] = mapped_column(Integer)
    dispenser_code: Mapped[str] = mapped_column(String(10))
    dispenser_name: Mapped[str] = mapped_column(String(100))
    prescriber_code: Mapped[str] = mapped_column(String(10))
    prescriber_name: Mapped[str] = mapped_column(String(100))
    in_house: Mapped[bool] = mapped_column(Boolean)


class Checkup(Base):
    """特定健診: one examination; the item columns map to XML checkup codes in ``checkup_items``."""

    __tablename__ = "checkups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    examined_on: Mapped[dt.date] = mapped_column(Date)
    institution_name: Mapped[str] = mapped_column(String(100))
    height: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    waist: Mapped[float | None] = mapped_column(Float)
    systolic_bp: Mapped[int | None] = mapped_column(Integer)
    diastolic_bp: Mapped[int | None] = mapped_column(Integer)
    triglycerides: Mapped[int | None] = mapped_column(Integer)
    hdl: Mapped[int | None] = mapped_column(Integer)
    ldl: Mapped[int | None] = mapped_column(Integer)
    ast: Mapped[int | None] = mapped_column(Integer)
    alt: Mapped[int | None] = mapped_column(Integer)
    gamma_gt: Mapped[int | None] = mapped_column(Integer)
    fasting_glucose: Mapped[int | None] = mapped_column(Integer)
    hba1c: Mapped[float | None] = mapped_column(Float)
    egfr: Mapped[float | None] = mapped_column(Float)
    urine_glucose: Mapped[str | None] = mapped_column(String(2))
    urine_protein: Mapped[str | None] = mapped_column(String(2))
    haemoglobin: Mapped[float | None] = mapped_column(Float)
    metabolic_judgement: Mapped[str] = mapped_column(String(1))


class ProcedureRecord(Base):
    """診療情報 (kind ``clinical``) and 手術情報 (kind ``surgery``)."""

    __tablename__ = "procedure_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    kind: Mapped[str] = mapped_column(String(8))
    performed_on: Mapped[dt.date] = mapped_column(Date)
    procedure_code: Mapped[str] = mapped_column(String(12))
    procedure_name: Mapped[str] = mapped_column(String(100))
    institution_code: Mapped[str] = mapped_column(String(10))
    institution_name: Mapped[str] = mapped_column(String(100))


class CardLink(Base):
    """The link from a card's user-authentication certificate (issuer + serial) to a person.

    A renewed or revoked card keeps its row with ``ended_at`` and ``end_reason``: the history."""

    __tablename__ = "card_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = _person_fk()
    cert_issuer: Mapped[str] = mapped_column(String(300))
    cert_serial: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (Index("ix_card_links_certificate", "cert_serial", "cert_issuer"),)


class StagedImport(Base):
    """An import written in short transactions (its journal): ``staging`` while its validated
    records are stored in ``staged_records``, invisible; ``applying`` once every one is, when they
    are written into the registry a chunk at a time, ``written`` counting them. A process that
    dies leaves the row: an ``applying`` import is completed by the next run, a ``staging`` one
    that nobody touches any more is dropped."""

    __tablename__ = "staged_imports"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # import; or upload: its records wait in its row
    state: Mapped[str] = mapped_column(String(10))
    merge: Mapped[bool] = mapped_column(Boolean)  # a CSV import: qualifications only
    author: Mapped[str] = mapped_column(String(100))  # who imports, for the caller's audit entries
    total: Mapped[int] = mapped_column(Integer)
    written: Mapped[int] = mapped_column(Integer)
    touched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class StagedRecord(Base):
    """One validated record of a staged import, as a JSON line, with its line in the source file."""

    __tablename__ = "staged_records"
    import_id: Mapped[str] = mapped_column(
        ForeignKey("staged_imports.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer)
    anchor: Mapped[str | None] = mapped_column(String(60))
    record: Mapped[str] = mapped_column(Text)


# The person record's history sections (see ``records``) and the table behind each, in record order.
RECORD_SECTIONS = {
    "qualifications": table_of(Qualification),
    "elderly_certificates": table_of(ElderlyCertificate),
    "limit_certificates": table_of(LimitCertificate),
    "specific_disease_certificates": table_of(SpecificDiseaseCertificate),
    "medications": table_of(Medication),
    "checkups": table_of(Checkup),
    "procedures": table_of(ProcedureRecord),
    "card_links": table_of(CardLink),
}
PERSON_TABLES = tuple(RECORD_SECTIONS.values())
