// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {PartyRoles} from "./lib/PartyRoles.sol";
import {CountryCodes} from "./lib/CountryCodes.sol";

/**
 * @title PartyRegistry
 * @notice Registry of the parties allowed to write to the ledger. The consortium admin
 * registers customs authorities, one or more per country; an authority registers,
 * re-roles, suspends, reinstates and revokes the parties of its own country. Authorities
 * themselves are managed only by the admin. The admin role passes in two steps, the new
 * admin accepting after a delay (OpenZeppelin AccessControlDefaultAdminRules), so that a
 * mistyped or stolen hand-over can be seen and cancelled in time.
 *
 * Each authority publishes where its own ledger instance is reached, with its public
 * keys and the account relaying its instance's transactions: instances of the consortium
 * find each other here.
 *
 * Every change of roles or status is pushed as a checkpoint keyed by block number, so the
 * verifier can ask what a signer was allowed to do at the block of its record.
 *
 * Writes may come directly or through the trusted ERC-2771 forwarder, so that an
 * authority's signed request can be relayed by the ledger service without giving it the
 * authority's key.
 */
contract PartyRegistry is IPartyRegistry, AccessControlDefaultAdminRules, ERC2771Context {
    using Checkpoints for Checkpoints.Trace208;

    // Checkpoint value layout: bits 0..63 roles, bits 64..71 status.
    uint208 private constant _STATUS_SHIFT = 64;

    /// @notice Longest endpoint URL accepted, in bytes.
    uint256 public constant MAX_ENDPOINT_URL_LENGTH = 256;

    mapping(address party => Party) private _parties;
    mapping(address party => Checkpoints.Trace208) private _history;
    // The latest checkpoint's value again, in one slot: every ledger record reads it, and
    // one cold SLOAD is cheaper than the history's length and last element (two).
    mapping(address party => uint208) private _current;
    mapping(address authority => Endpoint) private _endpoints;

    /**
     * @param initialAdminDelay Seconds a new admin must wait between the transfer's start
     * and its acceptance (see {beginDefaultAdminTransfer}); days in production.
     * @param admin The consortium admin: registers and manages customs authorities.
     * @param trustedForwarder The ERC-2771 forwarder that relays signed requests.
     */
    constructor(uint48 initialAdminDelay, address admin, address trustedForwarder)
        AccessControlDefaultAdminRules(initialAdminDelay, admin)
        ERC2771Context(trustedForwarder)
    {}

    // ---------------------------------------------------------------- writes

    /**
     * @notice Registers `authority` as the customs authority of `country`, with the CUSTOMS role.
     * @dev Requirements: caller holds DEFAULT_ADMIN_ROLE; `country` is two capital letters;
     * `authority` is new and non-zero; `identifiersHash` is non-zero.
     * Emits {AuthorityRegistered} and {PartyRegistered}.
     */
    function registerAuthority(address authority, bytes2 country, bytes32 identifiersHash)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (!CountryCodes.isWellFormed(country)) revert RegistryInvalidCountry(country);
        _register(authority, country, PartyRoles.CUSTOMS, identifiersHash, true);
        emit AuthorityRegistered(authority, country, identifiersHash);
    }

    /**
     * @notice Registers `party` in the caller's country with `roles`.
     * @dev Requirements: caller is an active authority; `party` is new and non-zero;
     * `roles` is non-zero and holds only defined roles; `identifiersHash` is non-zero.
     * Emits {PartyRegistered}.
     */
    function registerParty(address party, uint64 roles, bytes32 identifiersHash) external {
        bytes2 country = _parties[_msgSender()].country;
        _requireAuthorityOf(country);
        _register(party, country, roles, identifiersHash, false);
    }

    /**
     * @notice Replaces the roles of `party`.
     * @dev Requirements: caller may manage `party` (see {suspendParty}); `party` is not
     * revoked; `roles` is non-zero and holds only defined roles. Emits {PartyRolesChanged}.
     */
    function setRoles(address party, uint64 roles) external {
        _requireManagerOf(party);
        _requireValidRoles(roles);
        (uint64 previousRoles, Status status) = stateOf(party);
        if (status == Status.Revoked) revert RegistryInvalidStatusChange(party, status, status);
        _checkpoint(party, roles, status);
        emit PartyRolesChanged(party, previousRoles, roles, _msgSender());
    }

    /**
     * @notice Suspends `party`: until reinstated it cannot write to the ledger.
     * @dev Requirements: the caller is an active authority of the party's country, or the
     * admin when `party` is an authority; `party` is active. Emits {PartyStatusChanged}.
     */
    function suspendParty(address party) external {
        _changeStatus(party, Status.Active, Status.Suspended);
    }

    /**
     * @notice Reinstates a suspended `party`.
     * @dev Requirements: as {suspendParty}; `party` is suspended. Emits {PartyStatusChanged}.
     */
    function reinstateParty(address party) external {
        _changeStatus(party, Status.Suspended, Status.Active);
    }

    /**
     * @notice Revokes `party` for good; a revoked party is never reinstated.
     * @dev Requirements: as {suspendParty}; `party` is active or suspended.
     * Emits {PartyStatusChanged}.
     */
    function revokeParty(address party) external {
        (, Status status) = stateOf(party);
        if (status == Status.Suspended) {
            _changeStatus(party, Status.Suspended, Status.Revoked);
        } else {
            _changeStatus(party, Status.Active, Status.Revoked);
        }
    }

    /**
     * @notice Publishes where the caller's own ledger instance is reached, replacing the
     * endpoint it published before.
     * @dev Requirements: the caller is an active customs authority; `url` is 1 to 256 bytes;
     * `signingKey` (an Ed25519 public key) is non-zero; `encryptionKey` (an X25519 public
     * key) may be zero when the instance receives no encrypted messages; `relayer`, the
     * account that sends the instance's transactions, is non-zero.
     * Emits {EndpointPublished}.
     */
    function publishEndpoint(string calldata url, bytes32 signingKey, bytes32 encryptionKey, address relayer)
        external
    {
        address caller = _msgSender();
        Party storage p = _parties[caller];
        (, Status status) = stateOf(caller);
        if (!p.isAuthority || status != Status.Active) revert RegistryNotActiveAuthority(caller);
        uint256 length = bytes(url).length;
        if (length == 0 || length > MAX_ENDPOINT_URL_LENGTH) revert RegistryInvalidEndpointUrl(caller, length);
        if (signingKey == bytes32(0)) revert RegistryEmptySigningKey(caller);
        if (relayer == address(0)) revert RegistryZeroRelayer(caller);
        _endpoints[caller] = Endpoint({
            url: url,
            signingKey: signingKey,
            encryptionKey: encryptionKey,
            relayer: relayer,
            publishedAt: SafeCast.toUint48(block.number)
        });
        emit EndpointPublished(caller, p.country, url, signingKey, encryptionKey, relayer);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPartyRegistry
    function stateOf(address party) public view returns (uint64 roles, Status status) {
        return _unpack(_current[party]);
    }

    /// @inheritdoc IPartyRegistry
    function stateAt(address party, uint256 blockNumber) external view returns (uint64 roles, Status status) {
        if (blockNumber > block.number) revert RegistryFutureLookup(blockNumber, block.number);
        return _unpack(_history[party].upperLookupRecent(SafeCast.toUint48(blockNumber)));
    }

    /// @inheritdoc IPartyRegistry
    function partyOf(address party) external view returns (Party memory) {
        return _parties[party];
    }

    /// @inheritdoc IPartyRegistry
    function endpointOf(address authority) external view returns (Endpoint memory) {
        return _endpoints[authority];
    }

    // ---------------------------------------------------------------- internals

    function _register(address party, bytes2 country, uint64 roles, bytes32 identifiersHash, bool isAuthority)
        private
    {
        if (party == address(0)) revert RegistryZeroAddress();
        if (_parties[party].registeredAt != 0) revert RegistryPartyAlreadyRegistered(party);
        if (identifiersHash == bytes32(0)) revert RegistryEmptyIdentifiers(party);
        _requireValidRoles(roles);
        _parties[party] = Party({
            country: country,
            isAuthority: isAuthority,
            registeredAt: SafeCast.toUint48(block.number),
            identifiersHash: identifiersHash
        });
        _checkpoint(party, roles, Status.Active);
        emit PartyRegistered(party, country, roles, identifiersHash, _msgSender());
    }

    function _changeStatus(address party, Status from, Status to) private {
        _requireManagerOf(party);
        (uint64 roles, Status status) = stateOf(party);
        if (status != from) revert RegistryInvalidStatusChange(party, status, to);
        _checkpoint(party, roles, to);
        emit PartyStatusChanged(party, status, to, _msgSender());
    }

    function _checkpoint(address party, uint64 roles, Status status) private {
        uint208 packed = uint208(roles) | (uint208(uint8(status)) << _STATUS_SHIFT);
        // The previous and new values that push returns are not needed: events carry them.
        // slither-disable-next-line unused-return
        _history[party].push(SafeCast.toUint48(block.number), packed);
        _current[party] = packed;
    }

    function _unpack(uint208 packed) private pure returns (uint64 roles, Status status) {
        roles = uint64(packed);
        status = Status(uint8(packed >> _STATUS_SHIFT));
    }

    /// Authorities are the admin's to manage; other parties their own country's authority's.
    function _requireManagerOf(address party) private view {
        Party storage p = _parties[party];
        if (p.registeredAt == 0) revert RegistryUnknownParty(party);
        if (p.isAuthority) {
            _checkRole(DEFAULT_ADMIN_ROLE);
        } else {
            _requireAuthorityOf(p.country);
        }
    }

    function _requireAuthorityOf(bytes2 country) private view {
        address caller = _msgSender();
        Party storage p = _parties[caller];
        (, Status status) = stateOf(caller);
        if (!p.isAuthority || p.country != country || status != Status.Active || country == bytes2(0)) {
            revert RegistryNotAuthorityOf(caller, country);
        }
    }

    function _requireValidRoles(uint64 roles) private pure {
        if (roles == 0 || roles & ~PartyRoles.ALL != 0) revert RegistryInvalidRoles(roles);
    }

    // ---------------------------------------------------------------- ERC-2771 plumbing

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
