"""The store's side of intelligence flags (#16): the flags the chain shows (`flags`, kept
by the indexer from FlagShared and FlagWithdrawn), their sealed documents and opened
contents held here (`flag_documents`), the log of every read of a content
(`flag_reads`), and what the recipients reported of their use of the flags authored here
(`flag_recipient_uses`). Every SQL statement about them is here."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from ledger_api.domain.intelligence import FlagContent, HeldFlag, SharedFlag, parse_flag_content
from ledger_api.store.tables import FlagDocumentRow, FlagReadRow, FlagRecipientUseRow, FlagRow


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def shared_of(row: FlagRow) -> SharedFlag:
    return SharedFlag.from_event(
        {
            "id": row.id,
            "author": row.author,
            "authorCountry": row.author_country.encode("ascii").hex(),
            "contentHash": row.content_hash,
            "subjectHash": row.subject_hash,
            "category": row.category,
            "severity": row.severity,
            "validFrom": row.valid_from,
            "validUntil": row.valid_until,
            "recipients": json.loads(row.recipients),
        },
        row.block_number,
    )


# ---------------------------------------------------------------- chain facts (the indexer writes)


def put_shared(session: Session, shared: SharedFlag) -> None:
    session.merge(
        FlagRow(
            id=shared.flag_id,
            author=shared.author,
            author_country=shared.author_country,
            content_hash=_hex(shared.content_hash),
            subject_hash=_hex(shared.subject_hash),
            category=int(shared.category),
            severity=int(shared.severity),
            valid_from=shared.valid_from,
            valid_until=shared.valid_until,
            recipients=json.dumps(list(shared.recipients)),
            block_number=shared.block_number,
            withdrawn_at_block=None,
            withdrawn_by=None,
            uses=0,
        )
    )


def put_withdrawn(session: Session, flag_id: int, by: str, block: int) -> None:
    session.execute(update(FlagRow).where(FlagRow.id == flag_id).values(withdrawn_at_block=block, withdrawn_by=by))


def forget_above(session: Session, block: int) -> None:
    """What a reorg took away above `block`: flags shared there (and what their recipients
    reported of them), withdrawals made there."""
    gone = select(FlagRow.id).where(FlagRow.block_number > block)
    session.execute(delete(FlagRecipientUseRow).where(FlagRecipientUseRow.flag_id.in_(gone)))
    session.execute(delete(FlagRow).where(FlagRow.block_number > block))
    session.execute(
        update(FlagRow).where(FlagRow.withdrawn_at_block > block).values(withdrawn_at_block=None, withdrawn_by=None)
    )


# ---------------------------------------------------------------- documents


@dataclass(frozen=True)
class HeldDocument:
    content_hash: str
    author: str
    document: bytes
    content: FlagContent
    recipients: tuple[str, ...]
    origin: str


def put_document(
    session: Session,
    content_hash: str,
    author: str,
    document: bytes,
    content: bytes,
    recipients: tuple[str, ...],
    origin: str,
    now: int,
) -> None:
    if session.get(FlagDocumentRow, content_hash) is not None:
        return  # the same bytes: a hash names one document
    session.add(
        FlagDocumentRow(
            content_hash=content_hash,
            author=author,
            document=document.decode("utf-8"),
            content=content.decode("utf-8"),
            recipients=json.dumps(list(recipients)),
            origin=origin,
            created_at=now,
        )
    )


def document_of(session: Session, content_hash: str) -> HeldDocument | None:
    row = session.get(FlagDocumentRow, content_hash.lower())
    if row is None:
        return None
    return HeldDocument(
        row.content_hash,
        row.author,
        row.document.encode("utf-8"),
        parse_flag_content(row.content),
        tuple(json.loads(row.recipients)),
        row.origin,
    )


# ---------------------------------------------------------------- flags (reads)


@dataclass(frozen=True)
class FlagState:
    """A flag as this instance knows it: the chain's facts, and whether its content is held."""

    shared: SharedFlag
    withdrawn_at_block: int | None
    withdrawn_by: str | None
    held: bool
    fetch_error: str | None
    uses: int  # verdicts here that fired it
    worklist_uses: int = 0  # worklist lines computed here that fired it
    last_used_at: int | None = None  # unix seconds


def _state(row: FlagRow, held: bool) -> FlagState:
    return FlagState(
        shared_of(row),
        row.withdrawn_at_block,
        row.withdrawn_by,
        held,
        row.fetch_error,
        row.uses,
        row.worklist_uses or 0,
        row.last_used_at,
    )


def flag(session: Session, flag_id: int) -> FlagState | None:
    row = session.get(FlagRow, flag_id)
    if row is None:
        return None
    return _state(row, session.get(FlagDocumentRow, row.content_hash) is not None)


def flags_of(session: Session, party: str) -> list[FlagState]:
    """The flags `party` authored or was sent, newest first. Recipients are a JSON list:
    a LIKE narrows, the exact test is made on the parsed list."""
    rows = session.execute(
        select(FlagRow, FlagDocumentRow.content_hash)
        .outerjoin(FlagDocumentRow, FlagDocumentRow.content_hash == FlagRow.content_hash)
        .where((FlagRow.author == party) | FlagRow.recipients.contains(party))
        .order_by(FlagRow.id.desc())
    ).all()
    return [
        _state(row, held is not None)
        for row, held in rows
        if row.author == party or party in json.loads(row.recipients)
    ]


def held_flags(session: Session, authority: str, country: str | None = None) -> list[HeldFlag]:
    """The flags `authority` was sent or shared itself whose content is held here, and
    those a law-enforcement party of its `country` shared (through this instance, which
    holds their content): withdrawn ones too, a verification as of a block judges which
    were in force then."""
    mine = FlagRow.recipients.contains(authority) | (FlagRow.author == authority)
    if country is not None:
        mine = mine | (FlagRow.author_country == country)
    rows = session.execute(
        select(FlagRow, FlagDocumentRow.content)
        .join(FlagDocumentRow, FlagDocumentRow.content_hash == FlagRow.content_hash)
        .where(mine)
        .order_by(FlagRow.id)
    ).all()
    return [
        HeldFlag(shared_of(row), parse_flag_content(content), row.withdrawn_at_block)
        for row, content in rows
        if row.author == authority or authority in json.loads(row.recipients) or row.author_country == country
    ]


def wanted_flags(session: Session, recipient: str) -> list[SharedFlag]:
    """The flags sent to `recipient`, not withdrawn, whose document is not held here."""
    rows = session.scalars(
        select(FlagRow)
        .outerjoin(FlagDocumentRow, FlagDocumentRow.content_hash == FlagRow.content_hash)
        .where(
            FlagRow.recipients.contains(recipient),
            FlagDocumentRow.content_hash.is_(None),
            FlagRow.withdrawn_at_block.is_(None),
        )
        .order_by(FlagRow.id)
    ).all()
    return [shared_of(row) for row in rows if recipient in json.loads(row.recipients)]


def shared_with_content_hash(session: Session, content_hash: str) -> int | None:
    """The id of the flag shared with this content hash, if the chain shows one."""
    return session.scalar(select(FlagRow.id).where(FlagRow.content_hash == content_hash.lower()).limit(1))


def set_fetch_error(session: Session, flag_id: int, error: str | None) -> None:
    session.execute(update(FlagRow).where(FlagRow.id == flag_id).values(fetch_error=error))


def count_uses(session: Session, flag_ids: list[int], now: int, *, worklist: bool = False) -> None:
    """One more use of each flag: a verdict, or with `worklist` a worklist line, that fired it."""
    counted = {"worklist_uses": FlagRow.worklist_uses + 1} if worklist else {"uses": FlagRow.uses + 1}
    session.execute(update(FlagRow).where(FlagRow.id.in_(flag_ids)).values(last_used_at=now, **counted))


@dataclass(frozen=True)
class Usage:
    """A recipient's use of a flag it fetched, as it reports it to the author's instance."""

    shared: SharedFlag
    received_at: int  # when its content was held here
    last_used_at: int | None
    verdicts: int
    worklist_lines: int


def usage_to_report(session: Session, recipient: str) -> list[Usage]:
    """The flags sent to `recipient` and fetched from their authors' instances, with their use here."""
    rows = session.execute(
        select(FlagRow, FlagDocumentRow.created_at)
        .join(FlagDocumentRow, FlagDocumentRow.content_hash == FlagRow.content_hash)
        .where(FlagRow.recipients.contains(recipient), FlagDocumentRow.origin == "peer")
        .order_by(FlagRow.id)
    ).all()
    return [
        Usage(shared_of(row), int(received), row.last_used_at, row.uses, row.worklist_uses or 0)
        for row, received in rows
        if recipient in json.loads(row.recipients)
    ]


@dataclass(frozen=True)
class RecipientUse:
    """What a recipient reported of its use of a flag authored here (the author's view)."""

    recipient: str
    received_at: int
    last_used_at: int | None
    verdicts: int
    worklist_lines: int
    reported_at: int

    @property
    def times_used(self) -> int:
        return self.verdicts + self.worklist_lines


def put_recipient_use(session: Session, flag_id: int, use: RecipientUse) -> None:
    """Keeps a recipient's latest report of its use of flag `flag_id`."""
    session.merge(
        FlagRecipientUseRow(
            flag_id=flag_id,
            recipient=use.recipient,
            received_at=use.received_at,
            last_used_at=use.last_used_at,
            verdicts=use.verdicts,
            worklist_lines=use.worklist_lines,
            reported_at=use.reported_at,
        )
    )


def recipient_uses(session: Session, flag_id: int) -> list[RecipientUse]:
    rows = session.scalars(
        select(FlagRecipientUseRow)
        .where(FlagRecipientUseRow.flag_id == flag_id)
        .order_by(FlagRecipientUseRow.recipient)
    ).all()
    return [
        RecipientUse(r.recipient, r.received_at, r.last_used_at, r.verdicts, r.worklist_lines, r.reported_at)
        for r in rows
    ]


# One statement: every verification asks it (its cached outcome's key).
_VERSION = select(
    func.count(FlagRow.id),
    func.count(FlagRow.withdrawn_at_block),
    select(func.count()).select_from(FlagDocumentRow).scalar_subquery(),
)


def version(session: Session | Connection) -> tuple[int, int, int]:
    """What the flags a verification reads depend on, cheaply: how many flags, withdrawals
    and documents are held. A verification's cached outcome is kept while these stay."""
    flags, withdrawn, documents = session.execute(_VERSION).one()
    return int(flags), int(withdrawn), int(documents or 0)


# ---------------------------------------------------------------- reads of a content


@dataclass(frozen=True)
class FlagRead:
    reader: str
    kind: str  # person | peer
    at: int


def log_read(session: Session, flag_id: int, reader: str, kind: str, at: int) -> None:
    session.add(FlagReadRow(flag_id=flag_id, reader=reader, kind=kind, at=at))


def reads_of(session: Session, flag_id: int) -> list[FlagRead]:
    rows = session.scalars(select(FlagReadRow).where(FlagReadRow.flag_id == flag_id).order_by(FlagReadRow.id)).all()
    return [FlagRead(r.reader, r.kind, r.at) for r in rows]
