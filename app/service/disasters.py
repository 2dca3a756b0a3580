"""Disaster mode (災害時モード): disaster periods declared for some prefectures and, during one, a
search for a person without a card and looks at what was found without a consent.

Who may use it when is a consent rule (``consent.disasters_open_to``); the simulator's own
assumptions (matching, the candidate cap, what a candidate shows) are docs/rules.md §8."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_, select

from app.service import audit, consent
from app.service.audit import Action, Actor, Outcome, audit_log
from app.service.context import ServiceContext
from app.service.errors import ServiceError, field_error
from app.service.models import Disaster, DisasterHandle, DisasterPrefecture, Institution
from app.service.visits import Look, allow_look, records_under_consent
from payer_registry.clock import as_utc, now_utc
from payer_registry.confirmation import confirm_person
from payer_registry.eligibility import JAPAN, today_in_japan
from payer_registry.medical import Page
from payer_registry.models import Person, table_of
from payer_registry.presenting import confirmation_dict
from payer_registry.synthetic.reference import prefectures

disasters = table_of(Disaster)
disaster_prefectures = table_of(DisasterPrefecture)
handles = table_of(DisasterHandle)
persons = table_of(Person)
institutions = table_of(Institution)

CANDIDATES_AT_MOST = 3  # more matches than this: refused, never listed
LONGEST_PERIOD = dt.timedelta(days=366)
DISASTER_ACTIONS = (Action.DISASTER_SEARCH, Action.DISASTER_VIEW)
ELIGIBILITY = "eligibility"  # the category a look at eligibility is audited under
HANDLE_BYTES = 16


# --- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Declaration:
    """A disaster period as an operator declares it: prefecture codes, first and last day."""

    prefectures: tuple[str, ...]
    starts_on: dt.date
    ends_on: dt.date
    name: str | None = None


@cache
def prefecture_names() -> dict[str, str]:
    """Prefecture code (01–47) -> name, from the bundled reference data."""
    return {prefecture.code: prefecture.name for prefecture in prefectures().items}


def declare(conn: Connection, declaration: Declaration) -> dict[str, Any]:
    """Declare a disaster period; it is open from its first day to its last (Japan's calendar)."""
    codes = _prefecture_codes(declaration.prefectures)
    _check_days(declaration.starts_on, declaration.ends_on)
    name = (declaration.name or "").strip() or None
    if name and len(name) > 100:
        raise field_error("name", "a disaster's name has at most 100 characters")
    disaster_id: int = conn.execute(
        disasters.insert()
        .values(
            name=name,
            starts_on=declaration.starts_on,
            ends_on=declaration.ends_on,
            declared_at=now_utc(),
        )
        .returning(disasters.c.id)
    ).scalar_one()
    conn.execute(
        disaster_prefectures.insert(),
        [{"disaster_id": disaster_id, "prefecture": code} for code in codes],
    )
    _audit_period(conn, disaster_id, Outcome.DECLARED)
    return periods(conn, disaster_id)[0]


def end(conn: Connection, disaster_id: int) -> dict[str, Any]:
    """End a disaster period now: the handles of its searches stop working at once."""
    found = periods(conn, disaster_id)
    if not found:
        raise ServiceError("NOT_FOUND", f"no disaster period {disaster_id}")
    if found[0]["ended_at"] is not None:
        raise field_error("id", f"disaster period {disaster_id} has already been ended")
    conn.execute(disasters.update().where(disasters.c.id == disaster_id).values(ended_at=now_utc()))
    _audit_period(conn, disaster_id, Outcome.ENDED)
    return periods(conn, disaster_id)[0]


def period_category(disaster_id: int) -> str:
    """The audit category naming a disaster period: ``disaster:<id>``."""
    return f"disaster:{disaster_id}"


def _audit_period(conn: Connection, disaster_id: int, outcome: Outcome) -> None:
    """A period declared or ended, by the operator running the command."""
    audit.append_by_operator(
        conn, Action.DISASTER_PERIOD, outcome, category=period_category(disaster_id)
    )


def _prefecture_codes(given: Iterable[str]) -> list[str]:
    """Two-digit codes, each once: "13" and "1" (as "01") are read, anything else refused."""
    codes: list[str] = []
    for text in given:
        code = text.strip().zfill(2)
        if code not in prefecture_names():
            raise field_error("prefectures", f"{text!r} is not a prefecture code (01 to 47)")
        if code not in codes:
            codes.append(code)
    if not codes:
        raise field_error("prefectures", "name at least one prefecture")
    return codes


def _check_days(starts_on: dt.date, ends_on: dt.date) -> None:
    today = today_in_japan()
    if ends_on < starts_on:
        raise field_error("until", "the last day comes before the first")
    if ends_on < today:
        raise field_error("until", f"the period would be over already (today is {today})")
    if ends_on - starts_on >= LONGEST_PERIOD or starts_on - today >= LONGEST_PERIOD:
        raise field_error("until", "a period lasts at most 366 days and starts within 366 days")


def periods(conn: Connection, disaster_id: int | None = None) -> list[dict[str, Any]]:
    """Every declared disaster period (or the one ``disaster_id`` names), newest first, with its
    state today: upcoming, open, over or ended."""
    stmt = select(disasters).order_by(disasters.c.id.desc())
    codes = select(disaster_prefectures).order_by(disaster_prefectures.c.prefecture)
    if disaster_id is not None:
        stmt = stmt.where(disasters.c.id == disaster_id)
        codes = codes.where(disaster_prefectures.c.disaster_id == disaster_id)
    rows = conn.execute(stmt).all()
    covered: dict[int, list[str]] = {}
    for row in conn.execute(codes):
        covered.setdefault(row.disaster_id, []).append(row.prefecture)
    return [_period(row, covered.get(row.id, [])) for row in rows]


def _period(row: Row[Any], codes: list[str]) -> dict[str, Any]:
    ended_at = as_utc(row.ended_at) if row.ended_at else None
    return {
        "id": row.id,
        "name": row.name,
        "prefectures": codes,
        "from": row.starts_on,
        "until": row.ends_on,
        "declared_at": as_utc(row.declared_at),
        "ended_at": ended_at,
        "state": _state(row.starts_on, row.ends_on, ended_at),
    }


def _state(starts_on: dt.date, ends_on: dt.date, ended_at: dt.datetime | None) -> str:
    today = today_in_japan()
    if ended_at is not None:
        return "ended"
    if today < starts_on:
        return "upcoming"
    return "open" if today <= ends_on else "over"


# --- searching without a card -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisasterSearch:
    """What the patient (or whoever is with them) can tell: name or kana, birth date, sex, and
    optionally the address."""

    name: str | None = None
    name_kana: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    address: str | None = None
    staff_id: str | None = None

    @classmethod
    def from_request(cls, body: dict[str, Any]) -> DisasterSearch:
        return cls(**{field.name: body.get(field.name) for field in fields(cls)})

    def missing(self) -> list[str]:
        """What a search needs but was not given (an empty or blank name is not given)."""
        absent = []
        if not (folded(self.name or "") or folded(self.name_kana or "")):
            absent.append("name or name_kana")
        absent += [name for name in ("birth_date", "sex") if getattr(self, name) is None]
        return absent

    def matches(self, person: Row[Any]) -> bool:
        """Every given field matches: names whole (folded), the address as the start of theirs."""
        names = [
            (folded(self.name or ""), person.name),
            (folded(self.name_kana or ""), person.name_kana),
        ]
        same_names = all(ours == folded(theirs) for ours, theirs in names if ours)
        address = folded(self.address or "")
        return same_names and folded(person.address).startswith(address)


_HIRAGANA_AS_KATAKANA = {code: code + 0x60 for code in range(ord("ぁ"), ord("ゖ") + 1)}


def folded(text: str) -> str:
    """A name, kana or address as searches compare it: full and half width alike (NFKC), hiragana
    as katakana, without spaces, case-folded."""
    text = unicodedata.normalize("NFKC", text).translate(_HIRAGANA_AS_KATAKANA)
    return "".join(text.split()).casefold()


def search(ctx: ServiceContext, institution_code: str, query: DisasterSearch) -> dict[str, Any]:
    """The people matching every given field, at most ``CANDIDATES_AT_MOST``, each with what tells
    them apart and a handle to view them with while the disaster period lasts; refused outside a
    period open to the institution, with too little information, or when more people match.
    Every search is audited: a candidate shown names its person, a refusal names nobody."""
    at = now_utc()
    with ctx.registry.connect() as conn:
        open_ids = consent.disasters_open_to(conn, institution_code, at)
    if not open_ids:
        raise _refused(ctx, institution_code, query, consent.disaster_refusal())
    missing = query.missing()
    if missing:
        message = "a disaster search needs a name or kana, the birth date and the sex"
        error = ServiceError("DISASTER_SEARCH_INCOMPLETE", message, {"missing": missing})
        raise _refused(ctx, institution_code, query, error)
    with ctx.registry.connect() as conn:
        found = _matching(conn, query)
    if len(found) > CANDIDATES_AT_MOST:
        message = f"more than {CANDIDATES_AT_MOST} people match; add the address or the other name"
        raise _refused(
            ctx, institution_code, query, ServiceError("DISASTER_SEARCH_TOO_BROAD", message)
        )
    with ctx.registry.begin() as conn:
        candidates = [
            _candidate(conn, open_ids[0], institution_code, query.staff_id, person, at)
            for person in found
        ]
        if not found:
            _audit_search(conn, institution_code, query.staff_id, Outcome.NOT_FOUND)
        period = periods(conn, open_ids[0])[0]
    return {"disaster": period, "candidates": candidates}


def _matching(conn: Connection, query: DisasterSearch) -> list[Row[Any]]:
    return [person for person in conn.execute(same_birth(query)) if query.matches(person)]


def same_birth(query: DisasterSearch) -> Select[Any]:
    """Everyone born on the searched day with the searched sex (``persons.birth_date`` is
    indexed), whose names and address ``DisasterSearch.matches`` then compares."""
    return (
        select(persons)
        .where(persons.c.birth_date == query.birth_date, persons.c.sex == query.sex)
        .order_by(persons.c.id)
    )


def _candidate(
    conn: Connection,
    disaster_id: int,
    institution_code: str,
    staff_id: str | None,
    person: Row[Any],
    at: dt.datetime,
) -> dict[str, Any]:
    handle = secrets.token_urlsafe(HANDLE_BYTES)
    conn.execute(
        handles.insert().values(
            handle=handle,
            disaster_id=disaster_id,
            institution_code=institution_code,
            person_id=person.id,
            staff_id=staff_id,
            created_at=at,
        )
    )
    _audit_search(conn, institution_code, staff_id, Outcome.SHOWN, person.id)
    return {
        "handle": handle,
        "name_kana": person.name_kana,
        "birth_date": person.birth_date,
        "sex": person.sex,
        "address_area": address_area(person.address),
    }


def address_area(address: str) -> str | None:
    """The first part of an address: its prefecture and municipality (市区町村), or None when it
    does not start with a prefecture."""
    match = _address_area_pattern().match(address)
    return match.group(0) if match else None


@cache
def _address_area_pattern() -> re.Pattern[str]:
    names = "|".join(map(re.escape, prefecture_names().values()))
    return re.compile(rf"(?:{names})(?:.+?[市区町村])?")


def _refused(
    ctx: ServiceContext, institution_code: str, query: DisasterSearch, error: ServiceError
) -> ServiceError:
    """``error``, once the refused search is audited."""
    with ctx.registry.begin() as conn:
        _audit_search(conn, institution_code, query.staff_id, Outcome(error.code))
    return error


def _audit_search(
    conn: Connection,
    institution_code: str,
    staff_id: str | None,
    outcome: Outcome,
    person_id: int | None = None,
) -> None:
    audit.append(
        conn,
        actor=Actor.INSTITUTION,
        action=Action.DISASTER_SEARCH,
        outcome=outcome,
        institution_code=institution_code,
        staff_id=staff_id,
        person_id=person_id,
    )


# --- looking without a consent ------------------------------------------------------------------


def disaster_eligibility(ctx: ServiceContext, institution_code: str, handle: str) -> dict[str, Any]:
    """The found person's eligibility today, without the certificates (they need a consent)."""
    look = _look(ctx, institution_code, handle)
    allow_look(ctx, look, ELIGIBILITY)
    with ctx.registry.connect() as conn:
        result = confirm_person(conn, look.person_id, today_in_japan())
    return {"eligibility": consent.visible(confirmation_dict(result), ())}


def disaster_records(
    ctx: ServiceContext, institution_code: str, handle: str, category: str, query: dict[str, Any]
) -> Page:
    """A page of the found person's ``category`` records (a ``consent.DISASTER_PAGES`` one)."""
    return records_under_consent(ctx, _look(ctx, institution_code, handle), category, query)


def _look(ctx: ServiceContext, institution_code: str, handle: str) -> Look:
    """The look a handle allows; another institution's handle is unknown (audited, naming nobody)."""
    with ctx.registry.connect() as conn:
        row = conn.execute(select(handles).where(handles.c.handle == handle)).first()
    if row is None or row.institution_code != institution_code:
        with ctx.registry.begin() as conn:
            audit.append(
                conn,
                actor=Actor.INSTITUTION,
                action=Action.DISASTER_VIEW,
                outcome=Outcome.NOT_FOUND,
                institution_code=institution_code,
            )
        raise ServiceError("NOT_FOUND", "no such disaster search candidate")
    return Look(institution_code, row.person_id, row.staff_id, disaster_id=row.disaster_id)


# --- the regulator's report ---------------------------------------------------------------------


def disaster_access(conn: Connection, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Every disaster search and look from ``first`` to ``last`` (Japan's calendar, both included),
    oldest first: when, which institution (and staff), whom, what, the outcome; with who declared
    and ended the periods covering those days (whenever they did) or did so in those days."""
    stmt = (
        select(
            audit_log.c.seq,
            audit_log.c.at,
            audit_log.c.actor,
            audit_log.c.institution_code,
            institutions.c.name.label("institution_name"),
            audit_log.c.staff_id,
            audit_log.c.action,
            audit_log.c.category,
            audit_log.c.outcome,
            audit_log.c.person_id,
            persons.c.name.label("person_name"),
        )
        .outerjoin(institutions, institutions.c.code == audit_log.c.institution_code)
        .outerjoin(persons, persons.c.id == audit_log.c.person_id)
        .where(_reported(conn, first, last))
        .order_by(audit_log.c.seq)
    )
    return [{**row._asdict(), "at": as_utc(row.at)} for row in conn.execute(stmt)]


def _reported(conn: Connection, first: dt.date, last: dt.date) -> ColumnElement[bool]:
    """The entries the report shows: searches and looks made from ``first`` to ``last``; periods
    declared or ended then, or covering any of those days."""
    since = dt.datetime.combine(first, dt.time(), JAPAN).astimezone(dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), JAPAN).astimezone(dt.UTC)
    in_days = and_(audit_log.c.at >= since, audit_log.c.at < until)
    covering = select(disasters.c.id).where(
        disasters.c.starts_on <= last, disasters.c.ends_on >= first
    )
    categories = [period_category(row.id) for row in conn.execute(covering)]
    return or_(
        and_(audit_log.c.action.in_(DISASTER_ACTIONS), in_days),
        and_(
            audit_log.c.action == Action.DISASTER_PERIOD,
            or_(in_days, audit_log.c.category.in_(categories)),
        ),
    )
