"""prescriptions recorded by institutions, and the duplicate-medication checks made on persons

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# the columns both tables start with: the visit, its person and institution, the staff member
_TABLES = ("prescriptions", "prescription_checks")


def _owner_columns(table: str) -> list[sa.Column | sa.Constraint]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f(f"fk_{table}_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f(f"fk_{table}_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institutions.code"],
            name=op.f(f"fk_{table}_institution_code_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "prescriptions",
        *_owner_columns("prescriptions"),
        sa.Column("drug_code", sa.String(length=12), nullable=False),
        sa.Column("drug_name", sa.String(length=100), nullable=False),
        sa.Column("ingredient", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("usage", sa.String(length=60), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "prescription_checks",
        *_owner_columns("prescription_checks"),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finding", sa.String(length=12), nullable=False),
        sa.Column("details_shown", sa.Boolean(), nullable=False),
        sa.Column("planned", sa.Text(), nullable=False),
    )
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            for column in ("visit_id", "person_id"):
                batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)
