"""The revisions, oldest first by their down_revision chain (alembic reads them by path)."""
