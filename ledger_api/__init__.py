"""Customs provenance ledger: signed custody, declaration and customs records on an EVM
ledger, verified before clearance."""
