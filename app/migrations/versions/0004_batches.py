"""batches

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "batches",
        sa.Column("reception_number", sa.String(length=20), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("confirmation_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institutions.code"],
            name=op.f("fk_batches_institution_code_institutions"),
        ),
        sa.PrimaryKeyConstraint("reception_number", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_batches_institution_code"), ["institution_code"], unique=False
        )

    op.create_table(
        "batch_items",
        sa.Column("reception_number", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("inquiry", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("normal", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reception_number"],
            ["batches.reception_number"],
            name=op.f("fk_batch_items_reception_number_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reception_number", "position", name=op.f("pk_batch_items")),
    )


def downgrade() -> None:

    op.drop_table("batch_items")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_institution_code"))

    op.drop_table("batches")
