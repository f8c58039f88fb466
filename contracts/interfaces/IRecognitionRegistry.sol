// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRecognitionRegistry
 * @notice Events, errors and views of AEO certificates and mutual recognition arrangements.
 */
interface IRecognitionRegistry {
    /// @notice Lifecycle of an AEO certificate.
    enum CertificateStatus {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @notice Why an operator is, or is not, recognised by a country at a time.
    /// Append-only: new reasons go at the end.
    enum Recognition {
        Recognised,
        NoCertificate,
        CertificateNotYetValid,
        CertificateExpired,
        CertificateSuspended,
        CertificateRevoked,
        NoArrangement,
        ArrangementNotRatified,
        ArrangementNotYetInForce,
        ArrangementTerminated
    }

    /// @notice An operator's AEO certificate, issued by its own country's customs, with the
    /// status it had at the time asked about and the time that status took effect.
    /// `sequence` numbers the operator's certificates from 1 (each issue or renewal is a
    /// new one); zero with status None when there is none.
    struct Certificate {
        bytes32 programme;
        bytes2 country;
        uint64 validFrom;
        uint64 validUntil;
        CertificateStatus status;
        uint64 statusSince;
        address issuedBy;
        uint32 sequence;
    }

    /// @notice A mutual recognition arrangement between two customs administrations.
    /// `recognisedControls` are the partner control results it recognises besides AEO
    /// status (RecognisedControls bits; zero for AEO status only).
    struct Arrangement {
        bytes2 proposer;
        bytes2 partner;
        uint64 effectiveFrom;
        uint64 ratifiedAt;
        uint64 terminatedAt;
        uint64 recognisedControls;
    }

    /// @notice Emitted when an operator's customs issues or renews its AEO certificate.
    event CertificateIssued(address indexed operator, bytes2 indexed country, bytes32 programme, uint64 validFrom, uint64 validUntil, address indexed issuedBy);
    /// @notice Emitted when a certificate is suspended, reinstated or revoked.
    event CertificateStatusChanged(address indexed operator, CertificateStatus previousStatus, CertificateStatus status, address indexed changedBy);
    /// @notice Emitted when an authority proposes an arrangement.
    event ArrangementProposed(
        uint256 indexed mraId, bytes2 indexed proposer, bytes2 indexed partner, uint64 effectiveFrom, uint64 recognisedControls
    );
    /// @notice Emitted when the partner ratifies; the arrangement is in force from its effective date.
    event ArrangementRatified(uint256 indexed mraId, bytes2 indexed partner, address ratifiedBy);
    /// @notice Emitted when either side terminates an arrangement, effective at `terminatedAt`.
    event ArrangementTerminated(uint256 indexed mraId, bytes2 indexed terminatedByCountry, uint64 terminatedAt);

    /// @notice A country code that is not two capital letters, or the caller's own.
    error RecognitionInvalidCountry(bytes2 country);
    /// @notice The zero address was given.
    error RecognitionZeroAddress();
    /// @notice `caller` is not an active customs authority of `country`.
    error RecognitionNotAuthorityOf(address caller, bytes2 country);
    /// @notice The operator is not a registered party.
    error RecognitionUnknownOperator(address operator);
    /// @notice The programme name is empty.
    error RecognitionEmptyProgramme();
    /// @notice The validity window is empty or reversed.
    error RecognitionInvalidValidity(uint64 validFrom, uint64 validUntil);
    /// @notice A suspended certificate is reinstated ({reinstateCertificate}), not issued over.
    error RecognitionCertificateSuspended(address operator, uint64 suspendedSince);
    /// @notice A recognised-controls value with undefined bits.
    error RecognitionInvalidControls(uint64 recognisedControls);
    /// @notice The certificate's status does not allow this change.
    error RecognitionInvalidStatusChange(address operator, CertificateStatus current, CertificateStatus requested);
    /// @notice An arrangement between the two countries is pending, or in force with no termination date.
    error RecognitionArrangementExists(uint256 mraId);
    /// @notice No arrangement has this id.
    error RecognitionUnknownArrangement(uint256 mraId);
    /// @notice The arrangement was ratified already.
    error RecognitionAlreadyRatified(uint256 mraId);
    /// @notice The arrangement was terminated already.
    error RecognitionAlreadyTerminated(uint256 mraId, uint64 terminatedAt);
    /// @notice A termination may not take effect before the current block's time.
    error RecognitionRetroactiveTermination(uint64 terminatedAt, uint256 timestamp);

    /// @notice The certificate of `operator` now (status None if it has none).
    function certificateOf(address operator) external view returns (Certificate memory);

    /**
     * @notice The certificate of `operator` in effect at time `when` (unix seconds), with
     * the status it had then. A time before the operator's first certificate was recorded
     * is answered by that first certificate, as issued (so a certificate recorded late
     * still covers its earlier validity; `statusSince` is then later than `when`).
     */
    function certificateAt(address operator, uint64 when) external view returns (Certificate memory);

    /// @notice The arrangement `mraId`.
    function arrangementOf(uint256 mraId) external view returns (Arrangement memory);

    /// @notice The controls recognised between countries `a` and `b` (either order) by the
    /// arrangement in force between them at `when`; zero when none is in force.
    function recognisedControls(bytes2 a, bytes2 b, uint64 when) external view returns (uint64);

    /// @notice Whether `operator`'s AEO status is recognised by `country` at time `when`
    /// (unix seconds), judged by the certificate and status in effect at `when`.
    function isRecognised(address operator, bytes2 country, uint64 when) external view returns (bool);

    /**
     * @notice As {isRecognised}, with the reason and the arrangement that applies
     * (zero for the operator's own country or when none applies).
     */
    function recognitionOf(address operator, bytes2 country, uint64 when)
        external
        view
        returns (Recognition reason, uint256 mraId);
}
