"""The service's published OpenAPI, fuzzed by schemathesis against the live service: for
every operation, examples generated from the schema (valid ones, and invalid ones), sent
with a real credential. No answer may be a 5xx, and every answer must be one the schema
declares for the operation, with the declared content type and a body of the declared
shape. Derandomized: the same examples on every run, so a failure in CI is reproducible."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.service import Service

EXAMPLES = 100  # per operation and generation mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _acting_as(address: str) -> Any:
    """Half the generated writes name the credential's party as their acting party, so that
    they pass the credential check and reach the checks behind it (payload, hash, signature);
    the other half keep what was generated, and are refused for the credential."""

    def act(case: Any, own: bool) -> Any:
        body = case.body
        if own and isinstance(body, dict):
            if isinstance(body.get("record"), dict):
                body["record"]["party"] = address
            records = body.get("records")
            for item in records if isinstance(records, list) else []:
                if isinstance(item, dict) and isinstance(item.get("record"), dict):
                    item["record"]["party"] = address
            if "authority" in body:
                body["authority"] = address
        return case

    return act


def fuzz(strategy: Any, call: Any) -> None:
    @given(generated=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected as found
        suppress_health_check=list(HealthCheck),
    )
    def run(generated: Any) -> None:
        call(generated)

    with suppress(Unsatisfiable):  # invalid requests to an operation that takes no input: there are none
        run()


def test_every_operation_answers_generated_requests_as_its_schema_says_and_never_with_a_5xx(
    service: Service,
    figure,
):
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    token = service.tokens["exporter"]
    headers = {"Authorization": f"Bearer {token}"}
    act = _acting_as(service.address("exporter"))
    failures: dict[str, list[str]] = {}
    examples: Counter[tuple[str, str]] = Counter()
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18, [op.label for op in operations]

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} ({mode.value})"
            strategy = st.tuples(operation.as_strategy(generation_mode=mode), st.booleans())

            def call(generated: tuple[Any, bool], label: str = label, mode: Any = mode) -> None:
                case = act(*generated)
                examples[case.operation.label, mode.value] += 1
                response = case.call(base_url=service.url, headers=headers, timeout=60)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as exc:  # every failure is collected, then reported together
                    failures.setdefault(label, []).append(str(exc)[:3000])

            fuzz(strategy, call)

    assert service.http.get("/healthz").status_code == 200
    found = {label: f"{len(f)} failures, first:\n{f[0]}" for label, f in failures.items()}
    assert not found, "\n\n".join(f"{label}: {text}" for label, text in found.items())
    assert not [s for s in statuses if s >= 500], statuses
    # An operation that takes no input (GET /healthz) has one request to send; every other
    # one gets EXAMPLES valid requests, and invalid ones as far as its schema allows them.
    fuzzed = [op for op in operations if any(True for _ in op.iter_parameters()) or op.body]
    valid = min(examples[op.label, GenerationMode.POSITIVE.value] for op in fuzzed)
    assert valid >= EXAMPLES, examples
    answers = ", ".join(f"{n:,} x {status}" for status, n in sorted(statuses.items()))
    figure(
        "schemathesis: generated requests to every operation of the live OpenAPI, with a credential",
        f"{len(operations)} operations ({len(fuzzed)} taking input: ≥ {valid} valid examples each, and invalid "
        f"ones); {examples.total():,} requests ({answers}); 0 server errors, 0 schema violations "
        "(status code, content type, body)",
    )
