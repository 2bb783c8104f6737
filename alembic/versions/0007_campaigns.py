"""several campaigns per guild: campaigns, their channel bindings, and a campaign on every memory row

Existing rows get campaign 0, the guild's default campaign, so nothing changes for a guild that never makes one
(its vectors stay where they are: the default campaign keeps the guild's namespace and folder).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import db.base
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the unique constraint that gains campaign_id (its name, from the naming convention, stays)
_UNIQUE = {
    "campaign_documents": ("uq_campaign_documents_guild_id", ["file_name"]),
    "campaign_chunks": ("uq_campaign_chunks_guild_id", ["chunk_id"]),
    "campaign_party": ("uq_campaign_party_guild_id", ["name"]),
}


def _campaign_id() -> sa.Column[int]:
    return sa.Column("campaign_id", sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("game_system", sa.String(length=64), nullable=True),
        sa.Column("tone", sa.String(length=32), nullable=True),
        sa.Column("content_rating", sa.String(length=16), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], name=op.f("fk_campaigns_guild_id_guilds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_campaigns_guild_id")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_guild_id"), ["guild_id"], unique=False)
    op.create_table(
        "campaign_bindings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("place_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_bindings_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["guild_id"], ["guilds.id"], name=op.f("fk_campaign_bindings_guild_id_guilds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("guild_id", "place_id", name=op.f("pk_campaign_bindings")),
    )
    with op.batch_alter_table("campaign_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_bindings_campaign_id"), ["campaign_id"], unique=False)
    for table, (name, columns) in _UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_campaign_id())
            batch_op.drop_constraint(name, type_="unique")
            batch_op.create_unique_constraint(name, ["guild_id", "campaign_id", *columns])
    with op.batch_alter_table("campaign_memories", schema=None) as batch_op:
        batch_op.add_column(_campaign_id())
        batch_op.drop_constraint("pk_campaign_memories", type_="primary")
        batch_op.create_primary_key("pk_campaign_memories", ["guild_id", "campaign_id"])
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.add_column(_campaign_id())


def downgrade() -> None:
    """Revert this revision (the rows of named campaigns go: the old schema has no place for them)."""
    for table in ("campaign_documents", "campaign_chunks", "campaign_party", "campaign_memories"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE campaign_id <> 0"))
    with op.batch_alter_table("saved_improvs", schema=None) as batch_op:
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("campaign_memories", schema=None) as batch_op:
        batch_op.drop_constraint("pk_campaign_memories", type_="primary")
        batch_op.create_primary_key("pk_campaign_memories", ["guild_id"])
        batch_op.drop_column("campaign_id")
    for table, (name, columns) in _UNIQUE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="unique")
            batch_op.create_unique_constraint(name, ["guild_id", *columns])
            batch_op.drop_column("campaign_id")
    with op.batch_alter_table("campaign_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_bindings_campaign_id"))
    op.drop_table("campaign_bindings")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_guild_id"))
    op.drop_table("campaigns")
