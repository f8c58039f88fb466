"""The node's new blocks as it announces them (chain/heads.py): each wakes the indexer, a
subscription lost with its node is opened again when the node is back, and a node
without WebSockets costs nothing but the poll. On real anvils."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select
from support.service import local_settings
from support.submissions import register_exporter
from web3 import HTTPProvider, Web3

from ledger_api.chain import heads, loop
from ledger_api.chain.contracts import Contracts
from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.chain.rpc import Rpc
from ledger_api.errors import ConfigurationError
from ledger_api.indexer import Indexer
from ledger_api.runtime import Runtime
from ledger_api.settings import PROJECT_ROOT, Settings
from ledger_api.store.tables import PartyRow

EXPORTER = Account.from_key(keccak(text="heads test exporter"))


class Heads:
    """follow_heads in a thread, counting the calls."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()
        self.state = heads.HeadsState()

    def on_head(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= count, timeout)


@contextmanager
def following(url: str) -> Iterator[tuple[Heads, threading.Thread]]:
    seen, stop = Heads(), threading.Event()
    thread = threading.Thread(target=heads.follow_heads, args=(url, seen.on_head, stop, seen.state), daemon=True)
    thread.start()
    try:
        yield seen, thread
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "follow_heads did not end when told to stop"


def mine(url: str, blocks: int) -> None:
    with Rpc(url) as rpc:
        for _ in range(blocks):
            rpc.call("evm_mine")


def test_each_block_the_node_announces_is_heard(anvil):
    with following(heads.ws_url_of(anvil.url)) as (seen, _):
        assert seen.wait_for(1), "no call once subscribed (a block may have come before the subscription)"
        before = seen.count
        mine(anvil.url, 3)
        assert seen.wait_for(before + 3), f"{seen.count - before} of 3 new blocks heard"
        assert seen.state.following and seen.state.last_error is None and seen.state.last_head is not None


def test_a_node_that_went_away_is_followed_again_once_it_is_back(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(heads, "RETRY_SECONDS", 0.1)
    port = free_port()
    node = AnvilNode(tmp_path / "first", port=port).start()
    with following(heads.ws_url_of(node.url)) as (seen, thread), caplog.at_level(logging.WARNING, heads.__name__):
        assert seen.wait_for(1)
        node.kill()
        deadline = time.monotonic() + 15
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        assert caplog.records, "losing the node was not logged"
        assert thread.is_alive()
        before = seen.count
        with AnvilNode(tmp_path / "second", port=port) as again:
            assert seen.wait_for(before + 1), "no new subscription to the node back on its port"
            mine(again.url, 2)
            assert seen.wait_for(before + 3), "the new blocks of the node back on its port were not heard"


def test_a_node_that_cannot_be_reached_is_logged_and_reported_without_the_secrets_of_its_url(caplog):
    url = f"ws://user:hunter2@127.0.0.1:{free_port()}/v3/project-key-1234"
    with caplog.at_level(logging.WARNING, heads.__name__), following(url) as (seen, _):
        deadline = time.monotonic() + 15
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen.count == 0
        assert not seen.state.following and "Connection refused" in (seen.state.last_error or "")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in logged and "the indexer polls" in logged
    assert "hunter2" not in logged and "project-key-1234" not in logged
    shown = seen.state.last_error or ""  # /readyz's details
    assert "hunter2" not in shown and "project-key-1234" not in shown


@pytest.mark.parametrize("value", ["http://127.0.0.1:8546", "127.0.0.1:8546", "ws://"])
def test_the_websocket_url_setting_must_be_one(tmp_path, value):
    with pytest.raises(ConfigurationError, match="LEDGER_WS_URL must be a ws:// or wss:// URL with a host"):
        Settings.load(data_dir=tmp_path, ws_url=value)


def test_the_indexer_takes_in_a_block_when_it_is_announced_not_at_its_next_poll(tmp_path, monkeypatch):
    """The relayer and the indexer in threads of this process, the indexer's idle poll made
    half a minute long: a party registered straight on the registry (no relayer of ours
    to wake the indexer) is in the index within seconds, woken by the block's announcement.
    Without it, the party waits for the poll (the test then fails)."""
    monkeypatch.setattr(loop, "QUIET_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(loop, "QUIET_IDLE_SECONDS", 30.0)
    rt = Runtime(local_settings(tmp_path, chain_worker="thread")).start()
    try:
        assert rt.node is not None and rt.manifest is not None and rt.store is not None
        contracts = Contracts.load(Web3(HTTPProvider(rt.node.url)), rt.manifest, PROJECT_ROOT / "build")
        time.sleep(1.0)  # what the start sent is indexed; the indexer is in its long wait
        register_exporter(contracts, rt.manifest, EXPORTER)
        indexed = _within(10.0, lambda: _party_indexed(rt, EXPORTER.address))
        assert indexed, "the registration was not indexed until the indexer's poll"
    finally:
        rt.stop()


def _party_indexed(rt: Runtime, address: str) -> bool:
    assert rt.store is not None
    with rt.store.session() as session:
        return session.scalar(select(PartyRow.address).where(PartyRow.address == address)) is not None


def _within(seconds: float, predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("followed", [True, False], ids=["blocks followed", "no subscription"])
def test_the_indexer_polls_rarely_while_the_blocks_are_followed_and_often_without(tmp_path, monkeypatch, followed):
    """While the subscription is up, each block and each transaction the relayer sends
    wake the indexer, so its pause without work is the quiet loop's, not the 20 ms it
    keeps without one (its polls between a stream's blocks were a fifth of the worker's
    time). Counted over a second with nothing to index, the quiet-after delay made long
    so that only this choice sets the pause."""
    monkeypatch.setattr(loop, "QUIET_AFTER_SECONDS", 600.0)
    if not followed:
        monkeypatch.setattr(Runtime, "_heads_url", lambda self: None)
    steps: list[float] = []
    step = Indexer.step

    def counted(self: Indexer) -> int:
        steps.append(time.monotonic())
        return step(self)

    monkeypatch.setattr(Indexer, "step", counted)
    rt = Runtime(local_settings(tmp_path, chain_worker="thread")).start()
    try:
        assert (rt.heads is not None) is followed
        assert not followed or _within(10.0, lambda: rt.heads is not None and rt.heads.following)
        time.sleep(0.5)  # what the start sent is indexed
        before = len(steps)
        time.sleep(1.0)
        polls = len(steps) - before
    finally:
        rt.stop()
    if followed:
        assert polls <= 6, f"{polls} polls in a second with the blocks followed"
    else:
        assert polls >= 20, f"{polls} polls in a second without a subscription"
