"""The deployment an instance uses: the one its store holds (store/deployment.py).

Every instance of an authority, writers and readers, takes the contracts from the store,
so none deploys a second set and none needs a manifest file. A writer that finds the store
without a deployment decides under the store's lock: it brings its valid manifest file
into the store, or deploys (chain/deploy.py) and records what it deployed; another writer
starting at the same moment waits for that and uses it. A manifest file that disagrees
with the store's deployment is refused with both named: one of the two belongs to another
deployment, and guessing which would point the instance at the wrong contracts.

The file is still written beside a writer's data (data/deployment.json): the tools that
read it (demo, brownie scripts, the CLI's tests) keep working.
"""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import (
    ADDED_CONTRACTS,
    DeploymentConfig,
    Manifest,
    Sender,
    deploy,
    ensure_deployed,
    extend,
    manifest_problems,
)
from ledger_api.errors import DeploymentError
from ledger_api.store import deployment as stored_deployment
from ledger_api.store.db import Store

__all__ = ["disagreement", "stored_manifest", "use_or_deploy"]


def stored_manifest(store: Store) -> Manifest:
    """The store's deployment, for an instance that never deploys (a reader, the chain
    worker of a writer that started already)."""
    found = stored_deployment.stored(store)
    if found is None:
        raise DeploymentError(
            "the store holds no deployment yet: start a writer instance (LEDGER_ROLE=all) on it first, "
            "which deploys the contracts or records its manifest"
        )
    return Manifest.from_json(found.manifest)


def disagreement(mine: Manifest, theirs: Manifest) -> list[str]:
    """What differs between two manifests, named (empty when they agree)."""
    a, b = mine.as_json(), theirs.as_json()
    problems = [
        f"{key}: {a.get(key)!r} against {b.get(key)!r}"
        for key in ("chain_id", "deploy_block")
        if a.get(key) != b.get(key)
    ]
    for name in sorted(set(a["contracts"]) | set(b["contracts"])):
        here, there = a["contracts"].get(name, {}).get("address"), b["contracts"].get(name, {}).get("address")
        if here != there:
            problems.append(f"{name} at {here} against {there}")
    if not problems and a != b:
        problems.append("the manifests differ in " + ", ".join(sorted(k for k in a if a[k] != b.get(k))))
    return problems


def use_or_deploy(
    store: Store,
    w3: Web3,
    sender: Sender,
    config: DeploymentConfig,
    build_dir: Path,
    manifest_path: Path,
    instance: str,
    *,
    replace_stale: bool = False,
) -> tuple[Manifest, str]:
    """The deployment this writer uses, and how it came: "deployed" (now, by this
    instance), "recorded" (its manifest file, brought into the store) or "stored" (found in
    the store). `replace_stale`: the embedded development chain, whose state may be new
    while the store is not; a deployment the chain does not hold is then replaced."""
    with stored_deployment.recording(store) as recording:
        found = recording.current()
        if found is None:
            manifest, created = ensure_deployed(
                w3, sender, config, build_dir, manifest_path, replace_stale=replace_stale
            )
            recording.record(manifest.as_json(), instance)
            return manifest, "deployed" if created else "recorded"
        manifest = Manifest.from_json(found.manifest)
        artifacts = load_artifacts(build_dir)
        # A deployment from before a contract joined the set gets it beside its own, as a
        # manifest file does (chain/deploy.py): the ledger and its history stay.
        missing = [name for name in ADDED_CONTRACTS if name not in manifest.contracts]
        present = {name: artifact for name, artifact in artifacts.items() if name not in missing}
        problems = manifest_problems(w3, manifest, present)
        if missing and not problems and manifest.config_digest == config.digest:
            file_agreed = manifest_path.exists() and not disagreement(Manifest.load(manifest_path), manifest)
            manifest = extend(sender, manifest, artifacts, missing)
            recording.record(manifest.as_json(), instance, replace=True)
            if file_agreed:  # a file of another deployment is refused below, not overwritten
                manifest.save(manifest_path)
        if problems:
            if not replace_stale:
                raise DeploymentError(
                    f"the store's deployment (recorded by {found.deployed_by}) does not match the chain: "
                    + "; ".join(problems)
                )
            if manifest_path.exists():
                manifest_path.replace(manifest_path.with_suffix(".stale.json"))
            manifest = deploy(w3, sender, config, artifacts)
            manifest.save(manifest_path)
            recording.record(manifest.as_json(), instance, replace=True)
            return manifest, "deployed"
        if manifest.config_digest != config.digest:
            raise DeploymentError(
                f"the store's deployment (recorded by {found.deployed_by}) was made with another authorities config "
                f"(digest {manifest.config_digest}, this instance's {config.digest}): every instance of an "
                "authority starts with the same LEDGER_DEPLOYMENT_CONFIG"
            )
        if manifest_path.exists():
            differences = disagreement(Manifest.load(manifest_path), manifest)
            if differences:
                raise DeploymentError(
                    f"{manifest_path} disagrees with the deployment in the store (recorded by {found.deployed_by}): "
                    + "; ".join(differences)
                    + ". One of them belongs to another deployment: remove the file to use the store's, "
                    "or point LEDGER_DATABASE_URL at the store that file belongs to"
                )
        else:
            manifest.save(manifest_path)
        return manifest, "stored"
