"""The service's own store: payloads, the submission outbox and the chain index
(SQLAlchemy), and the files the service keeps or reads (risk rules, receipt keys).

SQLite by default; PostgreSQL with `LEDGER_DATABASE_URL=postgresql+psycopg://…` and the
driver of the `postgres` extra (`pip install '.[postgres]'`; `make setup` installs it).

The schema is tables.py, and every change to it is a migration (Alembic, migrations/),
run by each Store as it opens, under a lock (migrations/__init__.py). To add one, change
tables.py, then from the project's root let Alembic write the revision against a scratch
store at the current head:

    .venv/bin/alembic -x url=sqlite:////tmp/scratch.db upgrade head
    .venv/bin/alembic -x url=sqlite:////tmp/scratch.db revision --autogenerate -m "what changes and why"

Read the file it writes in migrations/versions/ (autogenerate misses renames, and guesses
at server defaults), give rows that exist a value where a new column needs one, and run
tests/store/test_migrations.py: it fails while the revisions and tables.py disagree, on
SQLite and on PostgreSQL.
"""
