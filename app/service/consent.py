"""Every consent rule (同意) of the service, in one place.

- Which categories exist, and which of them unlock medical records (and under which path).
- Which categories an institution's reader offers (by default, and as registered); a patient can give
  only offered ones.
- How long a consent lets the institution see the data (``ELIGSIM_CONSENT_TTL_HOURS``).
- The newest choice stands: at a card visit every offered category is a choice, given or declined,
  and for a person, institution and category the newest one decides; a decline withdraws an earlier
  consent there. A decline is stored as a consent row that ends the moment it is given
  (``available_until == consented_at``), so no table changes and every reader of the rows below
  tells it apart from a consent.
- What a consent makes visible: medical records need a live consent at the same institution; in an
  eligibility result the limit certificate and the specific-disease certificates show only when
  consented. A check by numbers (no card) can carry only the limit-certificate consent, given in front
  of the staff; medical records are never available without a card.
- The patient sees their own medications and checkups in the portal, with no consent.
- In a declared disaster period (災害時), an institution in one of its prefectures (the first two
  digits of its code) may look at a person its disaster search found — eligibility (certificates
  hidden), medications, checkups — without a consent, while that period lasts (docs/rules.md §8).
- A duplicate-medication check (重複投薬等チェック) runs with or without a consent; what it found (where,
  when, which drug) shows only under a live medication consent at the checking institution, else
  only that a duplicate exists and of which ingredient.

The web API, the batch, the reader station and the front-desk page (served ``rules()``) use these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, or_, select, update

from app.service.errors import ServiceError
from app.service.models import Consent, Disaster, DisasterPrefecture
from payer_registry.clock import as_utc
from payer_registry.eligibility import JAPAN
from payer_registry.models import table_of

consents = table_of(Consent)
disasters = table_of(Disaster)
disaster_prefectures = table_of(DisasterPrefecture)
# a row that is a consent, not a decline (which ends the moment it is given)
_GIVEN = consents.c.available_until > consents.c.consented_at

# 薬剤情報, 特定健診等情報, 診療情報, 手術情報, 限度額適用認定証関連情報, 特定疾病療養受療証
CATEGORIES = (
    "medication",
    "checkup",
    "clinical",
    "surgery",
    "limit_certificate",
    "specific_diseases",
)
# records a consent unlocks: path under a visit -> category
RECORD_PAGES = {
    "medications": "medication",
    "checkups": "checkup",
    "clinical": "clinical",
    "surgeries": "surgery",
}
MEDICAL_CATEGORIES = tuple(RECORD_PAGES.values())
# parts of an eligibility result shown only with the matching consent
CERTIFICATE_CATEGORIES = ("limit_certificate", "specific_diseases")
DEFAULT_OFFERED = ("medication", "checkup", "limit_certificate", "specific_diseases")
# the patient's own records in the portal: path -> category
PORTAL_PAGES = {"medications": "medication", "checkups": "checkup"}
# 災害時: the records a look through a disaster search shows without a consent: path -> category
DISASTER_PAGES = {"medications": "medication", "checkups": "checkup"}
# the consent under which a duplicate-medication check shows what it found
DUPLICATE_DETAILS_CATEGORY = "medication"


class ConsentState(StrEnum):
    LIVE = "live"
    EXPIRED = "expired"
    NONE = "none"
    DISASTER = (
        "disaster"  # no consent needed: the look's disaster period is open to the institution
    )
    NO_DISASTER = "no_disaster"  # a disaster look whose period is not open to the institution now


@dataclass(frozen=True, slots=True)
class Grant:
    """Consents as the patient chose them at the reader, before they are stored."""

    categories: tuple[str, ...]

    @classmethod
    def from_choices(cls, choices: Mapping[str, bool]) -> Grant:
        return cls(tuple(category for category in CATEGORIES if choices.get(category)))

    def declined(self, offered: Collection[str]) -> tuple[str, ...]:
        """The offered categories the patient did not give: each is a choice too."""
        return tuple(c for c in CATEGORIES if c in offered and c not in self.categories)

    def check_offered(self, offered: Collection[str]) -> None:
        refused = [category for category in self.categories if category not in offered]
        if refused:
            raise ServiceError(
                "CONSENT_NOT_OFFERED",
                "the reader does not offer these categories",
                {"categories": refused},
            )


def without_card(limit_certificate_consent: bool) -> set[str]:
    """What a check by numbers may show: only the limit certificate, when consented in person."""
    return {"limit_certificate"} if limit_certificate_consent else set()


def visible(eligibility: dict[str, Any], consented: Iterable[str]) -> dict[str, Any]:
    """The eligibility result without the certificates the patient did not consent to show."""
    hidden = set(CERTIFICATE_CATEGORIES) - set(consented)
    return {key: value for key, value in eligibility.items() if key not in hidden}


def lifetime(consent_ttl_hours: float) -> dt.timedelta:
    """At least a microsecond, so that a consent never reads as a decline (which ends at once)."""
    return max(dt.timedelta(hours=consent_ttl_hours), dt.timedelta(microseconds=1))


def record_choices(
    conn: Connection,
    visit_id: str,
    person_id: int,
    institution_code: str,
    grant: Grant,
    offered: Collection[str],
    at: dt.datetime,
    ttl: dt.timedelta,
) -> list[dict[str, Any]]:
    """Store the choices made at one verification: the given consents for ``ttl``, and a decline
    for every other offered category, which also ends the person's earlier consents for it at this
    institution now (so the portal and old visits show when they ended). Returns the given ones."""
    given = [
        _choice(visit_id, person_id, institution_code, c, at, at + ttl) for c in grant.categories
    ]
    declined = grant.declined(offered)
    rows = given + [_choice(visit_id, person_id, institution_code, c, at, at) for c in declined]
    if declined:
        conn.execute(
            update(consents)
            .where(
                consents.c.person_id == person_id,
                consents.c.institution_code == institution_code,
                consents.c.category.in_(declined),
                consents.c.available_until > at,
            )
            .values(available_until=at)
        )
    if rows:
        conn.execute(consents.insert(), rows)
    return given


def _choice(
    visit_id: str,
    person_id: int,
    institution_code: str,
    category: str,
    at: dt.datetime,
    until: dt.datetime,
) -> dict[str, Any]:
    return {
        "visit_id": visit_id,
        "person_id": person_id,
        "institution_code": institution_code,
        "category": category,
        "consented_at": at,
        "available_until": until,
    }


def consent_state(
    conn: Connection, person_id: int, institution_code: str, category: str, at: dt.datetime
) -> tuple[ConsentState, int | None]:
    """The newest choice of this person for this institution and category, and whether it is a
    live consent; a decline reads as ``NONE`` (with its id, so the audit says which choice)."""
    row = conn.execute(
        select(consents.c.id, consents.c.consented_at, consents.c.available_until)
        .where(
            consents.c.person_id == person_id,
            consents.c.institution_code == institution_code,
            consents.c.category == category,
        )
        .order_by(consents.c.consented_at.desc(), consents.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return ConsentState.NONE, None
    if _declined(row._asdict()):
        return ConsentState.NONE, row.id
    live = as_utc(row.available_until) > at
    return (ConsentState.LIVE if live else ConsentState.EXPIRED), row.id


def require_live(state: ConsentState, category: str) -> None:
    """Refuse records unless the consent is live."""
    if state is ConsentState.EXPIRED:
        raise ServiceError(
            "CONSENT_EXPIRED", f"the consent for {category} has expired; verify the card again"
        )
    if state is ConsentState.NONE:
        raise ServiceError(
            "CONSENT_REQUIRED", f"the patient has not consented to show {category} here"
        )
    if state is ConsentState.NO_DISASTER:
        raise disaster_refusal()


def prefecture_of(institution_code: str) -> str:
    """An institution's prefecture: the first two digits of its 10-digit code (医療機関コード)."""
    return institution_code[:2]


def disasters_open_to(conn: Connection, institution_code: str, at: dt.datetime) -> list[int]:
    """The declared disaster periods open to the institution at ``at``: covering its prefecture and
    Japan's calendar day of ``at`` (both ends included), not ended by then; longest-lasting first."""
    day = at.astimezone(JAPAN).date()
    stmt = (
        select(disasters.c.id)
        .join(disaster_prefectures, disaster_prefectures.c.disaster_id == disasters.c.id)
        .where(
            disaster_prefectures.c.prefecture == prefecture_of(institution_code),
            disasters.c.starts_on <= day,
            disasters.c.ends_on >= day,
            or_(disasters.c.ended_at.is_(None), disasters.c.ended_at > at),
        )
        .order_by(disasters.c.ends_on.desc(), disasters.c.id.desc())
    )
    return list(conn.scalars(stmt))


def disaster_state(
    conn: Connection, institution_code: str, disaster_id: int, at: dt.datetime
) -> ConsentState:
    """A look through a disaster search needs no consent while the period it was made under is
    still open to the institution."""
    open_now = disaster_id in disasters_open_to(conn, institution_code, at)
    return ConsentState.DISASTER if open_now else ConsentState.NO_DISASTER


def disaster_refusal() -> ServiceError:
    return ServiceError(
        "DISASTER_ACCESS_FORBIDDEN",
        "no declared disaster period covers this institution's prefecture now",
    )


def duplicate_details_shown(state: ConsentState) -> bool:
    """Whether a duplicate-medication check shows where, when and what was prescribed: only under a
    live ``DUPLICATE_DETAILS_CATEGORY`` consent at the checking institution (docs/rules.md §7)."""
    return state is ConsentState.LIVE


def live_categories(given: Iterable[Mapping[str, Any]], at: dt.datetime) -> set[str]:
    return {consent["category"] for consent in given if consent["available_until"] > at}


def consents_of_person(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    """Every consent the person gave (declines left out), newest first."""
    stmt = (
        select(
            consents.c.institution_code,
            consents.c.category,
            consents.c.consented_at,
            consents.c.available_until,
        )
        .where(consents.c.person_id == person_id, _GIVEN)
        .order_by(consents.c.consented_at.desc())
    )
    return [_with_utc(row._asdict()) for row in conn.execute(stmt)]


def current_consents(
    conn: Connection, person_id: int, institution_code: str
) -> list[dict[str, Any]]:
    """What the person consents to at the institution now: per category, the newest choice when it
    is a consent (live or expired, as its ``available_until`` says); a declined category is absent."""
    stmt = (
        select(consents.c.category, consents.c.consented_at, consents.c.available_until)
        .where(
            consents.c.person_id == person_id,
            consents.c.institution_code == institution_code,
        )
        .order_by(consents.c.consented_at.desc(), consents.c.id.desc())
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in conn.execute(stmt):
        newest.setdefault(row.category, _with_utc(row._asdict()))
    return [
        newest[category]
        for category in CATEGORIES
        if category in newest and not _declined(newest[category])
    ]


def rules() -> dict[str, Any]:
    """The rules a page needs, served to it instead of copied into its code."""
    return {
        "categories": list(CATEGORIES),
        "record_pages": [{"path": p, "category": c} for p, c in RECORD_PAGES.items()],
        "certificate_categories": list(CERTIFICATE_CATEGORIES),
        "default_offered": list(DEFAULT_OFFERED),
        "duplicate_details_category": DUPLICATE_DETAILS_CATEGORY,
    }


def _declined(choice: Mapping[str, Any]) -> bool:
    """A decline ends the moment it is given; a consent lasts its lifetime."""
    return bool(choice["available_until"] <= choice["consented_at"])


def _with_utc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "consented_at": as_utc(row["consented_at"]),
        "available_until": as_utc(row["available_until"]),
    }
