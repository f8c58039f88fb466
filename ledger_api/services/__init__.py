"""Use cases: what the API asks for, in terms of the domain, the store and the chain."""
