"""The JSON-RPC client (chain/rpc.py): calls and batches against a real anvil, from many
threads over a bounded pool, and what it makes of a node that is down, closes idle
connections, fails over HTTP or answers something other than JSON."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.chain.rpc import POOL_SIZE, Rpc, RpcError
from ledger_api.errors import NodeUnavailable


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    with AnvilNode(Path(tmp_path_factory.mktemp("anvil"))) as anvil:
        yield anvil


def test_a_call_and_a_batch_answer_in_order_and_errors_stay_per_call(node: AnvilNode) -> None:
    with Rpc(node.url) as rpc:
        assert rpc.call("eth_chainId") == hex(31337)
        accounts = rpc.call("eth_accounts")
        answers = rpc.batch(
            [("eth_getBalance", [accounts[1], "latest"]), ("no_suchMethod", []), ("eth_blockNumber", [])]
        )
        assert int(answers[0], 16) > 0
        assert isinstance(answers[1], RpcError) and answers[1].error_message
        assert int(answers[2], 16) >= 0
        with pytest.raises(RpcError):
            rpc.call("no_suchMethod")
        assert rpc.batch([]) == []


def test_threads_calling_at_once_each_get_their_own_answers_over_a_bounded_pool(node: AnvilNode) -> None:
    rpc = Rpc(node.url)
    accounts = rpc.call("eth_accounts")

    def balance_of(i: int) -> tuple[str, str]:
        return accounts[i % 10], rpc.call("eth_getTransactionCount", accounts[i % 10], "latest")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(balance_of, range(200)))
    expected = {a: rpc.call("eth_getTransactionCount", a, "latest") for a in accounts}
    assert all(count == expected[account] for account, count in answers)
    assert rpc._pool.num_connections <= POOL_SIZE  # eight threads, at most POOL_SIZE connections
    rpc.close()
    with pytest.raises(NodeUnavailable):
        rpc.call("eth_chainId")


def test_threads_that_come_and_go_reuse_the_pools_connections(node: AnvilNode) -> None:
    """As the API's worker threads do (anyio retires idle ones): none leaves a connection behind."""
    with Rpc(node.url) as rpc:
        for _ in range(30):
            thread = threading.Thread(target=rpc.call, args=("eth_blockNumber",))
            thread.start()
            thread.join()
        assert rpc._pool.num_connections == 1  # connections made in all


def test_a_node_that_is_down_is_unavailable_not_an_rpc_error() -> None:
    with Rpc(f"http://127.0.0.1:{free_port()}", timeout=1) as rpc, pytest.raises(NodeUnavailable, match="reached"):
        rpc.call("eth_blockNumber")


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="http"):
        Rpc("ws://127.0.0.1:8545")


class _Node(http.server.BaseHTTPRequestHandler):
    """A stand-in node whose answer the test chooses: `answer(handler, body)`."""

    protocol_version = "HTTP/1.1"
    answer: Callable[[_Node, dict], None]
    seen: list[tuple[str, str | None]]  # (path, Authorization) per request

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        type(self).answer(self, body)

    def reply(self, status: int, data: bytes, close_silently: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if close_silently:  # as a node does with a connection idle too long: no Connection: close
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[Callable[[Callable[[_Node, dict], None]], tuple[str, list[tuple[str, str | None]]]]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(answer: Callable[[_Node, dict], None]) -> tuple[str, list[tuple[str, str | None]]]:
        handler = type("Node", (_Node,), {"answer": staticmethod(answer), "seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}", handler.seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _result(handler: _Node, body: dict, close_silently: bool = False) -> None:
    handler.reply(200, json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"}).encode(), close_silently)


def test_a_connection_the_node_closed_while_idle_is_opened_again_for_the_same_request(stand_in) -> None:
    address, seen = stand_in(lambda h, body: _result(h, body, close_silently=True))
    with Rpc(f"http://{address}") as rpc:
        assert [rpc.call("eth_blockNumber") for _ in range(3)] == ["0x1"] * 3
    assert len(seen) == 3  # each sent once: the retry is only for a request the node never read


def test_a_request_the_node_drops_unanswered_as_it_closes_the_connection_is_sent_again_once(stand_in) -> None:
    def answer_once_per_connection(handler: _Node, body: dict) -> None:
        handler.served = getattr(handler, "served", 0) + 1  # one handler per connection
        if handler.served == 1:
            _result(handler, body)
        else:  # read, then closed without an answer: as a node closing an idle connection
            handler.close_connection = True

    address, seen = stand_in(answer_once_per_connection)
    with Rpc(f"http://{address}") as rpc:
        assert [rpc.call("eth_blockNumber") for _ in range(3)] == ["0x1"] * 3
    assert len(seen) == 5  # the second and third calls each sent twice: dropped, then answered


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda h, body: h.reply(503, b"{}"), "HTTP 503"),
        (lambda h, body: h.reply(200, b"<html>busy</html>"), "other than JSON"),
    ],
)
def test_an_http_failure_or_an_answer_not_json_is_unavailable(stand_in, answer, match: str) -> None:
    address, _ = stand_in(answer)
    with Rpc(f"http://{address}") as rpc, pytest.raises(NodeUnavailable, match=match):
        rpc.call("eth_blockNumber")


def test_the_urls_path_query_and_credentials_reach_the_node(stand_in) -> None:
    address, seen = stand_in(_result)
    with Rpc(f"http://relayer:s3cret@{address}/v3/project?tenant=nl") as rpc:
        assert rpc.call("eth_blockNumber") == "0x1"
    assert seen == [("/v3/project?tenant=nl", "Basic cmVsYXllcjpzM2NyZXQ=")]
