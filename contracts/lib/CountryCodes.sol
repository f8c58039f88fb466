// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title CountryCodes
 * @notice Shape check for ISO 3166-1 alpha-2 country codes held as `bytes2` ("DE", "SG").
 * Whether a code is assigned by ISO is checked off chain, where the list lives.
 */
library CountryCodes {
    /// @notice True when both bytes are capital ASCII letters.
    function isWellFormed(bytes2 country) internal pure returns (bool) {
        return _isCapital(country[0]) && _isCapital(country[1]);
    }

    function _isCapital(bytes1 b) private pure returns (bool) {
        return b >= 0x41 && b <= 0x5A;
    }
}
