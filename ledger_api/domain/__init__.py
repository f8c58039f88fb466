"""Pure domain rules and types: no HTTP, SQL or chain I/O."""
