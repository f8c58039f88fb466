// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IIntelligenceLedger
 * @notice Events, errors and views of intelligence flags shared between customs
 * administrations and law enforcement. A flag's content is encrypted off chain to its
 * recipients; the chain holds what makes the sharing auditable: the content's hash, the
 * subject's hash, the author, the class of the flag, its validity and its recipients.
 */
interface IIntelligenceLedger {
    /// @notice Where a flag stands now. `None`: no such flag; `Pending`: shared, not valid
    /// yet; `InForce`: within its validity and not withdrawn; `Expired`: past its validity;
    /// `Withdrawn`: withdrawn by its author or its author's country authority (final).
    enum FlagStatus {
        None,
        Pending,
        InForce,
        Expired,
        Withdrawn
    }

    /**
     * @notice A shared flag as the contract keeps it. `sharedAt` and `withdrawnAt` are block
     * numbers (`withdrawnAt` zero while not withdrawn); `validFrom` and `validUntil`
     * (exclusive) are unix seconds. The subject's hash and the recipients are in the
     * {FlagShared} event only: no rule of the contract reads them.
     */
    struct Flag {
        address author;
        bytes2 authorCountry;
        uint8 category;
        uint8 severity;
        uint48 sharedAt;
        uint64 validFrom;
        uint64 validUntil;
        uint48 withdrawnAt;
        bytes32 contentHash;
    }

    /// @notice Emitted when `author` shares flag `id` with `recipients`.
    event FlagShared(
        uint256 indexed id,
        address indexed author,
        bytes2 authorCountry,
        bytes32 contentHash,
        bytes32 subjectHash,
        uint8 category,
        uint8 severity,
        uint64 validFrom,
        uint64 validUntil,
        address[] recipients
    );
    /// @notice Emitted when flag `id` is withdrawn, by its author or its author's country authority.
    event FlagWithdrawn(uint256 indexed id, address indexed by);

    /// @notice The zero address was given for the registry.
    error IntelligenceZeroAddress();
    /// @notice `caller` may not share flags: it is neither an active customs authority nor
    /// an active law-enforcement party.
    error IntelligenceNotAnAuthor(address caller);
    /// @notice A flag without a content hash.
    error IntelligenceEmptyContentHash();
    /// @notice A flag without a subject hash.
    error IntelligenceEmptySubjectHash();
    /// @notice A category outside the fixed list (IntelligenceFlags).
    error IntelligenceInvalidCategory(uint8 category);
    /// @notice A severity outside the fixed list (IntelligenceFlags).
    error IntelligenceInvalidSeverity(uint8 severity);
    /// @notice The validity window is empty or reversed.
    error IntelligenceInvalidValidity(uint64 validFrom, uint64 validUntil);
    /// @notice The validity ends before the current block's time: the flag would never be in force.
    error IntelligenceAlreadyExpired(uint64 validUntil, uint256 timestamp);
    /// @notice No recipients, or more than MAX_RECIPIENTS.
    error IntelligenceInvalidRecipientCount(uint256 count, uint256 maximum);
    /// @notice `recipient` is not an active customs authority.
    error IntelligenceInvalidRecipient(address recipient);
    /// @notice `recipient` is an authority of the author's own country: flags are shared
    /// with other countries' authorities.
    error IntelligenceOwnCountryRecipient(address recipient, bytes2 country);
    /// @notice `recipient` is listed twice.
    error IntelligenceDuplicateRecipient(address recipient);
    /// @notice No flag has this id.
    error IntelligenceUnknownFlag(uint256 id);
    /// @notice The flag was withdrawn already, at block `withdrawnAt`.
    error IntelligenceAlreadyWithdrawn(uint256 id, uint48 withdrawnAt);
    /// @notice `caller` may not withdraw flag `id`: it is neither its active author nor an
    /// active authority of the author's country.
    error IntelligenceNotWithdrawer(uint256 id, address caller);

    /// @notice The flag `id` (reverts for an unknown id).
    function flagOf(uint256 id) external view returns (Flag memory);

    /// @notice Where flag `id` stands at the current block.
    function statusOf(uint256 id) external view returns (FlagStatus);

    /// @notice How many flags were ever shared; ids run from 1 to this.
    function flagCount() external view returns (uint256);
}
