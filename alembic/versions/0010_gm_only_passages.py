"""GM-only passages: a chunk of a player-safe document may still be the GM's alone (a secret callout)

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("campaign_chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gm_only", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("campaign_chunks", schema=None) as batch_op:
        batch_op.drop_column("gm_only")
