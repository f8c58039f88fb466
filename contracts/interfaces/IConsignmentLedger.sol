// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LedgerRecords} from "../lib/LedgerRecords.sol";

/**
 * @title IConsignmentLedger
 * @notice Events, errors and views of the append-only consignment ledger.
 */
interface IConsignmentLedger {
    /// @notice State of a consignment: the last record, who holds the goods, its origin and
    /// destination (ISO 3166-1 alpha-2, from its declaration), to whom a handover is pending
    /// (zero when none), and its transit countries: up to 16 codes packed from the high
    /// bytes in the order they were added, unused places zero. See {routeOf}.
    struct Consignment {
        bytes32 head;
        address custodian;
        bytes2 origin;
        bytes2 destination;
        address pendingCustodian;
        bytes32 transit;
    }

    /// @notice Emitted for every record written, right after the consignment's state changes.
    event RecordWritten(
        bytes32 indexed consignment,
        bytes32 indexed recordId,
        address indexed party,
        uint8 kind,
        bytes32 payloadHash,
        bytes32 previous,
        address counterparty,
        uint256 nonce
    );
    /// @notice Emitted when an acceptance moves custody from `from` to `to`.
    event CustodyTransferred(bytes32 indexed consignment, address indexed from, address indexed to, bytes32 recordId);
    /// @notice Emitted when countries join a consignment's route: origin and destination by
    /// its declaration, then each transit country a TRANSIT record adds (countries already on
    /// the route are left out; a transit that adds none emits nothing).
    event RouteExtended(bytes32 indexed consignment, bytes32 indexed recordId, bytes2[] countries);
    /// @notice Emitted by {writeMany} for a record that was not written; `reason` is the
    /// revert data of {write} for it (a custom error, decodable by its selector).
    event RecordRejected(bytes32 indexed consignment, bytes32 indexed recordId, address indexed party, bytes reason);
    /// @notice Emitted when a Merkle root of signed records is anchored.
    event RootAnchored(bytes32 indexed root, address indexed anchoredBy, uint256 recordCount);

    /// @notice The record kind is not one of DECLARATION..TRANSIT.
    error LedgerUnknownRecordKind(uint8 kind);
    /// @notice {writeHop} got a record of another kind than the place it stands in needs.
    error LedgerUnexpectedKind(uint8 expected, uint8 kind);
    /// @notice The zero address was given for the registry.
    error LedgerZeroAddress();
    /// @notice The consignment key (hash of the UCR) is zero.
    error LedgerEmptyConsignment();
    /// @notice The payload hash is zero.
    error LedgerEmptyPayloadHash(bytes32 consignment);
    /// @notice The signature's deadline has passed.
    error LedgerExpiredSignature(uint256 deadline, uint256 timestamp);
    /// @notice The signature recovers to `signer`, not to the party the record names.
    error LedgerInvalidSigner(address signer, address party);
    /// @notice The party is not active in the registry (never registered, suspended or revoked).
    error LedgerPartyNotActive(address party);
    /// @notice The party lacks the role this kind of record needs.
    error LedgerMissingRole(address party, uint64 requiredRoles);
    /// @notice A declaration for a consignment that already has records.
    error LedgerConsignmentExists(bytes32 consignment);
    /// @notice A record for a consignment that has no declaration.
    error LedgerUnknownConsignment(bytes32 consignment);
    /// @notice The record does not extend the consignment's hash chain.
    error LedgerStalePrevious(bytes32 consignment, bytes32 head, bytes32 previous);
    /// @notice Only the current custodian may hand over or revoke.
    error LedgerNotCustodian(bytes32 consignment, address party, address custodian);
    /// @notice A handover is already waiting for acceptance.
    error LedgerHandoverPending(bytes32 consignment, address pendingCustodian);
    /// @notice No handover is pending, or it is addressed to someone else.
    error LedgerNotPendingCustodian(bytes32 consignment, address party, address pendingCustodian);
    /// @notice The counterparty is not acceptable for this record.
    error LedgerInvalidCounterparty(bytes32 consignment, address counterparty);
    /// @notice The record's route has a number of countries its kind does not allow: exactly
    /// two for a DECLARATION, one to 16 for a TRANSIT, none for any other kind.
    error LedgerInvalidRouteLength(bytes32 consignment, uint8 kind, uint256 length);
    /// @notice A route country that is not two capital letters.
    error LedgerInvalidRouteCountry(bytes32 consignment, bytes2 country);
    /// @notice A declaration whose destination is its origin.
    error LedgerSameOriginAndDestination(bytes32 consignment, bytes2 country);
    /// @notice The consignment's route holds 16 transit countries already: `country` does not fit.
    error LedgerRouteFull(bytes32 consignment, bytes2 country);
    /// @notice Customs of `country`, which is not on the consignment's route, may not act on it.
    error LedgerNotOnRoute(bytes32 consignment, address party, bytes2 country);
    /// @notice {writeMany} got a different number of signatures than of records.
    error LedgerSignatureCountMismatch(uint256 records, uint256 signatures);
    /// @notice {writeMany} ran out of gas at record `index`: the whole pack is refused, so that
    /// too little gas never passes for rejected records.
    error LedgerRecordOutOfGas(uint256 index);
    /// @notice The root is zero, or the record count of an anchor is zero.
    error LedgerEmptyRoot();
    /// @notice The Merkle root was anchored already.
    error LedgerRootAlreadyAnchored(bytes32 root, uint256 blockNumber);
    /// @notice The Merkle root was never anchored.
    error LedgerRootNotAnchored(bytes32 root);
    /// @notice The proof does not lead from the leaf to the root.
    error LedgerInvalidInclusionProof(bytes32 root, bytes32 recordId);

    /// @notice Custody state of `consignment`.
    function consignmentOf(bytes32 consignment) external view returns (Consignment memory);

    /// @notice The route of `consignment`: origin, destination, then the transit countries
    /// in the order they were added. Empty for a consignment never declared.
    function routeOf(bytes32 consignment) external view returns (bytes2[] memory);

    /// @notice Whether `country` is on the route of `consignment`.
    function isOnRoute(bytes32 consignment, bytes2 country) external view returns (bool);

    /// @notice The id a record will have: its EIP-712 digest under this ledger's domain.
    function recordId(LedgerRecords.Record calldata r) external view returns (bytes32);

    /// @notice Block at which `root` was anchored, zero if never.
    function anchoredAt(bytes32 root) external view returns (uint256);

    /**
     * @notice Checks that `recordId` is a leaf of the anchored Merkle `root`.
     * @return blockNumber Block at which the root was anchored.
     */
    function checkInclusion(bytes32 root, bytes32 recordId, bytes32[] calldata proof)
        external
        view
        returns (uint256 blockNumber);
}
