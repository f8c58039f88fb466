"""The schema of revision 0001, frozen: the tables as tables.py declared them on the day
the store got migrations, and how a store made before that day is brought to them.

A copy, not an import of tables.py: later revisions change tables.py, and the baseline
must still build the schema they start from. tests/store/test_migrations.py holds the
whole chain of revisions equal to tables.py."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
)

METADATA = MetaData()

RECORDS = Table(
    "records",
    METADATA,
    Column("id", String(66), primary_key=True),
    Column("consignment", String(66), nullable=False, index=True),
    Column("ucr", String(35), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("party", String(42), nullable=False, index=True),
    Column("counterparty", String(42), nullable=False),
    Column("previous", String(66), nullable=False),
    Column("payload_hash", String(66), nullable=False),
    Column("nonce", String(78), nullable=False),
    Column("deadline", String(78), nullable=False),
    Column("signature", String(132), nullable=False),
    Column("payload", Text, nullable=False),
    Column("mode", String(8), nullable=False),
    Column("batch_root", String(66), index=True),
    Column("batch_index", Integer),
    Column("status", String(12), nullable=False, index=True),
    Column("tx_hash", String(66)),
    Column("block_number", BigInteger),
    Column("block_hash", String(66)),
    Column("error", Text),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)
Index("records_by_consignment_position", RECORDS.c.consignment, RECORDS.c.position)
Index("records_by_party_nonce", RECORDS.c.party, RECORDS.c.nonce, RECORDS.c.mode)
_LIVE = RECORDS.c.status != "failed"
ONE_RECORD_PER_PLACE = (
    Index(
        "one_record_per_position",
        RECORDS.c.consignment,
        RECORDS.c.position,
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
    Index(
        "one_record_per_party_nonce",
        RECORDS.c.party,
        RECORDS.c.nonce,
        RECORDS.c.mode,
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
)

Table(
    "batches",
    METADATA,
    Column("root", String(66), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("status", String(12), nullable=False, index=True),
    Column("tx_hash", String(66)),
    Column("block_number", BigInteger),
    Column("block_hash", String(66)),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

Table(
    "outbox",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(8), nullable=False),
    Column("ref", String(140), nullable=False, index=True),
    Column("payload", Text),
    Column("status", String(10), nullable=False, index=True),
    Column("relayer_nonce", BigInteger, unique=True),
    Column("raw_tx", Text),
    Column("tx_hash", String(66), index=True),
    Column("attempts", Integer, nullable=False),
    Column("last_sent_at", DateTime(timezone=True)),
    Column("error", Text),
)

Table(
    "blocks",
    METADATA,
    Column("number", BigInteger, primary_key=True),
    Column("hash", String(66), nullable=False),
    Column("parent_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

Table(
    "events",
    METADATA,
    Column("block_number", BigInteger, ForeignKey("blocks.number", ondelete="CASCADE"), primary_key=True),
    Column("log_index", Integer, primary_key=True),
    Column("block_hash", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False, index=True),
    Column("contract", String(24), nullable=False),
    Column("name", String(40), nullable=False, index=True),
    Column("args", Text, nullable=False),
    Column("record_id", String(66), index=True),
)

Table(
    "parties",
    METADATA,
    Column("address", String(42), primary_key=True),
    Column("country", String(2), nullable=False, index=True),
    Column("roles", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("is_authority", Integer, nullable=False),
    Column("identifiers_hash", String(66), nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

Table(
    "credentials",
    METADATA,
    Column("id", String(16), primary_key=True),
    Column("party", String(42), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False),
    Column("label", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

Table(
    "state",
    METADATA,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)


def upgrade(connection: Connection) -> None:
    """An empty store gets every table. A store made before migrations (no
    alembic_version, tables of its own) keeps its rows and gets what it lacks: the tables
    added since it was made (credentials), the indexes declared since (create_all adds
    none to a table that exists), and the two places of a record as partial unique indexes
    instead of the table constraints of before 2026-11-29 (_free_the_places_of_failed_records)."""
    _free_the_places_of_failed_records(connection)
    METADATA.create_all(connection, checkfirst=True)
    for table in METADATA.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)


def _free_the_places_of_failed_records(connection: Connection) -> None:
    """Stores made before 2026-11-29 hold a record's consignment place and party nonce as
    table constraints, failed records included, which locked a party out once its last
    record reverted. They become unique indexes over the records not failed. SQLite cannot
    drop a table constraint, so there the table is rebuilt, rows kept; the caller's
    transaction (BEGIN EXCLUSIVE, store/migrations/__init__.py) leaves the old table as it
    was if this fails half way."""
    inspector = inspect(connection)
    if not inspector.has_table("records"):
        return
    names = {index.name for index in ONE_RECORD_PER_PLACE}
    if not names & {c["name"] for c in inspector.get_unique_constraints("records")}:
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ALTER TABLE records RENAME TO records_before_migration")
        for old in inspector.get_indexes("records_before_migration"):
            connection.exec_driver_sql(f'DROP INDEX "{old["name"]}"')
        RECORDS.create(connection)  # with its indexes
        columns = ", ".join(f'"{column.name}"' for column in RECORDS.columns)
        connection.exec_driver_sql(f"INSERT INTO records ({columns}) SELECT {columns} FROM records_before_migration")
        connection.exec_driver_sql("DROP TABLE records_before_migration")
    else:
        for name in names:
            connection.exec_driver_sql(f'ALTER TABLE records DROP CONSTRAINT IF EXISTS "{name}"')
        for index in ONE_RECORD_PER_PLACE:
            index.create(connection, checkfirst=True)
