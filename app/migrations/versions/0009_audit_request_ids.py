"""audit entries carry the id of the request that caused them

Revision ID: 0009
Revises: 0008

Every answer of the API carries an ``X-Request-Id`` (the client's, when well formed, else a new one);
the entries a request causes store it, and their digest covers it, so that a client whose answer
never arrived can ask whether its request was audited. Older entries, and those of commands and
jobs, have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_log_request_id", ["request_id"])


def downgrade() -> None:
    """The request ids go: the older code then reads every entry that had one as edited."""
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_request_id")
        batch_op.drop_column("request_id")
