// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title PartyRoles
 * @notice The roles a party of the ledger can hold, as bits of one `uint64`, so that a
 * party's roles and status fit in one checkpoint and can be asked "as of block N".
 */
library PartyRoles {
    /// @notice Declares the goods of a consignment and is its first custodian.
    uint64 internal constant EXPORTER = 1 << 0;
    /// @notice Moves goods: accepts custody, records movements, hands custody on.
    uint64 internal constant CARRIER = 1 << 1;
    /// @notice Arranges transport on behalf of a trader and may hold custody.
    uint64 internal constant FORWARDER = 1 << 2;
    /// @notice Port, airport or inland terminal operator holding goods between carriers.
    uint64 internal constant TERMINAL = 1 << 3;
    /// @notice Receives the goods at destination.
    uint64 internal constant IMPORTER = 1 << 4;
    /// @notice A customs administration or one of its offices: records decisions.
    uint64 internal constant CUSTOMS = 1 << 5;
    /// @notice A law-enforcement agency of a country (police, border guard): it holds no
    /// goods and writes no record on the ledger; off-chain access rules may name it.
    uint64 internal constant LAW_ENFORCEMENT = 1 << 6;

    /// @notice Roles that may hold the goods, and so be named in a handover.
    uint64 internal constant CUSTODIANS = EXPORTER | CARRIER | FORWARDER | TERMINAL | IMPORTER;

    /// @notice Every role defined so far; a roles value with any other bit set is invalid.
    uint64 internal constant ALL = EXPORTER | CARRIER | FORWARDER | TERMINAL | IMPORTER | CUSTOMS | LAW_ENFORCEMENT;
}
