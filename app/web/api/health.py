"""Liveness and readiness of the service."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from app.web.extensions import service
from app.web.routes import operation

blueprint = Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "sqlite"})


@blueprint.route("/health")
@operation(blueprint, "get_health")
@blueprint.doc(security=[])
@blueprint.response(200, HealthSchema)
def health() -> dict[str, str]:
    """Answers when the service and its registry database are usable."""
    registry = service().registry
    with registry.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": registry.dialect}
