"""The package's exception tree. Each layer raises its own errors and translates those of
the layer below at its boundary (``raise ... from``); the API maps them to HTTP in one
place (api/problems.py)::

    LedgerError
    ├── ConfigurationError        a setting or config file that cannot work
    │   ├── RiskRulesError        risk rules that cannot be used (domain/risk.py): file:line: reason
    │   └── KeyRingError          receipt keys that cannot be read or written (store/receipt_keys.py)
    ├── ReceiptError              a receipt that does not verify (domain/receipts.py)
    ├── KeystoreError             a party's encrypted key file problem (keystore.py)
    ├── SubmissionError           a write refused before it is stored (code, field, message)
    │   ├── InvalidSubmission     malformed or inconsistent record, payload or signature
    │   ├── NotAuthorised         the signer lacks the role, or is not active, or the credential is another's
    │   └── ConflictingSubmission breaks the consignment's custody order or a uniqueness rule
    ├── NotAuthenticated          no credential, or one that is unknown or revoked
    ├── RateLimited               a credential over its request rate (retry_after seconds)
    ├── NotFound                  no such record, consignment or party (or not yours to see)
    ├── HoldRefused               a copy of a record that does not match what the chain holds (store/records.py)
    └── ChainError                the chain node or a contract did not do what was asked
        ├── NodeUnavailable       the node cannot be reached or did not start
        │   └── WritesQueueFull   too many writes wait for the chain: new ones are refused for now
        ├── TransactionFailed     a transaction was mined and reverted, or never mined
        └── DeploymentError       contracts missing, or wired differently than the manifest says
"""


class LedgerError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigurationError(LedgerError):
    """A setting or configuration file that cannot work."""


class SubmissionError(LedgerError):
    """A write refused before anything of it is stored. `code` is stable and
    machine-readable; `field` names the part of the request at fault."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


class InvalidSubmission(SubmissionError):
    """Malformed or inconsistent record, payload or signature."""


class NotAuthorised(SubmissionError):
    """The signer lacks the role for this act, or is not an active party, or the request
    came with the credential of another party than the one acting in it."""


class ConflictingSubmission(SubmissionError):
    """The record breaks its consignment's custody order or a uniqueness rule."""


class NotAuthenticated(LedgerError):
    """No credential, or one that is unknown or revoked."""


class RateLimited(LedgerError):
    """A credential sent more requests than its rate allows; `retry_after` is the whole
    seconds until the next one is let through."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(LedgerError):
    """No such record, consignment or party, or none the caller may see."""


class HoldRefused(LedgerError):
    """A copy of a signed record (from its party, or from a peer) that cannot be held: it
    is not the record the chain knows by its id, its payload does not hash to the
    on-chain payloadHash, its signature is not its party's, or its inclusion proof does
    not reach a root anchored on chain. `code` is stable (store/records.py lists them)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class ChainError(LedgerError):
    """The chain node or a contract did not do what was asked."""


class NodeUnavailable(ChainError):
    """The chain node cannot be reached or did not start."""


class WritesQueueFull(NodeUnavailable):
    """More writes wait for the chain than the service will queue (LEDGER_MAX_QUEUED_WRITES),
    usually because the node is unreachable: a new write is refused, to be retried later,
    rather than stored without bound. A NodeUnavailable, so the API answers 503 with
    Retry-After."""


class TransactionFailed(ChainError):
    """A transaction reverted or was not mined in time."""


class DeploymentError(ChainError):
    """The deployed contracts are missing, or wired differently than the manifest says."""
