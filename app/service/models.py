"""Tables of the access layer (same metadata as the registry, so one migration history)."""

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
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payer_registry.models import Base


class Institution(Base):
    """A medical institution or pharmacy (医療機関・薬局); ``offered`` lists the consent categories its
    readers offer."""

    __tablename__ = "institutions"
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    offered: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Payer(Base):
    """A payer account (an insurer's or its agent's system). Names are not unique: the id is the
    account."""

    __tablename__ = "payers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PayerInsurer(Base):
    """An insurer whose persons a payer account may write; an account writes nobody else."""

    __tablename__ = "payer_insurers"
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), primary_key=True)
    insurer_number: Mapped[str] = mapped_column(String(8), primary_key=True)


class ApiKey(Base):
    """A bearer key, stored as its SHA-256 digest; ``prefix`` finds the row without the secret.
    It belongs to an institution or to a payer account."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))
    institution_code: Mapped[str | None] = mapped_column(ForeignKey("institutions.code"))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ReaderKey(Base):
    """A face-recognition reader's attestation key, registered by its institution (docs/rules.md §6)."""

    __tablename__ = "reader_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    public_key_pem: Mapped[str] = mapped_column(Text)


class CardSession(Base):
    """A single-use server challenge handed to a reader."""

    __tablename__ = "card_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    institution_code: Mapped[str | None] = mapped_column(ForeignKey("institutions.code"))
    purpose: Mapped[str] = mapped_column(String(10))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Visit(Base):
    """One confirmed card verification at an institution (受付): the anchor of its consents."""

    __tablename__ = "visits"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(4))
    staff_id: Mapped[str | None] = mapped_column(String(40))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """A patient's consent for one category at one institution, from one verification."""

    __tablename__ = "consents"
    # a verification ends the person's live consents it declines without reading their others
    __table_args__ = (
        Index(
            "ix_consents_person_choice",
            "person_id",
            "institution_code",
            "category",
            "available_until",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    category: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    available_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only: each entry's ``digest`` covers its content and the previous entry's digest, as
    an HMAC under the audit key ``key_id`` names (no key id: a plain SHA-256, before revision 0008),
    which covers the request id too when there is one (revision 0009)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(40))
    institution_code: Mapped[str | None] = mapped_column(String(10), index=True)
    staff_id: Mapped[str | None] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(20))
    visit_id: Mapped[str | None] = mapped_column(String(36))
    consent_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(40))
    previous_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    # the HTTP request that caused the entry (X-Request-Id); none for commands, jobs, older entries
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)


class AuditHead(Base):
    """One row: the newest sequence number and digest. Updating it first serialises appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))


class PortalSession(Base):
    """A patient's short-lived session in the portal view (マイナポータル), opened by their own card."""

    __tablename__ = "portal_sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class Batch(Base):
    """A batch pre-check (一括照会) under its reception number (受付番号)."""

    __tablename__ = "batches"
    reception_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    total: Mapped[int] = mapped_column(Integer)
    confirmation_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BatchItem(Base):
    """One inquiry of a batch and, once processed, its result (JSON text)."""

    __tablename__ = "batch_items"
    reception_number: Mapped[str] = mapped_column(
        ForeignKey("batches.reception_number", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    inquiry: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    normal: Mapped[bool | None] = mapped_column(Boolean)


class PayerUpload(Base):
    """A large payer upload of person records, written by a background job; only the payer account
    that sent it sees it."""

    __tablename__ = "payer_uploads"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    records: Mapped[str] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    written: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Prescription(Base):
    """A drug an institution prescribed (処方) for the patient of one of its card visits: like an
    electronic prescription, every institution's duplicate-medication check sees it at once."""

    __tablename__ = "prescriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    staff_id: Mapped[str | None] = mapped_column(String(40))
    drug_code: Mapped[str] = mapped_column(String(12))
    drug_name: Mapped[str] = mapped_column(String(100))
    ingredient: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    usage: Mapped[str] = mapped_column(String(60))
    days: Mapped[int] = mapped_column(Integer)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PrescriptionCheck(Base):
    """One duplicate-medication check (重複投薬等チェック) made on a person, as their portal lists it:
    the planned drugs and what was found for each (JSON text)."""

    __tablename__ = "prescription_checks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    staff_id: Mapped[str | None] = mapped_column(String(40))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finding: Mapped[str] = mapped_column(String(12))
    details_shown: Mapped[bool] = mapped_column(Boolean)
    planned: Mapped[str] = mapped_column(Text)


class Disaster(Base):
    """A declared disaster period (災害時モード) for some prefectures, from ``starts_on`` to
    ``ends_on`` inclusive (Japan's calendar), unless ended early (``ended_at``)."""

    __tablename__ = "disasters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    declared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DisasterPrefecture(Base):
    """A prefecture (its two-digit code, 01–47) a disaster period covers."""

    __tablename__ = "disaster_prefectures"
    disaster_id: Mapped[int] = mapped_column(
        ForeignKey("disasters.id", ondelete="CASCADE"), primary_key=True
    )
    prefecture: Mapped[str] = mapped_column(String(2), primary_key=True)


class DisasterHandle(Base):
    """One candidate of a disaster search: the opaque handle its institution views the person with,
    without a consent, while the disaster period it was found under lasts."""

    __tablename__ = "disaster_handles"
    handle: Mapped[str] = mapped_column(String(32), primary_key=True)
    disaster_id: Mapped[int] = mapped_column(ForeignKey("disasters.id"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    staff_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
