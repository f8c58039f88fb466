"""Intelligence flags shared between customs administrations (#16): what a flag says, the
two hashes of it that go on chain, and its content sealed for the recipient authorities.

A flag's content (`FlagContent`) names its author, its subject (a party, a consignment, an
HS code prefix, or a route from one country to another), a category and a severity from
the fixed lists the contract checks (contracts/lib/IntelligenceFlags.sol: `Category` and
`Severity` here are the one Python definition, and a test holds the two together), free
text and a validity (unix seconds, `valid_until` exclusive, as on chain).

Only this goes on chain (IntelligenceLedger.shareFlag), in the FlagShared event:
- `subject_hash`: keccak256 of the RFC 8785 JSON of the subject and a 32-byte salt, as
  `identifiers_hash` hashes a party's identifiers. The salt is why: a party address, a route
  or an HS code is one of few enough values that an unsalted hash would tell the whole
  consortium, and the flagged trader itself, what was flagged. Salted, the hash commits the
  author to the subject, and only those who read the content (which holds the salt) can
  check it.
- `content_hash`: keccak256 of the sealed document, the exact bytes the author's instance
  serves to the recipients' instances.

Sealing (`seal_flag`): the content's RFC 8785 JSON is encrypted once (A256GCM) and its key
wrapped for each recipient authority (ECDH-ES+A256KW with the X25519 key the authority
published on chain, PartyRegistry.publishEndpoint), as a JWE in the general JSON
serialization (RFC 7516 section 7.2.1, RFC 8037), each recipient's entry named by its address
(`kid`). joserfc does the cryptography. The document is the JWE as RFC 8785 JSON.

Opening (`open_flag`), by a recipient's instance with its private X25519 key: the document
must hash to the chain's `contentHash`, be sealed for exactly the chain's recipients (a
reader the chain does not name would be a reader no one can audit), decrypt with the
recipient's own entry, hold a valid content, and that content must say what the chain says
(author, subject hash, category, severity, validity). Anything else is a `FlagError` with
a stable code.

Pure: no I/O and no clock; the salt comes in as an argument. The one randomness is inside
the JWE library (the content key, the IV and the ephemeral keys it draws while sealing):
taking those as arguments would mean writing the cryptography here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Literal, cast

import rfc8785
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import FlattenedJSONSerialization
from joserfc.jwk import OKPKey
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from ledger_api.domain.payloads import CountryCode, Ucr
from ledger_api.errors import LedgerError

__all__ = [
    "CONTENT_ENCRYPTION",
    "KEY_WRAP",
    "MAX_RECIPIENTS",
    "MAX_TEXT_LENGTH",
    "Category",
    "ConsignmentSubject",
    "FlagContent",
    "FlagError",
    "HeldFlag",
    "HsCodeSubject",
    "PartySubject",
    "RouteSubject",
    "SealedFlag",
    "Severity",
    "SharedFlag",
    "Subject",
    "flag_content_json",
    "open_flag",
    "parse_flag_content",
    "seal_flag",
    "subject_hash",
]


class Category(IntEnum):
    """What a flag reports: contracts/lib/IntelligenceFlags.sol's CATEGORY_ constants."""

    MISDECLARED_ORIGIN = 0
    UNDERVALUATION = 1
    CONCEALMENT = 2
    SEAL_TAMPERING = 3
    SANCTIONED_PARTY = 4
    MISDECLARED_GOODS = 5
    OTHER = 6


class Severity(IntEnum):
    """How serious the author judges it: IntelligenceFlags.sol's SEVERITY_ constants."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2


MAX_RECIPIENTS = 32  # IntelligenceLedger.MAX_RECIPIENTS
MAX_TEXT_LENGTH = 4000
KEY_WRAP = "ECDH-ES+A256KW"
CONTENT_ENCRYPTION = "A256GCM"
DOCUMENT_TYPE = "ledger-flag+jwe"
_UINT64 = 2**64
_X25519_KEY_LENGTH = 32
_JWE_MEMBERS = {"protected", "iv", "ciphertext", "tag", "recipients"}


class FlagError(LedgerError):
    """A flag that cannot be sealed or opened. `code` is stable and machine-readable:

    sealing   NO_RECIPIENTS, TOO_MANY_RECIPIENTS, BAD_RECIPIENT, NO_ENCRYPTION_KEY
    opening   HASH_MISMATCH (the document is not the one the chain names), MALFORMED,
              NOT_A_RECIPIENT, RECIPIENTS_MISMATCH (sealed for others than the chain names),
              DECRYPTION_FAILED (tampered, or not sealed with this key), INVALID_CONTENT,
              CHAIN_MISMATCH (the content says other than the chain)
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# ---------------------------------------------------------------- field rules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _address(value: str) -> str:
    if len(value) != 42 or not value.startswith("0x"):
        raise ValueError(f"not an address: {value!r} (expected 0x and 40 hex digits)")
    try:
        int(value[2:], 16)
    except ValueError:
        raise ValueError(f"not an address: {value!r} (expected 0x and 40 hex digits)") from None
    body = value[2:]
    # Mixed case is an EIP-55 checksum, and a wrong one is a typo to refuse, not to repair.
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError(f"address {value!r} has a wrong EIP-55 checksum")
    return to_checksum_address(value)


def _salt(value: str) -> str:
    if len(value) != 66 or not value.startswith("0x"):
        raise ValueError("a subject salt is 0x and 64 hex digits (32 random bytes)")
    try:
        int(value[2:], 16)
    except ValueError:
        raise ValueError("a subject salt is 0x and 64 hex digits (32 random bytes)") from None
    return value.lower()


def _hs_prefix(value: str) -> str:
    # A chapter (2 digits), heading (4), subheading (6) or a national subdivision (8, 10).
    if not value.isascii() or not value.isdigit() or len(value) not in (2, 4, 6, 8, 10):
        raise ValueError(f"not an HS code prefix: {value!r} (2, 4, 6, 8 or 10 digits, no dots or spaces)")
    return value


def _by_name(enum: type[IntEnum], what: str) -> Any:
    names = ", ".join(enum.__members__)

    def parse(value: Any) -> Any:
        if isinstance(value, enum):
            return value
        if not isinstance(value, str) or value not in enum.__members__:
            raise ValueError(f"unknown {what} {value!r} (one of: {names})")
        return enum[value]

    return parse


def _name(value: IntEnum) -> str:
    return value.name


Address = Annotated[str, StringConstraints(strict=True), AfterValidator(_address)]
Salt = Annotated[str, StringConstraints(strict=True), AfterValidator(_salt)]
HsPrefix = Annotated[str, StringConstraints(strict=True), AfterValidator(_hs_prefix)]
UnixTime = Annotated[int, Field(strict=True, ge=0, lt=_UINT64)]
CategoryName = Annotated[
    Category,
    BeforeValidator(_by_name(Category, "category")),
    PlainSerializer(_name, return_type=str),
    WithJsonSchema({"type": "string", "enum": list(Category.__members__)}),
]
SeverityName = Annotated[
    Severity,
    BeforeValidator(_by_name(Severity, "severity")),
    PlainSerializer(_name, return_type=str),
    WithJsonSchema({"type": "string", "enum": list(Severity.__members__)}),
]


# ---------------------------------------------------------------- the content


class PartySubject(_Strict):
    """A party of the ledger, by its address: matches any consignment it signed a record of
    or was named in."""

    type: Literal["PARTY"]
    address: Address


class ConsignmentSubject(_Strict):
    """One consignment, by its UCR."""

    type: Literal["CONSIGNMENT"]
    ucr: Ucr


class HsCodeSubject(_Strict):
    """Goods whose HS code starts with `prefix`."""

    type: Literal["HS_CODE"]
    prefix: HsPrefix


class RouteSubject(_Strict):
    """Consignments from `from_country` to `to_country` (the declared origin and destination)."""

    type: Literal["ROUTE"]
    from_country: CountryCode
    to_country: CountryCode

    @field_validator("to_country")
    @classmethod
    def _two_countries(cls, to_country: str, info: ValidationInfo) -> str:
        if to_country == info.data.get("from_country"):
            raise ValueError("a route goes from one country to another")
        return to_country


Subject = Annotated[
    PartySubject | ConsignmentSubject | HsCodeSubject | RouteSubject,
    Field(discriminator="type"),
]


class FlagContent(_Strict):
    """What a flag says, as its author wrote it: the plaintext that is sealed."""

    schema_version: Literal["1"]
    author: Address  # the party that shares it on chain: a customs authority or law enforcement
    subject: Subject
    subject_salt: Salt
    category: CategoryName
    severity: SeverityName
    text: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_TEXT_LENGTH)]
    valid_from: UnixTime
    valid_until: UnixTime

    @field_validator("valid_until")
    @classmethod
    def _after_valid_from(cls, valid_until: int, info: ValidationInfo) -> int:
        valid_from = info.data.get("valid_from")
        if valid_from is not None and valid_until <= valid_from:
            raise ValueError(f"valid_until ({valid_until}) must be after valid_from ({valid_from})")
        return valid_until

    @property
    def subject_hash(self) -> bytes:
        return subject_hash(self.subject, self.subject_salt)


_CONTENT: TypeAdapter[FlagContent] = TypeAdapter(FlagContent)


def parse_flag_content(data: Any) -> FlagContent:
    """Validates a flag's content: a mapping (a parsed request body), or JSON text as str or
    bytes. Raises pydantic.ValidationError, each error with the field's `loc` (for a subject,
    after its `type`: ("subject", "PARTY", "address")), for the API's 422."""
    if isinstance(data, str | bytes | bytearray):
        return _CONTENT.validate_json(data)
    return _CONTENT.validate_python(data)


def flag_content_json(content: FlagContent) -> bytes:
    """The content's canonical bytes (RFC 8785): the plaintext that is sealed."""
    return rfc8785.dumps(content.model_dump(mode="json"))


def subject_hash(subject: PartySubject | ConsignmentSubject | HsCodeSubject | RouteSubject, salt: str) -> bytes:
    """keccak256 of the RFC 8785 JSON of `{"salt": salt, "subject": subject}`: shareFlag's
    `subjectHash`. `salt` is 0x and 64 hex digits, as `FlagContent.subject_salt`."""
    return keccak(rfc8785.dumps({"salt": _salt(salt), "subject": subject.model_dump(mode="json")}))


# ---------------------------------------------------------------- on chain


@dataclass(frozen=True)
class SharedFlag:
    """A flag as the chain has it: IntelligenceLedger's FlagShared event, at `block_number`."""

    flag_id: int
    author: str
    author_country: str
    content_hash: bytes
    subject_hash: bytes
    category: Category
    severity: Severity
    valid_from: int
    valid_until: int
    recipients: tuple[str, ...]
    block_number: int

    @classmethod
    def from_event(cls, args: Mapping[str, Any], block_number: int) -> SharedFlag:
        """From FlagShared's arguments, decoded (bytes) or as the index keeps them (0x hex)."""
        return cls(
            flag_id=int(args["id"]),
            author=to_checksum_address(args["author"]),
            author_country=_raw(args["authorCountry"]).decode("ascii", "replace"),
            content_hash=_raw(args["contentHash"]),
            subject_hash=_raw(args["subjectHash"]),
            category=Category(int(args["category"])),
            severity=Severity(int(args["severity"])),
            valid_from=int(args["validFrom"]),
            valid_until=int(args["validUntil"]),
            recipients=tuple(to_checksum_address(r) for r in args["recipients"]),
            block_number=block_number,
        )


def _raw(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


@dataclass(frozen=True)
class HeldFlag:
    """A flag a recipient's instance holds: what the chain says of it, its opened content,
    and the block it was withdrawn at (None while it is not)."""

    shared: SharedFlag
    content: FlagContent
    withdrawn_block: int | None = None

    def in_force(self, block: int, time: int) -> bool:
        """In force as of the end of `block`, whose time is `time` (unix seconds): shared by
        then, not withdrawn by then, and `time` within its validity."""
        shared = self.shared
        withdrawn = self.withdrawn_block is not None and self.withdrawn_block <= block
        return shared.block_number <= block and not withdrawn and shared.valid_from <= time < shared.valid_until


# ---------------------------------------------------------------- sealing and opening


@dataclass(frozen=True)
class SealedFlag:
    """A flag sealed for its recipients: the document to serve them, and what goes on chain."""

    document: bytes  # the JWE as RFC 8785 JSON, byte for byte what is served and hashed
    content_hash: bytes
    subject_hash: bytes
    category: Category
    severity: Severity
    valid_from: int
    valid_until: int
    recipients: tuple[str, ...]  # checksummed, in the order given

    def share_arguments(self) -> tuple[bytes, bytes, int, int, int, int, list[str]]:
        """IntelligenceLedger.shareFlag's arguments, in its order."""
        return (
            self.content_hash,
            self.subject_hash,
            int(self.category),
            int(self.severity),
            self.valid_from,
            self.valid_until,
            list(self.recipients),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _registry() -> jwe.JWERegistry:
    return jwe.JWERegistry(algorithms=[KEY_WRAP, CONTENT_ENCRYPTION], max_recipients=MAX_RECIPIENTS)


def seal_flag(content: FlagContent, recipient_keys: Mapping[str, bytes]) -> SealedFlag:
    """Encrypts `content` for each recipient authority, by its address, to the raw X25519
    public key it published on chain (32 bytes, PartyRegistry's `encryptionKey`)."""
    if not recipient_keys:
        raise FlagError("NO_RECIPIENTS", "a flag is shared with one recipient authority at least")
    if len(recipient_keys) > MAX_RECIPIENTS:
        raise FlagError("TOO_MANY_RECIPIENTS", f"a flag has at most {MAX_RECIPIENTS} recipients")
    obj = jwe.GeneralJSONEncryption({"enc": CONTENT_ENCRYPTION, "typ": DOCUMENT_TYPE}, flag_content_json(content))
    recipients: list[str] = []
    for given, key in recipient_keys.items():
        try:
            address = _address(given)
        except ValueError as exc:
            raise FlagError("BAD_RECIPIENT", str(exc)) from None
        if address in recipients:
            raise FlagError("BAD_RECIPIENT", f"recipient {address} is listed twice")
        if len(key) != _X25519_KEY_LENGTH or not any(key):
            raise FlagError(
                "NO_ENCRYPTION_KEY",
                f"recipient {address} has no X25519 encryption key (32 bytes, not zero) to seal for",
            )
        public = OKPKey.import_key({"kty": "OKP", "crv": "X25519", "x": _b64(key)})
        obj.add_recipient({"alg": KEY_WRAP, "kid": address}, public)
        recipients.append(address)
    sealed = jwe.encrypt_json(obj, None, registry=_registry())
    document = rfc8785.dumps(cast(dict[str, Any], sealed))
    return SealedFlag(
        document=document,
        content_hash=keccak(document),
        subject_hash=content.subject_hash,
        category=content.category,
        severity=content.severity,
        valid_from=content.valid_from,
        valid_until=content.valid_until,
        recipients=tuple(recipients),
    )


def open_flag(document: bytes, shared: SharedFlag, recipient: str, private_key: X25519PrivateKey) -> FlagContent:
    """The content of `document`, checked against the chain's `shared` flag and decrypted
    by `recipient` (an authority's address) with its X25519 private key. FlagError else."""
    if keccak(document) != shared.content_hash:
        raise FlagError(
            "HASH_MISMATCH",
            f"flag {shared.flag_id}: the document hashes to 0x{keccak(document).hex()}, "
            f"the chain says 0x{shared.content_hash.hex()}: it is not the document the author shared",
        )
    me = to_checksum_address(recipient)
    if me not in shared.recipients:
        raise FlagError("NOT_A_RECIPIENT", f"flag {shared.flag_id} was not shared with {me}")
    sealed = _parse_document(document, shared.flag_id)
    entries = {entry["header"]["kid"]: entry for entry in sealed["recipients"]}
    if sorted(entries) != sorted(shared.recipients) or len(entries) != len(sealed["recipients"]):
        raise FlagError(
            "RECIPIENTS_MISMATCH",
            f"flag {shared.flag_id} is sealed for {', '.join(sorted(entries))}, "
            f"the chain names {', '.join(sorted(shared.recipients))}",
        )
    # The recipient's own entry alone, as a flattened JWE: the other entries are not its to try.
    mine: FlattenedJSONSerialization = {
        "protected": sealed["protected"],
        "iv": sealed["iv"],
        "ciphertext": sealed["ciphertext"],
        "tag": sealed["tag"],
        "header": entries[me]["header"],
        "encrypted_key": entries[me]["encrypted_key"],
    }
    try:
        plaintext = jwe.decrypt_json(mine, OKPKey.import_key(private_key), registry=_registry()).plaintext
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise FlagError(
            "DECRYPTION_FAILED",
            f"flag {shared.flag_id} does not decrypt with the key of {me}: tampered, or sealed to another key ({exc})",
        ) from exc
    try:
        content = parse_flag_content(plaintext or b"")
    except ValidationError as exc:
        raise FlagError("INVALID_CONTENT", f"flag {shared.flag_id}: its content is not a valid flag: {exc}") from exc
    _require_as_on_chain(content, shared)
    return content


def _parse_document(document: bytes, flag_id: int) -> dict[str, Any]:
    try:
        sealed = json.loads(document)
    except ValueError:
        sealed = None
    well_formed = (
        isinstance(sealed, dict)
        and set(sealed) == _JWE_MEMBERS
        and all(isinstance(sealed[m], str) for m in _JWE_MEMBERS - {"recipients"})
        and isinstance(sealed["recipients"], list)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("header"), dict)
            and isinstance(e["header"].get("kid"), str)
            and isinstance(e.get("encrypted_key"), str)
            for e in sealed["recipients"]
        )
    )
    if not well_formed:
        raise FlagError("MALFORMED", f"flag {flag_id}: the document is not a JWE in the general JSON serialization")
    assert isinstance(sealed, dict)
    # Addresses as the chain gives them (checksummed), whatever case the author wrote.
    for entry in sealed["recipients"]:
        try:
            entry["header"]["kid"] = _address(entry["header"]["kid"])
        except ValueError:
            raise FlagError("MALFORMED", f"flag {flag_id}: a recipient entry is not named by an address") from None
    return sealed


def _require_as_on_chain(content: FlagContent, shared: SharedFlag) -> None:
    said = {
        "author": (content.author, shared.author),
        "subject hash": ("0x" + content.subject_hash.hex(), "0x" + shared.subject_hash.hex()),
        "category": (content.category.name, shared.category.name),
        "severity": (content.severity.name, shared.severity.name),
        "valid_from": (content.valid_from, shared.valid_from),
        "valid_until": (content.valid_until, shared.valid_until),
    }
    differ = [f"{name} {mine} (chain: {theirs})" for name, (mine, theirs) in said.items() if mine != theirs]
    if differ:
        raise FlagError("CHAIN_MISMATCH", f"flag {shared.flag_id}: its content says " + "; ".join(differ))
