"""an index for a guild's recent answers of one kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 13:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.create_index("ix_saved_improvs_guild_kind_id", ["guild_id", "kind", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.drop_index("ix_saved_improvs_guild_kind_id")
