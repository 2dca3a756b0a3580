"""payer accounts: an id per account, the insurers it may write, keys and uploads by account id

Revision ID: 0007
Revises: 0006

Before this revision a payer was only a name on its keys and uploads. Each distinct name becomes one
account (keys of one name shared their uploads, so they stay together) with no insurers: it may
write nobody until an operator registers an account for its insurers (``eligsim payer add``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

payers = sa.table(
    "payers",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
# Both tables as they are between the two steps of each direction: payer_name and payer_id side by side.
api_keys = sa.table(
    "api_keys",
    sa.column("payer_name", sa.String),
    sa.column("payer_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
payer_uploads = sa.table(
    "payer_uploads",
    sa.column("payer_name", sa.String),
    sa.column("payer_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:

    op.create_table(
        "payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
    )
    op.create_table(
        "payer_insurers",
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["payers.id"], name=op.f("fk_payer_insurers_payer_id_payers")
        ),
        sa.PrimaryKeyConstraint("payer_id", "insurer_number", name=op.f("pk_payer_insurers")),
    )
    # Nothing refers to either table, so SQLite's batch "move and copy" cascades nowhere.
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("payer_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("payer_uploads") as batch_op:
        batch_op.add_column(sa.Column("payer_id", sa.Integer(), nullable=True))
    _accounts_from_names()
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("payer_name")
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_payer_id_payers"), "payers", ["payer_id"], ["id"]
        )
    with op.batch_alter_table("payer_uploads") as batch_op:
        batch_op.drop_column("payer_name")
        batch_op.alter_column("payer_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_payer_uploads_payer_id_payers"), "payers", ["payer_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_payer_uploads_payer_id"), ["payer_id"], unique=False)


def _accounts_from_names() -> None:
    """One account per payer name found on a key or an upload, created when its first key was."""
    conn = op.get_bind()
    first_seen = {}
    for table in (api_keys, payer_uploads):
        rows = conn.execute(
            sa.select(table.c.payer_name, sa.func.min(table.c.created_at))
            .where(table.c.payer_name.is_not(None))
            .group_by(table.c.payer_name)
        )
        for name, created_at in rows:
            first_seen[name] = min(first_seen.get(name, created_at), created_at)
    for name, created_at in sorted(first_seen.items()):
        payer_id = conn.execute(
            payers.insert().values(name=name, created_at=created_at).returning(payers.c.id)
        ).scalar_one()
        for table in (api_keys, payer_uploads):
            conn.execute(table.update().where(table.c.payer_name == name).values(payer_id=payer_id))


def downgrade() -> None:

    with op.batch_alter_table("payer_uploads") as batch_op:
        batch_op.add_column(sa.Column("payer_name", sa.String(length=100), nullable=True))
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("payer_name", sa.String(length=100), nullable=True))
    conn = op.get_bind()
    for table in (api_keys, payer_uploads):
        name = sa.select(payers.c.name).where(payers.c.id == table.c.payer_id).scalar_subquery()
        conn.execute(table.update().where(table.c.payer_id.is_not(None)).values(payer_name=name))
    with op.batch_alter_table("payer_uploads") as batch_op:
        batch_op.drop_index(batch_op.f("ix_payer_uploads_payer_id"))
        batch_op.drop_constraint(batch_op.f("fk_payer_uploads_payer_id_payers"), type_="foreignkey")
        batch_op.drop_column("payer_id")
        batch_op.alter_column("payer_name", existing_type=sa.String(length=100), nullable=False)
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_payer_id_payers"), type_="foreignkey")
        batch_op.drop_column("payer_id")
    op.drop_table("payer_insurers")
    op.drop_table("payers")
