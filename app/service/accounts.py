"""Institutions, payers and their bearer API keys (stored as SHA-256 digests, compared in constant time)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, select

from app.service.consent import CATEGORIES, DEFAULT_OFFERED
from app.service.models import ApiKey, Institution, ReaderKey
from payer_registry.clock import now_utc
from payer_registry.identifiers import validate_institution_code
from payer_registry.models import table_of

institutions = table_of(Institution)
api_keys = table_of(ApiKey)
reader_keys = table_of(ReaderKey)
KINDS = {"1": "medical", "3": "dental", "4": "pharmacy"}
_KEY_TAG = "esk"


class AccessError(ValueError):
    """Bad institution or key data, with a message for the user."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "institution" or "payer"
    institution_code: str | None
    name: str


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


def add_payer(conn: Connection, name: str) -> str:
    """Register a payer account and return its new API key."""
    return _new_key(conn, kind="payer", payer_name=name)


def authenticate(conn: Connection, key: str) -> Principal | None:
    """The principal a presented key belongs to, or None (unknown, malformed or revoked)."""
    parts = key.split("_") if isinstance(key, str) else []
    if len(parts) != 3 or parts[0] != _KEY_TAG:
        return None
    row = conn.execute(
        select(api_keys, institutions.c.name.label("institution_name"))
        .outerjoin(institutions, institutions.c.code == api_keys.c.institution_code)
        .where(api_keys.c.prefix == parts[1], api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.digest, token_digest(key)):
        return None
    return Principal(row.kind, row.institution_code, row.institution_name or row.payer_name)


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


def _new_key(conn: Connection, kind: str, **owner: str) -> str:
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


def new_institution_key(conn: Connection, code: str) -> str:
    """Another API key for a registered institution (its earlier keys stay valid)."""
    if institution(conn, code) is None:
        raise AccessError(f"no institution {code}")
    return _new_key(conn, kind="institution", institution_code=code)
