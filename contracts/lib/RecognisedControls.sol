// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title RecognisedControls
 * @notice The results of a partner's customs controls that a mutual recognition
 * arrangement recognises besides AEO status, as bits of one `uint64`. Zero means the
 * arrangement recognises AEO status only.
 */
library RecognisedControls {
    /// @notice The partner's export inspection (a control done at export is not repeated at import).
    uint64 internal constant EXPORT_INSPECTION = 1 << 0;

    /// @notice Every control defined so far; a value with any other bit set is invalid.
    uint64 internal constant ALL = EXPORT_INSPECTION;
}
