"""Encoding calls and decoding events and custom errors of the ledger's contracts, from
the build's ABIs, without web3's contract layer (see rpc.py for why).

Contract custom errors are decoded by selector into their name and arguments, so a
revert reads `LedgerStalePrevious(consignment=…, head=…, previous=…)`, not `0x7a3c…`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from ledger_api.chain.artifacts import Artifact
from ledger_api.domain.records import checksummed


def _canonical_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_canonical_type(i) for i in item['inputs'])})"


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: list[tuple[str, str]]
    data: list[tuple[str, str]]


@dataclass(frozen=True)
class DecodedError:
    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.name}({inner})"


def _normal(typ: str, value: Any) -> Any:
    """Addresses in EIP-55 form, as everywhere else in the package (eth-abi gives lower case)."""
    return checksummed(value) if typ == "address" else value


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


class ContractAbi:
    """Function encoders, event decoders and the custom-error table of a deployment."""

    def __init__(self, artifacts: dict[str, Artifact]) -> None:
        self.functions: dict[tuple[str, str], tuple[bytes, list[str]]] = {}
        self.events: dict[bytes, EventSpec] = {}
        self.errors: dict[bytes, tuple[str, list[tuple[str, str]]]] = {}
        for contract, artifact in artifacts.items():
            for item in artifact.abi:
                kind = item.get("type")
                if kind == "function":
                    types = [_canonical_type(i) for i in item["inputs"]]
                    self.functions[(contract, item["name"])] = (keccak(text=_signature(item))[:4], types)
                elif kind == "event":
                    indexed = [(i["name"], _canonical_type(i)) for i in item["inputs"] if i["indexed"]]
                    data = [(i["name"], _canonical_type(i)) for i in item["inputs"] if not i["indexed"]]
                    self.events[keccak(text=_signature(item))] = EventSpec(contract, item["name"], indexed, data)
                elif kind == "error":
                    inputs = [(i["name"], _canonical_type(i)) for i in item["inputs"]]
                    self.errors[keccak(text=_signature(item))[:4]] = (item["name"], inputs)

    def encode_call(self, contract: str, function: str, *args: Any) -> bytes:
        selector, types = self.functions[(contract, function)]
        return selector + abi_encode(types, list(args))

    def decode_log(self, log: dict[str, Any]) -> tuple[EventSpec, dict[str, Any]] | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics or topics[0] not in self.events:
            return None
        spec = self.events[topics[0]]
        args: dict[str, Any] = {}
        for (name, typ), topic in zip(spec.indexed, topics[1:], strict=True):
            args[name] = _normal(typ, abi_decode([typ], topic)[0])
        values = abi_decode([t for _, t in spec.data], bytes.fromhex(log["data"][2:]))
        args.update({name: _normal(typ, value) for (name, typ), value in zip(spec.data, values, strict=True)})
        return spec, args

    def decode_error(self, data: bytes) -> DecodedError | None:
        entry = self.errors.get(data[:4])
        if entry is None:
            return None
        name, inputs = entry
        try:
            values = abi_decode([t for _, t in inputs], data[4:])
        except Exception:
            return None
        return DecodedError(name, {n: v for (n, _), v in zip(inputs, values, strict=True)})
