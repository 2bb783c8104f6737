"""canon by category on the index record, and the party roster

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.base
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "campaign_party",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("added_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], name=op.f("fk_campaign_party_guild_id_guilds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_party")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_campaign_party_guild_id")),
    )
    with op.batch_alter_table("campaign_party", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_party_guild_id"), ["guild_id"], unique=False)
    with op.batch_alter_table("campaign_memories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canon", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("campaign_memories", schema=None) as batch_op:
        batch_op.drop_column("canon")
    with op.batch_alter_table("campaign_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_party_guild_id"))
    op.drop_table("campaign_party")
