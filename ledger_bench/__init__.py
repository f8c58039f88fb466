"""The ledger's benchmarks, run through `ledger bench ingest|verify|consortium|worklist|multi`:
each starts a fresh service in a process of its own, measures it from outside as a client
would, and writes its figures into docs/benchmarks.md with the command that reproduces them.

A package beside ledger_api, not inside it: a deployment of the service never imports it.

    service.py   the service under test, in a child process with its own anvil and data
    ingest.py    the write path: batches, single records, a stream, the node's raw limit
    verify.py    verification under load, beside the same server's static answer
    multi.py     one authority's writers and readers on PostgreSQL, beside SQLite; a takeover
    postgres.py  a PostgreSQL cluster of one's own (initdb/pg_ctl), the tests' too
    docs.py      figures into their section of a docs page
"""
