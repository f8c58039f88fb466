// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IntelligenceFlags
 * @notice The fixed lists an intelligence flag is classed by: what kind of fraud or risk it
 * reports (its category) and how serious the author judges it (its severity). Held as
 * `uint8` so that an unknown value gets a named error instead of an ABI-decoding panic.
 * Append-only: a new value takes the next number and the MAX_ constant moves to it; no value
 * is ever renumbered (the Python domain holds the same lists, and a test compares them).
 */
library IntelligenceFlags {
    /// @notice The goods' declared origin is not their true origin.
    uint8 internal constant CATEGORY_MISDECLARED_ORIGIN = 0;
    /// @notice The goods are declared below their value.
    uint8 internal constant CATEGORY_UNDERVALUATION = 1;
    /// @notice Goods are hidden in the consignment (in its packing, its means of transport).
    uint8 internal constant CATEGORY_CONCEALMENT = 2;
    /// @notice Seals were broken, replaced or forged.
    uint8 internal constant CATEGORY_SEAL_TAMPERING = 3;
    /// @notice A party is under sanctions, or acts for one that is.
    uint8 internal constant CATEGORY_SANCTIONED_PARTY = 4;
    /// @notice The goods are not what the declaration says (description, HS code, quantity).
    uint8 internal constant CATEGORY_MISDECLARED_GOODS = 5;
    /// @notice Anything else; the flag's text says what.
    uint8 internal constant CATEGORY_OTHER = 6;
    /// @notice The highest category defined so far.
    uint8 internal constant MAX_CATEGORY = CATEGORY_OTHER;

    /// @notice Worth knowing; no action asked.
    uint8 internal constant SEVERITY_LOW = 0;
    /// @notice Worth a documentary check.
    uint8 internal constant SEVERITY_MEDIUM = 1;
    /// @notice Worth a physical inspection.
    uint8 internal constant SEVERITY_HIGH = 2;
    /// @notice The highest severity defined.
    uint8 internal constant MAX_SEVERITY = SEVERITY_HIGH;
}
