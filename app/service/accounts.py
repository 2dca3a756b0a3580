"""Institutions, payers and their bearer API keys (stored as SHA-256 digests, compared in constant time)."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, select, update

from app.service.consent import CATEGORIES, DEFAULT_OFFERED
from app.service.models import ApiKey, Institution, Payer, PayerInsurer, ReaderKey
from payer_registry.clock import now_utc
from payer_registry.identifiers import validate_institution_code, validate_insurer_number
from payer_registry.models import table_of

institutions = table_of(Institution)
api_keys = table_of(ApiKey)
reader_keys = table_of(ReaderKey)
payers = table_of(Payer)
payer_insurers = table_of(PayerInsurer)
KINDS = {"1": "medical", "3": "dental", "4": "pharmacy"}
_KEY_TAG = "esk"


class AccessError(ValueError):
    """Bad institution or key data, with a message for the user."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "institution" or "payer"
    institution_code: str | None
    name: str
    payer_id: int | None = None  # the payer account (names are not unique)
    insurers: frozenset[str] = frozenset()  # the insurer numbers a payer account may write


def add_institution(
    conn: Connection, code: str, name: str, kind: str | None = None, offered: tuple[str, ...] = ()
) -> str:
    """Register an institution and return its new API key (shown once, stored only as a digest)."""
    validate_institution_code(code)
    expected = KINDS[code[2]]
    if kind and kind != expected:
        raise AccessError(f"institution code {code} is a {expected} code, not {kind}")
    unknown = set(offered) - set(CATEGORIES)
    if unknown:
        raise AccessError(f"unknown consent categories: {', '.join(sorted(unknown))}")
    if conn.execute(select(institutions.c.code).where(institutions.c.code == code)).first():
        raise AccessError(f"institution {code} is already registered")
    conn.execute(
        institutions.insert().values(
            code=code,
            name=name,
            kind=expected,
            offered=",".join(offered or DEFAULT_OFFERED),
            created_at=now_utc(),
        )
    )
    return _new_key(conn, kind="institution", institution_code=code)


def add_payer(conn: Connection, name: str, insurers: Iterable[str] = ()) -> str:
    """Register a payer account that may write the persons of ``insurers`` (and nobody else) and
    return its new API key."""
    numbers = sorted({validate_insurer_number(number) for number in insurers})
    new_account = payers.insert().values(name=name, created_at=now_utc()).returning(payers.c.id)
    payer_id: int = conn.execute(new_account).scalar_one()
    if numbers:
        conn.execute(
            payer_insurers.insert(),
            [{"payer_id": payer_id, "insurer_number": number} for number in numbers],
        )
    return _new_key(conn, kind="payer", payer_id=payer_id)


def authenticate(conn: Connection, key: str) -> Principal | None:
    """The principal a presented key belongs to, or None (unknown, malformed or revoked)."""
    parts = key.split("_") if isinstance(key, str) else []
    if len(parts) != 3 or parts[0] != _KEY_TAG:
        return None
    row = conn.execute(
        select(
            api_keys,
            institutions.c.name.label("institution_name"),
            payers.c.name.label("payer_name"),
        )
        .outerjoin(institutions, institutions.c.code == api_keys.c.institution_code)
        .outerjoin(payers, payers.c.id == api_keys.c.payer_id)
        .where(api_keys.c.prefix == parts[1], api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.digest, token_digest(key)):
        return None
    if row.payer_id is None:
        return Principal(row.kind, row.institution_code, row.institution_name)
    insurers = payer_insurer_numbers(conn, row.payer_id)
    return Principal(row.kind, None, row.payer_name, row.payer_id, insurers)


def payer_insurer_numbers(conn: Connection, payer_id: int) -> frozenset[str]:
    """The insurer numbers whose persons the payer account may write (read afresh for each job)."""
    stmt = select(payer_insurers.c.insurer_number).where(payer_insurers.c.payer_id == payer_id)
    return frozenset(conn.execute(stmt).scalars())


@dataclass(frozen=True, slots=True)
class PayerRow:
    id: int
    name: str
    insurers: tuple[str, ...]
    live_keys: int


def payer_accounts(conn: Connection) -> list[PayerRow]:
    """Every payer account with its insurers and how many of its keys are live, by id."""
    live = (
        select(func.count())
        .where(api_keys.c.payer_id == payers.c.id, api_keys.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = conn.execute(
        select(payers.c.id, payers.c.name, live.label("live")).order_by(payers.c.id)
    ).all()
    return [
        PayerRow(row.id, row.name, tuple(sorted(payer_insurer_numbers(conn, row.id))), row.live)
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class InstitutionRow:
    code: str
    name: str
    kind: str  # medical, dental or pharmacy
    offered: tuple[str, ...]  # the consent categories its readers offer


def institution(conn: Connection, code: str) -> InstitutionRow | None:
    row = conn.execute(select(institutions).where(institutions.c.code == code)).first()
    if row is None:
        return None
    return InstitutionRow(row.code, row.name, row.kind, tuple(row.offered.split(",")))


def add_reader_key(conn: Connection, institution_code: str, name: str, public_key_pem: str) -> None:
    """Register a face-recognition reader's attestation key for an institution."""
    conn.execute(
        reader_keys.insert().values(
            institution_code=institution_code, name=name, public_key_pem=public_key_pem
        )
    )


def reader_keys_of(conn: Connection, institution_code: str) -> list[str]:
    stmt = select(reader_keys.c.public_key_pem).where(
        reader_keys.c.institution_code == institution_code
    )
    return list(conn.execute(stmt).scalars())


def _new_key(conn: Connection, kind: str, **owner: str | int) -> str:
    prefix = secrets.token_hex(4)
    key = f"{_KEY_TAG}_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    conn.execute(
        api_keys.insert().values(
            prefix=prefix, digest=token_digest(key), kind=kind, created_at=now_utc(), **owner
        )
    )
    return key


def token_digest(key: str) -> str:
    """Secrets are stored as SHA-256 digests: they are long and random, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def revoke_institution_keys(conn: Connection, code: str, prefix: str | None = None) -> int:
    """Revoke the institution's live key with ``prefix``, or all of them; how many were revoked."""
    if institution(conn, code) is None:
        raise AccessError(f"no institution {code}")
    return _revoke(conn, api_keys.c.institution_code == code, prefix, f"institution {code}")


def rotate_institution_key(conn: Connection, code: str) -> str:
    """A new API key for the institution; every earlier one is revoked."""
    revoke_institution_keys(conn, code)
    return _new_key(conn, kind="institution", institution_code=code)


def revoke_payer_keys(conn: Connection, payer_id: int, prefix: str | None = None) -> int:
    """Revoke the payer account's live key with ``prefix``, or all of them; how many were revoked."""
    _require_payer(conn, payer_id)
    return _revoke(conn, api_keys.c.payer_id == payer_id, prefix, f"payer account {payer_id}")


def rotate_payer_key(conn: Connection, payer_id: int) -> str:
    """A new API key for the payer account; every earlier one is revoked."""
    revoke_payer_keys(conn, payer_id)
    return _new_key(conn, kind="payer", payer_id=payer_id)


def _require_payer(conn: Connection, payer_id: int) -> None:
    if conn.execute(select(payers.c.id).where(payers.c.id == payer_id)).first() is None:
        raise AccessError(f"no payer account {payer_id}")


def _revoke(conn: Connection, owned: ColumnElement[bool], prefix: str | None, owner: str) -> int:
    """Revoke live keys of one owner; a named key (its prefix, or the whole key) must be one."""
    live = [owned, api_keys.c.revoked_at.is_(None)]
    if prefix is not None:
        live.append(api_keys.c.prefix == key_prefix(prefix))
    revoked = conn.execute(update(api_keys).where(*live).values(revoked_at=now_utc())).rowcount
    if prefix is not None and not revoked:
        raise AccessError(f"{owner} has no live key with prefix {key_prefix(prefix)}")
    return revoked


def key_prefix(text: str) -> str:
    """The prefix that names a key (the part after ``esk_``), from the prefix itself or a whole key."""
    parts = text.strip().split("_")
    return parts[1] if len(parts) == 3 and parts[0] == _KEY_TAG else text.strip()


def operator_name() -> str:
    """Who runs a command on this machine, as the audit log names them: their login name."""
    try:
        return getpass.getuser()[:40]
    except (OSError, KeyError):  # no login name and no passwd entry (e.g. a container's uid)
        return f"uid {os.getuid()}"
