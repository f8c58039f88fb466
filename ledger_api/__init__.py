"""Customs provenance ledger: signed custody, declaration and customs records on an EVM
ledger, verified before clearance."""

import importlib.util
import os

# keccak is on every hot path (record ids, Merkle trees, addresses): the pysha3 backend is
# about five times faster than eth-hash's default. Only where it is installed: brownie's
# environment imports this package too and has not got it.
if importlib.util.find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
