// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {IConsignmentLedger} from "./interfaces/IConsignmentLedger.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {CountryCodes} from "./lib/CountryCodes.sol";
import {LedgerRecords} from "./lib/LedgerRecords.sol";
import {PartyRoles} from "./lib/PartyRoles.sol";

/**
 * @title ConsignmentLedger
 * @notice Append-only custody and declaration records of consignments. Each record is an
 * EIP-712 message signed by the acting party (nonce and deadline as in ERC-2612 permits)
 * and may be relayed by any account; the relayer pays gas and signs nothing.
 *
 * Rules enforced here for records written one by one ({write}, {writeHop}, {writeMany}):
 * only an exporter declares, and only a new consignment, naming its origin and
 * destination; every later record extends the consignment's hash chain (`previous` is the
 * current head); only the current custodian hands over, to a named active party holding a
 * custody role, one handover at a time; only that party accepts, and custody moves then;
 * only the current custodian adds transit countries to the route; only customs of a
 * country on the route records decisions; only the custodian or customs of a route
 * country revokes; a party that is not active writes nothing; a record id (its EIP-712
 * digest, which covers the party's nonce) is written once.
 *
 * Bulk mode ({anchorRoot}) anchors the Merkle root of many signed records in one
 * transaction. Those records are NOT checked here: the ledger service checks each one
 * before anchoring, and the verifier checks them again, against the registry as of the
 * anchor's block, with the inclusion proof ({checkInclusion}).
 */
contract ConsignmentLedger is IConsignmentLedger, EIP712, Nonces {
    using LedgerRecords for LedgerRecords.Record;

    /// @notice Most transit countries a consignment's route holds besides its origin and
    /// destination: sixteen 2-byte codes fill one storage slot.
    uint256 public constant MAX_TRANSIT_COUNTRIES = 16;

    /// @notice The registry of parties whose roles and status every record is checked against.
    IPartyRegistry public immutable registry;

    mapping(bytes32 consignment => Consignment) private _consignments;
    mapping(bytes32 root => uint256 blockNumber) private _anchors;

    /// @param registry_ The party registry.
    constructor(IPartyRegistry registry_) EIP712("ConsignmentLedger", "1") {
        if (address(registry_) == address(0)) revert LedgerZeroAddress();
        registry = registry_;
    }

    // ---------------------------------------------------------------- writes

    /**
     * @notice Writes one signed record.
     * @dev Requirements: `signature` by `r.party` over the record's EIP-712 digest, with
     * low s; `r.nonce` is the party's current nonce; `r.deadline` has not passed; the
     * rules in the contract's description hold for `r.kind`.
     * Emits {RecordWritten}; {CustodyTransferred} for an acceptance; {RouteExtended} for a
     * declaration and for a transit that adds a country.
     * @return id The record id (EIP-712 digest).
     */
    function write(LedgerRecords.Record calldata r, bytes calldata signature) external returns (bytes32 id) {
        id = _authenticate(r, signature);
        _apply(r, id);
    }

    /**
     * @notice Writes many signed records, in order, each exactly as {write} would; a record
     * that {write} refuses is skipped, with its reason, and the others are written.
     * @dev Each record runs in its own call to {write}, so a refused one leaves no trace
     * but its event: its nonce stays unused. Requirements: as many signatures as records;
     * enough gas for every record (a record that runs out of gas refuses the whole pack,
     * rather than passing for a refused record).
     * Emits, per record, what {write} emits, or {RecordRejected}.
     * @return written How many records were written.
     */
    function writeMany(LedgerRecords.Record[] calldata records, bytes[] calldata signatures)
        external
        returns (uint256 written)
    {
        uint256 count = records.length;
        if (count != signatures.length) revert LedgerSignatureCountMismatch(count, signatures.length);
        for (uint256 i; i < count; ++i) {
            LedgerRecords.Record calldata r = records[i];
            // A call to itself is what lets one record fail alone: its state changes revert
            // with it. The id it returns is in its RecordWritten event already.
            // slither-disable-next-line unused-return
            try this.write(r, signatures[i]) {
                ++written;
            } catch (bytes memory reason) {
                // Every refusal of {write} carries a custom error or a panic; only running out
                // of gas leaves no data.
                if (reason.length == 0) revert LedgerRecordOutOfGas(i);
                emit RecordRejected(r.consignment, _hashTypedDataV4(r.structHash()), r.party, reason);
            }
        }
    }

    /**
     * @notice Writes a whole custody hop in one transaction: a handover signed by the
     * custodian and the acceptance signed by the named party, whose `previous` is the
     * handover's id.
     * @dev Requirements: as {write} for each record; `handover` is a HANDOVER and
     * `acceptance` an ACCEPTANCE. Emits two {RecordWritten} and one {CustodyTransferred}.
     */
    function writeHop(
        LedgerRecords.Record calldata handover,
        bytes calldata handoverSignature,
        LedgerRecords.Record calldata acceptance,
        bytes calldata acceptanceSignature
    ) external returns (bytes32 handoverId, bytes32 acceptanceId) {
        if (handover.kind != LedgerRecords.HANDOVER) {
            revert LedgerUnexpectedKind(LedgerRecords.HANDOVER, handover.kind);
        }
        if (acceptance.kind != LedgerRecords.ACCEPTANCE) {
            revert LedgerUnexpectedKind(LedgerRecords.ACCEPTANCE, acceptance.kind);
        }
        handoverId = _authenticate(handover, handoverSignature);
        _apply(handover, handoverId);
        acceptanceId = _authenticate(acceptance, acceptanceSignature);
        _apply(acceptance, acceptanceId);
    }

    /**
     * @notice Anchors the Merkle root of `recordCount` signed records, each checked off
     * chain. Anyone may anchor: a root proves only that its leaves existed by this block;
     * what each leaf says is proven by its own signature.
     * @dev Leaves are `keccak256(bytes.concat(keccak256(abi.encode(recordId))))`, pairs
     * hashed sorted (OpenZeppelin StandardMerkleTree). Requirements: `root` and
     * `recordCount` are non-zero; `root` was not anchored before. Emits {RootAnchored}.
     */
    function anchorRoot(bytes32 root, uint256 recordCount) external {
        if (root == bytes32(0) || recordCount == 0) revert LedgerEmptyRoot();
        uint256 anchored = _anchors[root];
        if (anchored != 0) revert LedgerRootAlreadyAnchored(root, anchored);
        _anchors[root] = block.number;
        emit RootAnchored(root, msg.sender, recordCount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IConsignmentLedger
    function consignmentOf(bytes32 consignment) external view returns (Consignment memory) {
        return _consignments[consignment];
    }

    /// @inheritdoc IConsignmentLedger
    function routeOf(bytes32 consignment) external view returns (bytes2[] memory countries) {
        Consignment storage c = _consignments[consignment];
        if (c.origin == bytes2(0)) return countries;
        bytes32 transit = c.transit;
        uint256 n = _transitLength(transit);
        countries = new bytes2[](n + 2);
        countries[0] = c.origin;
        countries[1] = c.destination;
        for (uint256 i; i < n; ++i) {
            countries[i + 2] = bytes2(transit << (16 * i));
        }
    }

    /// @inheritdoc IConsignmentLedger
    function isOnRoute(bytes32 consignment, bytes2 country) external view returns (bool) {
        return _onRoute(_consignments[consignment], country);
    }

    /// @inheritdoc IConsignmentLedger
    function recordId(LedgerRecords.Record calldata r) external view returns (bytes32) {
        return _hashTypedDataV4(r.structHash());
    }

    /// @inheritdoc IConsignmentLedger
    function anchoredAt(bytes32 root) external view returns (uint256) {
        return _anchors[root];
    }

    /// @inheritdoc IConsignmentLedger
    function checkInclusion(bytes32 root, bytes32 id, bytes32[] calldata proof)
        external
        view
        returns (uint256 blockNumber)
    {
        blockNumber = _anchors[root];
        // Zero is "never anchored" (no root is anchored at block 0): the strict equality is meant.
        // slither-disable-next-line incorrect-equality
        if (blockNumber == 0) revert LedgerRootNotAnchored(root);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(id))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert LedgerInvalidInclusionProof(root, id);
    }

    /// @notice The EIP-712 type hash of a record, for clients that build the digest themselves.
    function RECORD_TYPEHASH() external pure returns (bytes32) {
        return LedgerRecords.RECORD_TYPEHASH;
    }

    // ---------------------------------------------------------------- internals

    /// Checks the record's shape and signature and uses the party's nonce; returns its id.
    function _authenticate(LedgerRecords.Record calldata r, bytes calldata signature) private returns (bytes32 id) {
        if (r.kind > LedgerRecords.MAX_KIND) revert LedgerUnknownRecordKind(r.kind);
        if (r.consignment == bytes32(0)) revert LedgerEmptyConsignment();
        if (r.payloadHash == bytes32(0)) revert LedgerEmptyPayloadHash(r.consignment);
        _checkRouteShape(r);
        // slither-disable-next-line timestamp
        if (block.timestamp > r.deadline) revert LedgerExpiredSignature(r.deadline, block.timestamp);
        id = _hashTypedDataV4(r.structHash());
        address signer = ECDSA.recoverCalldata(id, signature);
        if (signer != r.party) revert LedgerInvalidSigner(signer, r.party);
        _useCheckedNonce(r.party, r.nonce);
    }

    /// Applies the custody rules of the record's kind and moves the hash chain's head.
    function _apply(LedgerRecords.Record calldata r, bytes32 id) private {
        uint64 roles = _activeRoles(r.party);
        Consignment storage c = _consignments[r.consignment];
        uint8 kind = r.kind;

        if (kind == LedgerRecords.DECLARATION) {
            if (roles & PartyRoles.EXPORTER == 0) revert LedgerMissingRole(r.party, PartyRoles.EXPORTER);
            if (c.head != bytes32(0)) revert LedgerConsignmentExists(r.consignment);
            if (r.previous != bytes32(0)) revert LedgerStalePrevious(r.consignment, bytes32(0), r.previous);
            if (r.counterparty != address(0)) revert LedgerInvalidCounterparty(r.consignment, r.counterparty);
            c.custodian = r.party;
            c.origin = r.route[0];
            c.destination = r.route[1];
            emit RouteExtended(r.consignment, id, r.route);
        } else {
            bytes32 head = c.head;
            if (head == bytes32(0)) revert LedgerUnknownConsignment(r.consignment);
            if (r.previous != head) revert LedgerStalePrevious(r.consignment, head, r.previous);
            if (kind == LedgerRecords.HANDOVER) {
                _handOver(c, r);
            } else if (kind == LedgerRecords.ACCEPTANCE) {
                _accept(c, r, id);
            } else if (kind == LedgerRecords.CUSTOMS_DECISION) {
                if (roles & PartyRoles.CUSTOMS == 0) revert LedgerMissingRole(r.party, PartyRoles.CUSTOMS);
                _requireOnRoute(c, r);
                if (r.counterparty != address(0)) revert LedgerInvalidCounterparty(r.consignment, r.counterparty);
            } else if (kind == LedgerRecords.REVOCATION) {
                _revoke(c, r, roles);
            } else {
                _transit(c, r, id);
            }
        }
        c.head = id;
        emit RecordWritten(r.consignment, id, r.party, kind, r.payloadHash, r.previous, r.counterparty, r.nonce);
    }

    function _handOver(Consignment storage c, LedgerRecords.Record calldata r) private {
        if (r.party != c.custodian) revert LedgerNotCustodian(r.consignment, r.party, c.custodian);
        address pending = c.pendingCustodian;
        if (pending != address(0)) revert LedgerHandoverPending(r.consignment, pending);
        address to = r.counterparty;
        if (to == address(0) || to == r.party) revert LedgerInvalidCounterparty(r.consignment, to);
        if (_activeRoles(to) & PartyRoles.CUSTODIANS == 0) revert LedgerMissingRole(to, PartyRoles.CUSTODIANS);
        c.pendingCustodian = to;
    }

    function _accept(Consignment storage c, LedgerRecords.Record calldata r, bytes32 id) private {
        if (r.party != c.pendingCustodian) {
            revert LedgerNotPendingCustodian(r.consignment, r.party, c.pendingCustodian);
        }
        address from = c.custodian;
        if (r.counterparty != from) revert LedgerInvalidCounterparty(r.consignment, r.counterparty);
        c.custodian = r.party;
        c.pendingCustodian = address(0);
        emit CustodyTransferred(r.consignment, from, r.party, id);
    }

    /// A custodian, or customs of a route country, may revoke; naming the pending custodian
    /// cancels the handover (the custodian only).
    function _revoke(Consignment storage c, LedgerRecords.Record calldata r, uint64 roles) private {
        bool isCustodian = r.party == c.custodian;
        if (!isCustodian) {
            if (roles & PartyRoles.CUSTOMS == 0) revert LedgerNotCustodian(r.consignment, r.party, c.custodian);
            _requireOnRoute(c, r);
        }
        if (r.counterparty != address(0)) {
            if (!isCustodian || r.counterparty != c.pendingCustodian) {
                revert LedgerInvalidCounterparty(r.consignment, r.counterparty);
            }
            c.pendingCustodian = address(0);
        }
    }

    /// The custodian adds transit countries; those already on the route are left as they are.
    function _transit(Consignment storage c, LedgerRecords.Record calldata r, bytes32 id) private {
        if (r.party != c.custodian) revert LedgerNotCustodian(r.consignment, r.party, c.custodian);
        if (r.counterparty != address(0)) revert LedgerInvalidCounterparty(r.consignment, r.counterparty);
        bytes2 origin = c.origin;
        bytes2 destination = c.destination;
        bytes32 transit = c.transit;
        uint256 n = _transitLength(transit);
        bytes2[] memory added = new bytes2[](r.route.length);
        uint256 addedCount = 0;
        for (uint256 i; i < r.route.length; ++i) {
            bytes2 country = r.route[i];
            if (country == origin || country == destination || _inTransit(transit, country)) continue;
            if (n == MAX_TRANSIT_COUNTRIES) revert LedgerRouteFull(r.consignment, country);
            transit |= bytes32(country) >> (16 * n);
            ++n;
            added[addedCount++] = country;
        }
        if (addedCount == 0) return;
        c.transit = transit;
        bytes2[] memory countries = new bytes2[](addedCount);
        for (uint256 i; i < addedCount; ++i) {
            countries[i] = added[i];
        }
        emit RouteExtended(r.consignment, id, countries);
    }

    /// Customs may act only on consignments whose route touches its registry country.
    function _requireOnRoute(Consignment storage c, LedgerRecords.Record calldata r) private view {
        bytes2 country = registry.partyOf(r.party).country;
        if (!_onRoute(c, country)) revert LedgerNotOnRoute(r.consignment, r.party, country);
    }

    /// The number of countries each kind carries, and their shape; pure, before any signature work.
    function _checkRouteShape(LedgerRecords.Record calldata r) private pure {
        uint256 n = r.route.length;
        uint8 kind = r.kind;
        bool fits = kind == LedgerRecords.DECLARATION
            ? n == 2
            : kind == LedgerRecords.TRANSIT ? n != 0 && n <= MAX_TRANSIT_COUNTRIES : n == 0;
        if (!fits) revert LedgerInvalidRouteLength(r.consignment, kind, n);
        for (uint256 i; i < n; ++i) {
            if (!CountryCodes.isWellFormed(r.route[i])) revert LedgerInvalidRouteCountry(r.consignment, r.route[i]);
        }
        if (kind == LedgerRecords.DECLARATION && r.route[0] == r.route[1]) {
            revert LedgerSameOriginAndDestination(r.consignment, r.route[0]);
        }
    }

    /// Transit codes fill their slot from the high bytes and are never zero, so the first
    /// empty place ends them.
    function _transitLength(bytes32 transit) private pure returns (uint256 n) {
        while (n < MAX_TRANSIT_COUNTRIES && bytes2(transit << (16 * n)) != bytes2(0)) {
            ++n;
        }
    }

    /// Origin and destination share the custodian's slot (so a declaration stores them at no
    /// extra cost); the transit slot is read only for a country that is neither.
    function _onRoute(Consignment storage c, bytes2 country) private view returns (bool) {
        if (country == bytes2(0)) return false;
        if (country == c.origin || country == c.destination) return true;
        return _inTransit(c.transit, country);
    }

    function _inTransit(bytes32 transit, bytes2 country) private pure returns (bool) {
        for (uint256 i; i < MAX_TRANSIT_COUNTRIES; ++i) {
            bytes2 code = bytes2(transit << (16 * i));
            if (code == country) return true;
            if (code == bytes2(0)) return false;
        }
        return false;
    }

    function _activeRoles(address party) private view returns (uint64 roles) {
        IPartyRegistry.Status status;
        (roles, status) = registry.stateOf(party);
        if (status != IPartyRegistry.Status.Active) revert LedgerPartyNotActive(party);
    }
}
