"""certificate details: post code, card issue and validity dates, certificates' issue dates

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _columns() -> dict[str, tuple[sa.Column, ...]]:
    """The new columns by table, made afresh on each call (a column belongs to one table only).
    Every one is nullable: rows written before this revision simply do not have the data."""
    return {
        "persons": (sa.Column("post_code", sa.String(length=8), nullable=True),),
        "qualifications": (
            sa.Column("certificate_issued_on", sa.Date(), nullable=True),
            sa.Column("card_valid_from", sa.Date(), nullable=True),
            sa.Column("card_valid_until", sa.Date(), nullable=True),
        ),
        "elderly_certificates": (sa.Column("issued_on", sa.Date(), nullable=True),),
        "limit_certificates": (
            sa.Column("issued_on", sa.Date(), nullable=True),
            sa.Column("long_term_on", sa.Date(), nullable=True),
        ),
        "specific_disease_certificates": (sa.Column("issued_on", sa.Date(), nullable=True),),
    }


# Plain ALTER TABLE on both databases, no batch "move and copy": recreating ``persons`` on SQLite
# would drop the old table, and with foreign keys on that cascades to every history row. SQLite has
# added columns in place forever and dropped them since 3.35.


def upgrade() -> None:

    for table, columns in _columns().items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:

    for table, columns in reversed(_columns().items()):
        for column in reversed(columns):
            op.drop_column(table, column.name)
