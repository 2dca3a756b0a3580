"""declared disaster periods (災害時モード), their prefectures, the handles of disaster searches, and
the index on persons' birth dates those searches start from

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disasters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disasters")),
    )
    op.create_table(
        "disaster_prefectures",
        sa.Column("disaster_id", sa.Integer(), nullable=False),
        sa.Column("prefecture", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["disaster_id"],
            ["disasters.id"],
            name=op.f("fk_disaster_prefectures_disaster_id_disasters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("disaster_id", "prefecture", name=op.f("pk_disaster_prefectures")),
    )
    op.create_table(
        "disaster_handles",
        sa.Column("handle", sa.String(length=32), nullable=False),
        sa.Column("disaster_id", sa.Integer(), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["disaster_id"],
            ["disasters.id"],
            name=op.f("fk_disaster_handles_disaster_id_disasters"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institutions.code"],
            name=op.f("fk_disaster_handles_institution_code_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_disaster_handles_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handle", name=op.f("pk_disaster_handles")),
    )
    op.create_index(
        op.f("ix_disaster_handles_disaster_id"), "disaster_handles", ["disaster_id"], unique=False
    )
    op.create_index(op.f("ix_persons_birth_date"), "persons", ["birth_date"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_persons_birth_date"), table_name="persons")
    op.drop_index(op.f("ix_disaster_handles_disaster_id"), table_name="disaster_handles")
    op.drop_table("disaster_handles")
    op.drop_table("disaster_prefectures")
    op.drop_table("disasters")
