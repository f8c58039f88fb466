"""What the tests share that is not a fixture: builders of payloads and events, a service
to run, helpers of the fault tests. Imported as `support.…` (tests/ is on the path, see
pyproject.toml); the fixtures built on them are in tests/conftest.py and each folder's
conftest.py, where pytest finds them without an import."""
