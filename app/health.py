"""Liveness and readiness of the service."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from app.extensions import registry

blueprint = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "sqlite"})


@blueprint.route("/health")
@blueprint.doc(security=[])
@blueprint.response(200, HealthSchema)
def health() -> dict:
    """Answers when the service and its registry database are usable."""
    with registry().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": registry().dialect}
