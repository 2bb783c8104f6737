"""Database layer: SQLAlchemy 2 typed models, engine and session factories (migrations live in alembic/)."""
