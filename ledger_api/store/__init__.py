"""The service's own store: payloads, the submission outbox and the chain index
(SQLAlchemy), and the files the service keeps or reads (risk rules, receipt keys)."""
