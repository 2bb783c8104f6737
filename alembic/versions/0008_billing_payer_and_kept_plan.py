"""the payer's display name on a checkout; the plan a downgraded subscription keeps until its period ends

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.base
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("billing_checkouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_name", sa.String(length=100), nullable=True))
    with op.batch_alter_table("billing_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept_price_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("kept_until", db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("billing_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("kept_until")
        batch_op.drop_column("kept_price_id")
    with op.batch_alter_table("billing_checkouts", schema=None) as batch_op:
        batch_op.drop_column("user_name")
