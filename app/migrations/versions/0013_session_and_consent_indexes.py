"""indexes that keep a card visit's cost flat as rows accumulate: sessions by expiry (every new
session purges the expired ones) and consents by person, institution, category and end (every
verification ends the live consents it declines)

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_card_sessions_expires_at"), "card_sessions", ["expires_at"])
    op.create_index(op.f("ix_portal_sessions_expires_at"), "portal_sessions", ["expires_at"])
    op.create_index(
        "ix_consents_person_choice",
        "consents",
        ["person_id", "institution_code", "category", "available_until"],
    )


def downgrade() -> None:
    op.drop_index("ix_consents_person_choice", table_name="consents")
    op.drop_index(op.f("ix_portal_sessions_expires_at"), table_name="portal_sessions")
    op.drop_index(op.f("ix_card_sessions_expires_at"), table_name="card_sessions")
