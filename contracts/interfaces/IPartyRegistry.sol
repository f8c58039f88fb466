// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IPartyRegistry
 * @notice Who may write to the ledger: registered parties with roles, a country and a
 * status, each change kept as a checkpoint so that it can be asked "as of block N".
 */
interface IPartyRegistry {
    /// @notice Lifecycle of a party. `None` means never registered; `Revoked` is final.
    enum Status {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @notice What the registry knows of a party besides its roles and status.
    struct Party {
        bytes2 country;
        bool isAuthority;
        uint48 registeredAt;
        bytes32 identifiersHash;
    }

    /// @notice Where a customs authority's own ledger instance is reached, and its keys.
    /// `publishedAt` is the block of publication; zero when none was ever published.
    struct Endpoint {
        string url;
        bytes32 signingKey;
        bytes32 encryptionKey;
        address relayer;
        uint48 publishedAt;
    }

    /// @notice Emitted when the consortium admin registers a customs authority.
    event AuthorityRegistered(address indexed authority, bytes2 indexed country, bytes32 identifiersHash);
    /// @notice Emitted when an authority registers a party of its country.
    event PartyRegistered(address indexed party, bytes2 indexed country, uint64 roles, bytes32 identifiersHash, address indexed registeredBy);
    /// @notice Emitted when a party's roles change.
    event PartyRolesChanged(address indexed party, uint64 previousRoles, uint64 roles, address indexed changedBy);
    /// @notice Emitted when a party's status changes (suspended, reinstated, revoked).
    event PartyStatusChanged(address indexed party, Status previousStatus, Status status, address indexed changedBy);

    /// @notice Emitted when an authority publishes its instance's endpoint, replacing any
    /// earlier one: these events are the endpoint's history.
    event EndpointPublished(
        address indexed authority,
        bytes2 indexed country,
        string url,
        bytes32 signingKey,
        bytes32 encryptionKey,
        address relayer
    );

    /// @notice A country code that is not two capital letters.
    error RegistryInvalidCountry(bytes2 country);
    /// @notice The zero address was given for a party.
    error RegistryZeroAddress();
    /// @notice An identifiers hash of zero was given.
    error RegistryEmptyIdentifiers(address party);
    /// @notice A roles value that is zero or holds undefined bits.
    error RegistryInvalidRoles(uint64 roles);
    /// @notice The party is registered already.
    error RegistryPartyAlreadyRegistered(address party);
    /// @notice The party was never registered.
    error RegistryUnknownParty(address party);
    /// @notice `caller` may not manage parties of `country`: it is not an active authority of it.
    error RegistryNotAuthorityOf(address caller, bytes2 country);
    /// @notice The status change is not allowed from the party's current status.
    error RegistryInvalidStatusChange(address party, Status current, Status requested);
    /// @notice `caller` is not an active customs authority (registered by the admin).
    error RegistryNotActiveAuthority(address caller);
    /// @notice An endpoint URL that is empty or longer than 256 bytes.
    error RegistryInvalidEndpointUrl(address authority, uint256 length);
    /// @notice An endpoint without a signing key.
    error RegistryEmptySigningKey(address authority);
    /// @notice An endpoint without a relayer account.
    error RegistryZeroRelayer(address authority);
    /// @notice A block in the future was asked about.
    error RegistryFutureLookup(uint256 blockNumber, uint256 currentBlock);

    /// @notice Roles and status of `party` now.
    function stateOf(address party) external view returns (uint64 roles, Status status);

    /// @notice Roles and status of `party` as of the end of block `blockNumber`.
    function stateAt(address party, uint256 blockNumber) external view returns (uint64 roles, Status status);

    /// @notice Country, authority flag, registration block and identifiers hash of `party`.
    function partyOf(address party) external view returns (Party memory);

    /// @notice The endpoint `authority` published last (empty, with `publishedAt` zero, if none).
    function endpointOf(address authority) external view returns (Endpoint memory);
}
