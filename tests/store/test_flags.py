"""The store's intelligence flags (store/flags.py): the chain's facts as the indexer puts
them, the contents held for a recipient, and what a reorg takes back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address

from ledger_api.domain.intelligence import (
    SharedFlag,
    flag_content_json,
    parse_flag_content,
    seal_flag,
)
from ledger_api.store import flags
from ledger_api.store.db import Store

JP = to_checksum_address("0x" + "a1" * 20)
NL = to_checksum_address("0x" + "b2" * 20)
SG = to_checksum_address("0x" + "d4" * 20)
EXPORTER = to_checksum_address("0x" + "e5" * 20)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store
    store.close()


def shared_flag(flag_id: int, block: int, recipients: tuple[str, ...] = (NL,)) -> tuple[SharedFlag, bytes, bytes]:
    content = parse_flag_content(
        {
            "schema_version": "1",
            "author": JP,
            "subject": {"type": "PARTY", "address": EXPORTER},
            "subject_salt": "0x" + f"{flag_id:02x}" * 32,
            "category": "CONCEALMENT",
            "severity": "MEDIUM",
            "text": "Hidden compartment found on an earlier shipment.",
            "valid_from": 1_800_000_000,
            "valid_until": 1_800_086_400,
        }
    )
    key = (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    sealed = seal_flag(content, dict.fromkeys(recipients, key))
    shared = SharedFlag(
        flag_id=flag_id,
        author=JP,
        author_country="JP",
        content_hash=sealed.content_hash,
        subject_hash=sealed.subject_hash,
        category=sealed.category,
        severity=sealed.severity,
        valid_from=sealed.valid_from,
        valid_until=sealed.valid_until,
        recipients=sealed.recipients,
        block_number=block,
    )
    return shared, sealed.document, flag_content_json(content)


def hold(store: Store, shared: SharedFlag, document: bytes, content: bytes) -> None:
    with store.session() as session:
        flags.put_document(
            session, "0x" + shared.content_hash.hex(), JP, document, content, shared.recipients, "peer", 1
        )


def test_a_recipient_holds_only_the_flags_sent_to_it_whose_content_it_fetched(store: Store):
    held, document, content = shared_flag(1, 10)
    waiting, *_ = shared_flag(2, 11)
    other, other_document, other_content = shared_flag(3, 12, recipients=(SG,))
    with store.session() as session:
        for flag in (held, waiting, other):
            flags.put_shared(session, flag)
    hold(store, held, document, content)
    hold(store, other, other_document, other_content)
    with store.session() as session:
        assert [f.shared for f in flags.held_flags(session, NL)] == [held]
        assert flags.wanted_flags(session, NL) == [waiting]
        assert [s.shared.flag_id for s in flags.flags_of(session, NL)] == [2, 1]
        assert [s.shared.flag_id for s in flags.flags_of(session, JP)] == [3, 2, 1]
        assert flags.flags_of(session, SG)[0].shared == other


def test_a_withdrawn_flag_is_held_with_its_block_and_no_longer_wanted(store: Store):
    flag, *_ = shared_flag(1, 10)
    with store.session() as session:
        flags.put_shared(session, flag)
        flags.put_withdrawn(session, 1, JP, 20)
    with store.session() as session:
        state = flags.flag(session, 1)
        assert state is not None and (state.withdrawn_at_block, state.withdrawn_by) == (20, JP)
        assert flags.wanted_flags(session, NL) == []


def test_a_reorg_forgets_the_flags_and_withdrawals_above_the_fork(store: Store):
    kept, *_ = shared_flag(1, 10)
    gone, *_ = shared_flag(2, 15)
    with store.session() as session:
        flags.put_shared(session, kept)
        flags.put_shared(session, gone)
        flags.put_withdrawn(session, 1, JP, 16)
    with store.session() as session:
        flags.forget_above(session, 14)
    with store.session() as session:
        assert flags.flag(session, 2) is None
        state = flags.flag(session, 1)
        assert state is not None and state.withdrawn_at_block is None and state.withdrawn_by is None


def test_every_read_is_logged_in_order(store: Store):
    with store.session() as session:
        flags.log_read(session, 1, NL, "peer", 100)
        flags.log_read(session, 1, JP, "person", 101)
        flags.log_read(session, 2, JP, "person", 102)
    with store.session() as session:
        assert flags.reads_of(session, 1) == [flags.FlagRead(NL, "peer", 100), flags.FlagRead(JP, "person", 101)]


def test_the_author_holds_its_own_flags_for_its_verdicts(store: Store):
    own, document, content = shared_flag(1, 10)
    with store.session() as session:
        flags.put_shared(session, own)
        flags.put_document(session, "0x" + own.content_hash.hex(), JP, document, content, own.recipients, "local", 1)
    with store.session() as session:
        assert [f.shared for f in flags.held_flags(session, JP)] == [own]
        assert [f.shared for f in flags.held_flags(session, NL)] == [own]  # its recipient's, once held there
        assert flags.held_flags(session, SG) == []


def test_a_recipient_counts_verdicts_and_worklist_lines_and_reports_the_flags_it_fetched(store: Store):
    fetched, document, content = shared_flag(1, 10)
    waiting, *_ = shared_flag(2, 11)
    with store.session() as session:
        flags.put_shared(session, fetched)
        flags.put_shared(session, waiting)
    hold(store, fetched, document, content)  # received at 1
    with store.session() as session:
        flags.count_uses(session, [1], 50)
        flags.count_uses(session, [1], 60, worklist=True)
        flags.count_uses(session, [1], 70, worklist=True)
    with store.session() as session:
        state = flags.flag(session, 1)
        assert state is not None and (state.uses, state.worklist_uses, state.last_used_at) == (1, 2, 70)
        assert flags.usage_to_report(session, NL) == [flags.Usage(fetched, 1, 70, 1, 2)]
        assert flags.usage_to_report(session, JP) == []  # the author's own are not reported to itself


def test_the_author_keeps_each_recipients_latest_report_and_a_reorg_forgets_those_of_flags_it_took(store: Store):
    kept, *_ = shared_flag(1, 10, recipients=(NL, SG))
    gone, *_ = shared_flag(2, 15)
    with store.session() as session:
        flags.put_shared(session, kept)
        flags.put_shared(session, gone)
        flags.put_recipient_use(session, 1, flags.RecipientUse(NL, 5, None, 0, 0, 6))
        flags.put_recipient_use(session, 1, flags.RecipientUse(SG, 7, 8, 1, 0, 9))
        flags.put_recipient_use(session, 2, flags.RecipientUse(NL, 5, 6, 1, 1, 7))
    with store.session() as session:
        flags.put_recipient_use(session, 1, flags.RecipientUse(NL, 5, 40, 3, 4, 41))
    with store.session() as session:
        used = flags.recipient_uses(session, 1)
        assert {u.recipient: (u.last_used_at, u.times_used, u.reported_at) for u in used} == {
            NL: (40, 7, 41),
            SG: (8, 1, 9),
        }
        flags.forget_above(session, 14)
    with store.session() as session:
        assert flags.recipient_uses(session, 2) == []
        assert len(flags.recipient_uses(session, 1)) == 2


def test_a_flag_shared_here_by_a_law_enforcement_party_is_held_for_its_countrys_customs(store: Store):
    police = to_checksum_address("0x" + "c3" * 20)  # a law-enforcement party of JP, not its authority
    shared, document, content = shared_flag(1, 10)
    shared = replace(shared, author=police)
    with store.session() as session:
        flags.put_shared(session, shared)
        flags.put_document(
            session, "0x" + shared.content_hash.hex(), police, document, content, shared.recipients, "local", 1
        )
    with store.session() as session:
        assert [f.shared for f in flags.held_flags(session, JP, "JP")] == [shared]
        assert flags.held_flags(session, JP) == []  # without its country: not the authority's own
        assert flags.held_flags(session, SG, "SG") == []
