// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title LedgerRecords
 * @notice The signed record of the consignment ledger and its EIP-712 type. Wallets and
 * the Python client sign exactly this type; its id is the EIP-712 digest.
 */
library LedgerRecords {
    /// @notice Record kinds. Held as `uint8` in the signed struct so that an unknown kind
    /// gets a named error instead of an ABI-decoding panic.
    uint8 internal constant DECLARATION = 0;
    uint8 internal constant HANDOVER = 1;
    uint8 internal constant ACCEPTANCE = 2;
    uint8 internal constant CUSTOMS_DECISION = 3;
    uint8 internal constant REVOCATION = 4;
    uint8 internal constant TRANSIT = 5;
    uint8 internal constant MAX_KIND = TRANSIT;

    /**
     * @notice One signed act of a party on a consignment.
     * @param consignment keccak256 of the consignment's UCR (WCO Unique Consignment Reference).
     * @param kind One of the kinds above.
     * @param payloadHash keccak256 of the off-chain payload's canonical JSON (RFC 8785).
     * @param previous Id of the consignment's latest record (zero for a declaration): a hash chain.
     * @param party The acting party, who signs.
     * @param counterparty HANDOVER: the named next custodian. ACCEPTANCE: the custodian
     * handing over. REVOCATION: the pending custodian whose handover it cancels, or zero.
     * Zero otherwise.
     * @param nonce The party's current nonce on this ledger.
     * @param deadline Last block timestamp at which the record may be written.
     * @param route ISO 3166-1 alpha-2 countries. DECLARATION: exactly [origin, destination].
     * TRANSIT: the transit countries the custodian adds to the consignment's route (one or
     * more). Empty for every other kind.
     */
    struct Record {
        bytes32 consignment;
        uint8 kind;
        bytes32 payloadHash;
        bytes32 previous;
        address party;
        address counterparty;
        uint256 nonce;
        uint256 deadline;
        bytes2[] route;
    }

    bytes32 internal constant RECORD_TYPEHASH = keccak256(
        "Record(bytes32 consignment,uint8 kind,bytes32 payloadHash,bytes32 previous,address party,address counterparty,uint256 nonce,uint256 deadline,bytes2[] route)"
    );

    /// @notice EIP-712 struct hash of `r`. An array member is encoded as the keccak256 of
    /// its elements' 32-byte encodings, concatenated: `abi.encodePacked` pads each element
    /// of an array to 32 bytes, which is exactly that.
    function structHash(Record calldata r) internal pure returns (bytes32) {
        bytes32 routeHash = keccak256(abi.encodePacked(r.route));
        return keccak256(
            abi.encode(
                RECORD_TYPEHASH,
                r.consignment,
                r.kind,
                r.payloadHash,
                r.previous,
                r.party,
                r.counterparty,
                r.nonce,
                r.deadline,
                routeHash
            )
        );
    }
}
