"""The service's own store (SQLAlchemy): payloads, the submission outbox, the chain index."""
