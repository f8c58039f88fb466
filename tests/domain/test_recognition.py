"""The names of recognition answers are the contract's own, read from its source."""

from __future__ import annotations

import re

from ledger_api.domain.recognition import REASONS
from ledger_api.settings import PROJECT_ROOT


def test_reasons_are_irecognitionregistry_recognition_in_its_order():
    source = (PROJECT_ROOT / "contracts" / "interfaces" / "IRecognitionRegistry.sol").read_text()
    body = re.search(r"enum Recognition \{([^}]*)\}", source)
    assert body is not None
    names = [n.strip() for n in body.group(1).split(",") if n.strip()]
    assert list(REASONS) == [re.sub(r"(?<!^)(?=[A-Z])", "_", n).upper() for n in names]
