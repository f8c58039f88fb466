// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IIntelligenceLedger} from "./interfaces/IIntelligenceLedger.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {IntelligenceFlags} from "./lib/IntelligenceFlags.sol";
import {PartyRoles} from "./lib/PartyRoles.sol";

/**
 * @title IntelligenceLedger
 * @notice Intelligence flags shared between the customs administrations of the consortium.
 * A customs authority, or a law-enforcement party its country's authority registered,
 * shares a flag on a party, a consignment, an HS code or a route with customs authorities
 * of other countries. The flag's content is encrypted to the recipients off chain; here go
 * its hash, the hash of its subject, its category and severity, its validity and its
 * recipients, so that who shared what kind of thing with whom, and when, can be audited by
 * the whole consortium while only the recipients can read it.
 *
 * A flag is withdrawn by its author or by an authority of the author's country; it is in
 * force from `validFrom` until `validUntil` (unix seconds) unless withdrawn before. Writes
 * may come through the trusted ERC-2771 forwarder, as in {PartyRegistry}.
 */
contract IntelligenceLedger is IIntelligenceLedger, ERC2771Context {
    /// @notice Most recipients one flag may have: the size of a consortium, with room.
    uint256 public constant MAX_RECIPIENTS = 32;

    /// @notice Registry of parties and customs authorities.
    IPartyRegistry public immutable registry;

    Flag[] private _flags; // id = index + 1

    /**
     * @param registry_ The party registry that says who is an authority or a law-enforcement
     * party, of which country.
     * @param trustedForwarder The ERC-2771 forwarder that relays signed requests.
     */
    constructor(IPartyRegistry registry_, address trustedForwarder) ERC2771Context(trustedForwarder) {
        if (address(registry_) == address(0)) revert IntelligenceZeroAddress();
        registry = registry_;
    }

    // ---------------------------------------------------------------- writes

    /**
     * @notice Shares a flag whose encrypted content hashes to `contentHash`, about the
     * subject whose (salted) hash is `subjectHash`, with `recipients`.
     * @dev Requirements: the caller is an active customs authority or an active
     * law-enforcement party; both hashes are non-zero; `category` and `severity` are in
     * the fixed lists (IntelligenceFlags); `validFrom < validUntil` and `validUntil` is
     * after the current block's time; 1 to MAX_RECIPIENTS recipients, each an active
     * customs authority of another country than the author's, none listed twice.
     * Emits {FlagShared}.
     * @return id The new flag's id (from 1).
     */
    function shareFlag(
        bytes32 contentHash,
        bytes32 subjectHash,
        uint8 category,
        uint8 severity,
        uint64 validFrom,
        uint64 validUntil,
        address[] calldata recipients
    ) external returns (uint256 id) {
        address author = _msgSender();
        bytes2 country = _authorCountry(author);
        if (contentHash == bytes32(0)) revert IntelligenceEmptyContentHash();
        if (subjectHash == bytes32(0)) revert IntelligenceEmptySubjectHash();
        if (category > IntelligenceFlags.MAX_CATEGORY) revert IntelligenceInvalidCategory(category);
        if (severity > IntelligenceFlags.MAX_SEVERITY) revert IntelligenceInvalidSeverity(severity);
        if (validFrom >= validUntil) revert IntelligenceInvalidValidity(validFrom, validUntil);
        // A flag's validity is days or months long: a block time off by seconds changes nothing.
        // slither-disable-next-line timestamp
        if (validUntil <= block.timestamp) revert IntelligenceAlreadyExpired(validUntil, block.timestamp);
        _requireRecipients(recipients, country);

        _flags.push(
            Flag({
                author: author,
                authorCountry: country,
                category: category,
                severity: severity,
                sharedAt: SafeCast.toUint48(block.number),
                validFrom: validFrom,
                validUntil: validUntil,
                withdrawnAt: 0,
                contentHash: contentHash
            })
        );
        id = _flags.length;
        emit FlagShared(
            id, author, country, contentHash, subjectHash, category, severity, validFrom, validUntil, recipients
        );
    }

    /**
     * @notice Withdraws flag `id` from this block on: it is in force no longer.
     * @dev Requirements: the flag exists and is not withdrawn; the caller is its author,
     * still active, or an active customs authority of the author's country.
     * Emits {FlagWithdrawn}.
     */
    function withdrawFlag(uint256 id) external {
        Flag storage flag = _flag(id);
        if (flag.withdrawnAt != 0) revert IntelligenceAlreadyWithdrawn(id, flag.withdrawnAt);
        address caller = _msgSender();
        if (!_mayWithdraw(flag, caller)) revert IntelligenceNotWithdrawer(id, caller);
        flag.withdrawnAt = SafeCast.toUint48(block.number);
        emit FlagWithdrawn(id, caller);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IIntelligenceLedger
    function flagOf(uint256 id) external view returns (Flag memory) {
        return _flag(id);
    }

    /// @inheritdoc IIntelligenceLedger
    function statusOf(uint256 id) external view returns (FlagStatus) {
        if (id == 0 || id > _flags.length) return FlagStatus.None;
        Flag storage flag = _flags[id - 1];
        if (flag.withdrawnAt != 0) return FlagStatus.Withdrawn;
        // slither-disable-next-line timestamp
        if (block.timestamp < flag.validFrom) return FlagStatus.Pending;
        // slither-disable-next-line timestamp
        if (block.timestamp >= flag.validUntil) return FlagStatus.Expired;
        return FlagStatus.InForce;
    }

    /// @inheritdoc IIntelligenceLedger
    function flagCount() external view returns (uint256) {
        return _flags.length;
    }

    // ---------------------------------------------------------------- internals

    function _flag(uint256 id) private view returns (Flag storage) {
        if (id == 0 || id > _flags.length) revert IntelligenceUnknownFlag(id);
        return _flags[id - 1];
    }

    /// The author's country: an active authority holding CUSTOMS, or an active party holding
    /// LAW_ENFORCEMENT (registered, like every party, by its country's authority).
    function _authorCountry(address caller) private view returns (bytes2) {
        IPartyRegistry.Party memory p = registry.partyOf(caller);
        (uint64 roles, IPartyRegistry.Status status) = registry.stateOf(caller);
        bool customs = p.isAuthority && roles & PartyRoles.CUSTOMS != 0;
        bool lawEnforcement = !p.isAuthority && roles & PartyRoles.LAW_ENFORCEMENT != 0;
        if (status != IPartyRegistry.Status.Active || !(customs || lawEnforcement)) {
            revert IntelligenceNotAnAuthor(caller);
        }
        return p.country;
    }

    function _requireRecipients(address[] calldata recipients, bytes2 authorCountry) private view {
        uint256 count = recipients.length;
        if (count == 0 || count > MAX_RECIPIENTS) revert IntelligenceInvalidRecipientCount(count, MAX_RECIPIENTS);
        for (uint256 i = 0; i < count; ++i) {
            address recipient = recipients[i];
            for (uint256 j = 0; j < i; ++j) {
                if (recipients[j] == recipient) revert IntelligenceDuplicateRecipient(recipient);
            }
            (bool active, bytes2 country) = _activeAuthority(recipient);
            if (!active) revert IntelligenceInvalidRecipient(recipient);
            if (country == authorCountry) revert IntelligenceOwnCountryRecipient(recipient, country);
        }
    }

    function _mayWithdraw(Flag storage flag, address caller) private view returns (bool) {
        if (caller == flag.author) {
            // Roles are not needed: the author's standing is what counts here.
            // slither-disable-next-line unused-return
            (, IPartyRegistry.Status status) = registry.stateOf(caller);
            return status == IPartyRegistry.Status.Active;
        }
        (bool active, bytes2 country) = _activeAuthority(caller);
        return active && country == flag.authorCountry;
    }

    /// Whether `party` is an active customs authority, and its country.
    function _activeAuthority(address party) private view returns (bool active, bytes2 country) {
        IPartyRegistry.Party memory p = registry.partyOf(party);
        (uint64 roles, IPartyRegistry.Status status) = registry.stateOf(party);
        active = p.isAuthority && roles & PartyRoles.CUSTOMS != 0 && status == IPartyRegistry.Status.Active;
        country = p.country;
    }
}
