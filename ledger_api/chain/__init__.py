"""Adapters to the EVM chain: the node process, compiled artifacts, deployment."""
