// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/**
 * @title LedgerForwarder
 * @notice The trusted ERC-2771 forwarder of the registries: customs authorities sign
 * their registry writes (EIP-712 ForwardRequest) and the ledger service relays them,
 * paying gas without holding the authority's key.
 */
contract LedgerForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("LedgerForwarder") {}
}
