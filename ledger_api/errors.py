"""The package's exception tree. Each layer raises its own errors and translates those of
the layer below at its boundary (``raise ... from``)::

    LedgerError
    ├── ConfigurationError        a setting or config file that cannot work
    └── ChainError                the chain node or a contract did not do what was asked
        ├── NodeUnavailable       the node cannot be reached or did not start
        ├── TransactionFailed     a transaction was mined and reverted, or never mined
        └── DeploymentError       contracts missing, or wired differently than the manifest says
"""


class LedgerError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigurationError(LedgerError):
    """A setting or configuration file that cannot work."""


class ChainError(LedgerError):
    """The chain node or a contract did not do what was asked."""


class NodeUnavailable(ChainError):
    """The chain node cannot be reached or did not start."""


class TransactionFailed(ChainError):
    """A transaction reverted or was not mined in time."""


class DeploymentError(ChainError):
    """The deployed contracts are missing, or wired differently than the manifest says."""
