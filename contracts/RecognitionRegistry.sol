// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {IRecognitionRegistry} from "./interfaces/IRecognitionRegistry.sol";
import {CountryCodes} from "./lib/CountryCodes.sol";
import {RecognisedControls} from "./lib/RecognisedControls.sol";

/**
 * @title RecognitionRegistry
 * @notice AEO certificates and mutual recognition arrangements (MRAs) between customs
 * administrations. An operator's certificate is written by an authority of the operator's
 * own country. An MRA is proposed by one country's authority and is in force only once an
 * authority of the partner country ratifies it, from the later of its effective date and
 * the ratification, until its termination by either side.
 *
 * An operator is recognised by its own country while its certificate is valid, and by
 * another country only under an MRA in force at that time. Times are unix seconds.
 * Writes may come through the trusted ERC-2771 forwarder, as in {PartyRegistry}.
 *
 * Nothing about a certificate is overwritten: each issue or renewal is a new certificate,
 * and each change of which certificate is in effect and of its status (issue, renewal,
 * suspension, reinstatement, revocation) is a checkpoint keyed by the block time it took
 * effect. Recognition at a past time is judged by what was in effect then, for ever after.
 */
contract RecognitionRegistry is IRecognitionRegistry, ERC2771Context {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Registry of parties and customs authorities.
    IPartyRegistry public immutable registry;

    // One issued certificate; its status lives in the operator's standing history.
    struct Issued {
        bytes32 programme;
        address issuedBy;
        uint64 validFrom;
        bytes2 country;
        uint64 validUntil;
    }

    // Standing checkpoint value layout: bits 0..31 certificate sequence (from 1), bits 32..39
    // status, bits 40..87 the time it took effect (the checkpoint's key, kept for the views).
    uint208 private constant _STATUS_SHIFT = 32;
    uint208 private constant _SINCE_SHIFT = 40;

    mapping(address operator => Issued[]) private _issued; // sequence = index + 1
    mapping(address operator => Checkpoints.Trace208) private _standing;
    Arrangement[] private _arrangements; // id = index + 1
    mapping(bytes4 pair => uint256[] mraIds) private _arrangementsByPair;

    /**
     * @param registry_ The party registry that says who is an authority of which country.
     * @param trustedForwarder The ERC-2771 forwarder that relays signed requests.
     */
    constructor(IPartyRegistry registry_, address trustedForwarder) ERC2771Context(trustedForwarder) {
        if (address(registry_) == address(0)) revert RecognitionZeroAddress();
        registry = registry_;
    }

    // ---------------------------------------------------------------- certificates

    /**
     * @notice Issues the AEO certificate of `operator` under `programme` (for example
     * "AEOF"), valid from `validFrom` until `validUntil` (exclusive), in effect from now.
     * On an active certificate this is a renewal: the new certificate replaces it from now
     * on, and the old one still answers for earlier times. After a revocation it is a new
     * certificate.
     * @dev Requirements: caller is an active authority of the operator's country; the
     * operator is registered; its certificate, if any, is not suspended (a suspension
     * ends by {reinstateCertificate} or {revokeCertificate}); `programme` is non-empty;
     * `validFrom < validUntil`. Emits {CertificateIssued}.
     */
    function issueCertificate(address operator, bytes32 programme, uint64 validFrom, uint64 validUntil) external {
        if (operator == address(0)) revert RecognitionZeroAddress();
        bytes2 country = registry.partyOf(operator).country;
        if (country == bytes2(0)) revert RecognitionUnknownOperator(operator);
        address caller = _requireAuthorityOf(country);
        if (programme == bytes32(0)) revert RecognitionEmptyProgramme();
        if (validFrom >= validUntil) revert RecognitionInvalidValidity(validFrom, validUntil);
        (, CertificateStatus status, uint64 since) = _unpack(_standing[operator].latest());
        // A status read from a checkpoint that also holds its time, compared as an enum: the
        // strict equality is meant (so below wherever a standing value is unpacked).
        // slither-disable-next-line incorrect-equality
        if (status == CertificateStatus.Suspended) revert RecognitionCertificateSuspended(operator, since);
        _issued[operator].push(
            Issued({
                programme: programme,
                issuedBy: caller,
                validFrom: validFrom,
                country: country,
                validUntil: validUntil
            })
        );
        _pushStanding(operator, SafeCast.toUint32(_issued[operator].length), CertificateStatus.Active);
        emit CertificateIssued(operator, country, programme, validFrom, validUntil, caller);
    }

    /**
     * @notice Suspends the certificate of `operator` from now on.
     * @dev Requirements: caller is an active authority of the certificate's country; the
     * certificate is active. Emits {CertificateStatusChanged}.
     */
    function suspendCertificate(address operator) external {
        _changeStatus(operator, CertificateStatus.Active, CertificateStatus.Suspended);
    }

    /**
     * @notice Reinstates a suspended certificate from now on.
     * @dev Requirements: as {suspendCertificate}; the certificate is suspended.
     * Emits {CertificateStatusChanged}.
     */
    function reinstateCertificate(address operator) external {
        _changeStatus(operator, CertificateStatus.Suspended, CertificateStatus.Active);
    }

    /**
     * @notice Revokes a certificate from now on; a new one must be issued to recognise the operator again.
     * @dev Requirements: as {suspendCertificate}; the certificate is active or suspended.
     * Emits {CertificateStatusChanged}.
     */
    function revokeCertificate(address operator) external {
        (, CertificateStatus status,) = _unpack(_standing[operator].latest());
        // An enum compared with its own value, not a balance or time: the strict equality is meant.
        // slither-disable-next-line incorrect-equality
        CertificateStatus from =
            status == CertificateStatus.Suspended ? CertificateStatus.Suspended : CertificateStatus.Active;
        _changeStatus(operator, from, CertificateStatus.Revoked);
    }

    // ---------------------------------------------------------------- arrangements

    /**
     * @notice Proposes an MRA between the caller's country and `partner`, in force from
     * `effectiveFrom` once ratified, recognising AEO status and the partner control
     * results named in `controls` (RecognisedControls bits; zero for AEO status only). The
     * partner ratifies the whole.
     * @dev Requirements: caller is an active authority; `partner` is two capital letters
     * and not the caller's country; `controls` holds only defined bits; no
     * arrangement between the two is pending or in force without a termination date. A
     * successor may be proposed while the previous arrangement serves its termination
     * notice, so that recognition can continue. Emits {ArrangementProposed}.
     * @return mraId The new arrangement's id (from 1).
     */
    function proposeArrangement(bytes2 partner, uint64 effectiveFrom, uint64 controls)
        external
        returns (uint256 mraId)
    {
        bytes2 proposer = registry.partyOf(_msgSender()).country;
        _requireAuthorityOf(proposer);
        if (!CountryCodes.isWellFormed(partner) || partner == proposer) revert RecognitionInvalidCountry(partner);
        if (controls & ~RecognisedControls.ALL != 0) revert RecognitionInvalidControls(controls);
        uint256[] storage ids = _arrangementsByPair[_pair(proposer, partner)];
        if (ids.length != 0) {
            uint256 latest = ids[ids.length - 1];
            if (_arrangements[latest - 1].terminatedAt == 0) revert RecognitionArrangementExists(latest);
        }
        _arrangements.push(
            Arrangement({
                proposer: proposer,
                partner: partner,
                effectiveFrom: effectiveFrom,
                ratifiedAt: 0,
                terminatedAt: 0,
                recognisedControls: controls
            })
        );
        mraId = _arrangements.length;
        _arrangementsByPair[_pair(proposer, partner)].push(mraId);
        emit ArrangementProposed(mraId, proposer, partner, effectiveFrom, controls);
    }

    /**
     * @notice Ratifies arrangement `mraId` on behalf of the partner country.
     * @dev Requirements: caller is an active authority of the partner country; the
     * arrangement is neither ratified nor terminated. Emits {ArrangementRatified}.
     */
    function ratifyArrangement(uint256 mraId) external {
        Arrangement storage a = _arrangement(mraId);
        address caller = _requireAuthorityOf(a.partner);
        if (a.terminatedAt != 0) revert RecognitionAlreadyTerminated(mraId, a.terminatedAt);
        if (a.ratifiedAt != 0) revert RecognitionAlreadyRatified(mraId);
        a.ratifiedAt = SafeCast.toUint64(block.timestamp);
        emit ArrangementRatified(mraId, a.partner, caller);
    }

    /**
     * @notice Terminates arrangement `mraId` with effect from `terminatedAt`, which may
     * be in the future (a notice period) but not in the past.
     * @dev Requirements: caller is an active authority of either country; the arrangement
     * is not terminated already. Emits {ArrangementTerminated}.
     */
    function terminateArrangement(uint256 mraId, uint64 terminatedAt) external {
        Arrangement storage a = _arrangement(mraId);
        bytes2 callerCountry = registry.partyOf(_msgSender()).country;
        if (callerCountry != a.proposer && callerCountry != a.partner) {
            revert RecognitionNotAuthorityOf(_msgSender(), a.partner);
        }
        _requireAuthorityOf(callerCountry);
        if (a.terminatedAt != 0) revert RecognitionAlreadyTerminated(mraId, a.terminatedAt);
        // slither-disable-next-line timestamp
        if (terminatedAt < block.timestamp) revert RecognitionRetroactiveTermination(terminatedAt, block.timestamp);
        a.terminatedAt = terminatedAt;
        emit ArrangementTerminated(mraId, callerCountry, terminatedAt);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRecognitionRegistry
    function certificateOf(address operator) external view returns (Certificate memory) {
        return _certificate(operator, _standing[operator].latest());
    }

    /// @inheritdoc IRecognitionRegistry
    function certificateAt(address operator, uint64 when) public view returns (Certificate memory) {
        Checkpoints.Trace208 storage standing = _standing[operator];
        uint48 key = when > type(uint48).max ? type(uint48).max : uint48(when);
        uint208 value = standing.upperLookupRecent(key);
        if (value == 0 && standing.length() != 0) {
            // Before the first certificate was recorded: that certificate as issued.
            value = _pack(1, CertificateStatus.Active, standing.pos(0)._key);
        }
        return _certificate(operator, value);
    }

    /// @inheritdoc IRecognitionRegistry
    function arrangementOf(uint256 mraId) external view returns (Arrangement memory) {
        return _arrangement(mraId);
    }

    /// @notice Ids of every arrangement ever proposed between `a` and `b`, oldest first.
    function arrangementsBetween(bytes2 a, bytes2 b) external view returns (uint256[] memory) {
        return _arrangementsByPair[_pair(a, b)];
    }

    /// @inheritdoc IRecognitionRegistry
    function recognisedControls(bytes2 a, bytes2 b, uint64 when) external view returns (uint64) {
        uint256[] storage ids = _arrangementsByPair[_pair(a, b)];
        for (uint256 i = ids.length; i > 0; --i) {
            Arrangement storage arrangement = _arrangements[ids[i - 1] - 1];
            if (_inForce(arrangement, when)) return arrangement.recognisedControls;
        }
        return 0;
    }

    /// @inheritdoc IRecognitionRegistry
    function isRecognised(address operator, bytes2 country, uint64 when) external view returns (bool) {
        (Recognition reason,) = recognitionOf(operator, country, when);
        return reason == Recognition.Recognised;
    }

    /// @inheritdoc IRecognitionRegistry
    function recognitionOf(address operator, bytes2 country, uint64 when)
        public
        view
        returns (Recognition reason, uint256 mraId)
    {
        Certificate memory cert = certificateAt(operator, when);
        reason = _certificateStanding(cert, when);
        // slither-disable-next-line incorrect-equality
        if (reason != Recognition.Recognised || cert.country == country) return (reason, 0);

        uint256[] storage ids = _arrangementsByPair[_pair(cert.country, country)];
        if (ids.length == 0) return (Recognition.NoArrangement, 0);
        for (uint256 i = ids.length; i > 0; --i) {
            Arrangement storage a = _arrangements[ids[i - 1] - 1];
            if (_inForce(a, when)) return (Recognition.Recognised, ids[i - 1]);
        }
        // Not in force: explain by the latest arrangement.
        mraId = ids[ids.length - 1];
        Arrangement storage latest = _arrangements[mraId - 1];
        if (latest.ratifiedAt == 0) return (Recognition.ArrangementNotRatified, mraId);
        if (latest.terminatedAt != 0 && when >= latest.terminatedAt) return (Recognition.ArrangementTerminated, mraId);
        return (Recognition.ArrangementNotYetInForce, mraId);
    }

    // ---------------------------------------------------------------- internals

    // slither-disable-start incorrect-equality

    /// `cert` is the certificate in effect at `when`, with its status then.
    function _certificateStanding(Certificate memory cert, uint64 when) private pure returns (Recognition) {
        if (cert.status == CertificateStatus.None) return Recognition.NoCertificate;
        if (when < cert.validFrom) return Recognition.CertificateNotYetValid;
        if (when >= cert.validUntil) return Recognition.CertificateExpired;
        if (cert.status == CertificateStatus.Suspended) return Recognition.CertificateSuspended;
        if (cert.status == CertificateStatus.Revoked) return Recognition.CertificateRevoked;
        return Recognition.Recognised;
    }

    function _inForce(Arrangement storage a, uint64 when) private view returns (bool) {
        if (a.ratifiedAt == 0) return false;
        uint64 from = a.effectiveFrom > a.ratifiedAt ? a.effectiveFrom : a.ratifiedAt;
        return when >= from && (a.terminatedAt == 0 || when < a.terminatedAt);
    }

    function _changeStatus(address operator, CertificateStatus from, CertificateStatus to) private {
        (uint32 sequence, CertificateStatus status,) = _unpack(_standing[operator].latest());
        if (status == CertificateStatus.None) revert RecognitionUnknownOperator(operator);
        address caller = _requireAuthorityOf(_issued[operator][sequence - 1].country);
        if (status != from) revert RecognitionInvalidStatusChange(operator, status, to);
        _pushStanding(operator, sequence, to);
        emit CertificateStatusChanged(operator, from, to, caller);
    }

    /// Records that certificate `sequence` has `status` from this block's time on. Two changes
    /// in one second keep the last: the first held for no time at all.
    function _pushStanding(address operator, uint32 sequence, CertificateStatus status) private {
        uint48 now_ = SafeCast.toUint48(block.timestamp);
        // The previous and new values that push returns are not needed: events carry them.
        // slither-disable-next-line unused-return
        _standing[operator].push(now_, _pack(sequence, status, now_));
    }

    /// The certificate a standing value names, with that value's status.
    function _certificate(address operator, uint208 value) private view returns (Certificate memory cert) {
        (uint32 sequence, CertificateStatus status, uint64 since) = _unpack(value);
        if (sequence == 0) return cert;
        Issued storage issued = _issued[operator][sequence - 1];
        cert = Certificate({
            programme: issued.programme,
            country: issued.country,
            validFrom: issued.validFrom,
            validUntil: issued.validUntil,
            status: status,
            statusSince: since,
            issuedBy: issued.issuedBy,
            sequence: sequence
        });
    }

    function _pack(uint32 sequence, CertificateStatus status, uint48 since) private pure returns (uint208) {
        return uint208(sequence) | (uint208(uint8(status)) << _STATUS_SHIFT) | (uint208(since) << _SINCE_SHIFT);
    }

    function _unpack(uint208 value) private pure returns (uint32 sequence, CertificateStatus status, uint64 since) {
        sequence = uint32(value);
        status = CertificateStatus(uint8(value >> _STATUS_SHIFT));
        since = uint64(uint48(value >> _SINCE_SHIFT));
    }

    // slither-disable-end incorrect-equality

    function _arrangement(uint256 mraId) private view returns (Arrangement storage) {
        if (mraId == 0 || mraId > _arrangements.length) revert RecognitionUnknownArrangement(mraId);
        return _arrangements[mraId - 1];
    }

    function _requireAuthorityOf(bytes2 country) private view returns (address caller) {
        caller = _msgSender();
        IPartyRegistry.Party memory p = registry.partyOf(caller);
        // Roles are not needed: being an authority is what counts here.
        // slither-disable-next-line unused-return
        (, IPartyRegistry.Status status) = registry.stateOf(caller);
        if (!p.isAuthority || p.country != country || status != IPartyRegistry.Status.Active) {
            revert RecognitionNotAuthorityOf(caller, country);
        }
    }

    /// The two countries in a fixed order, so that (A, B) and (B, A) share a key.
    function _pair(bytes2 a, bytes2 b) private pure returns (bytes4) {
        return a < b ? bytes4(bytes.concat(a, b)) : bytes4(bytes.concat(b, a));
    }
}
