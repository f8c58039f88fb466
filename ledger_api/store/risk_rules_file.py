"""The risk rules file (config/risk-rules.yaml, or the file LEDGER_RISK_RULES names): read,
parsed as YAML and handed to the domain's `parse_rules` with the line of every place in
it, so that a file that cannot be used is refused as RiskRulesError("<path>:<line>:
<reason>") and the operator can go straight to the fault."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import yaml

from ledger_api.domain.risk import RiskRulesError, RuleSet, parse_rules

__all__ = ["load_rules", "rules_from_yaml"]


def load_rules(path: Path) -> RuleSet:
    """Reads and validates a rules file; RiskRulesError("<path>:<line>: <reason>") if it
    cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RiskRulesError(f"{path}: cannot read the risk rules file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RiskRulesError(f"{path}:{line}: not UTF-8 text") from exc
    return rules_from_yaml(text, source=str(path))


def rules_from_yaml(text: str, source: str = "<rules>") -> RuleSet:
    """Validates rules given as YAML text; `source` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        raise RiskRulesError(f"{source}:{line}: YAML syntax error: {reason}") from exc
    except yaml.YAMLError as exc:
        raise RiskRulesError(f"{source}:1: not valid YAML: {exc}") from exc
    if root is None:
        raise RiskRulesError(f"{source}:1: the file is empty; expected `lanes:`, `lists:` and `rules:`")
    duplicate = _first_duplicate_key(root)
    if duplicate is not None:
        key, line = duplicate
        raise RiskRulesError(f"{source}:{line}: key {key!r} appears twice in the same mapping")
    return parse_rules(data, source=source, line_of=partial(_line_of, root))


def _line_of(node: yaml.Node, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest part of `loc` present in the file: the key's line for
    a mapping entry, the item's line for a list item. A part that is not in the file (a
    missing field, the union's tag) leaves the line at its parent."""
    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


def _first_duplicate_key(node: yaml.Node) -> tuple[str, int] | None:
    # PyYAML keeps the last of two equal keys without a word: a rule whose `points` is
    # written twice would silently score the second.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key.value, key.start_mark.line + 1
                seen.add(key.value)
            found = _first_duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _first_duplicate_key(item)
            if found is not None:
                return found
    return None
