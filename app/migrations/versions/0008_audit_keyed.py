"""audit entries carry the id of the HMAC key that signed them

Revision ID: 0008
Revises: 0007

Entries written before this revision have no key id: their digest is the plain SHA-256 of their
content and the previous digest, and ``eligsim audit verify`` checks them as before. Every entry
appended afterwards is an HMAC-SHA256 under the audit key (``<var>/audit/hmac.key`` or
``ELIGSIM_AUDIT_KEY``), which the database does not hold, and names that key by its id.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    """The key ids go: the older code then reads every keyed entry as a broken plain digest."""
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_column("key_id")
