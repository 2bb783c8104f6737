"""tonight's improvisations: when an answer was revealed or dropped from the recap, and a campaign's answers
in time order

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.base
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revealed_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dropped_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_saved_improvs_guild_campaign_created", ["guild_id", "campaign_id", "created_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.drop_index("ix_saved_improvs_guild_campaign_created")
        batch_op.drop_column("dropped_at")
        batch_op.drop_column("revealed_at")
