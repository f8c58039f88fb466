"""A server process freezes its heap once started (gc.freeze): its full collections then
walk only what it made since, not every object of its imports and runtime, which held a
reader worker for 100-200 ms at a time under load (docs/benchmarks.md). Tests build many
apps in one process, so the freeze is asked for by the server entry points only; it is
checked here in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ledger_api import main

_SERVE = textwrap.dedent(
    """
    import gc, sys
    from fastapi.testclient import TestClient
    from ledger_api.main import create_app
    from ledger_api.settings import Settings

    class Started:  # a runtime already started: the lifespan hands it to the app, then stops it
        store = object()
        def stop(self): pass

    app = create_app(Settings.load(), Started(), freeze_heap=sys.argv[1] == "freeze")
    assert gc.get_freeze_count() == 0  # nothing frozen before the app starts
    with TestClient(app):
        print(gc.get_freeze_count())
    """
)


def _frozen_once_started(freeze: bool, tmp_path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE, "freeze" if freeze else "no"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"LEDGER_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_a_server_app_freezes_its_heap_once_started_and_a_test_app_does_not(tmp_path):
    assert _frozen_once_started(True, tmp_path) > 10_000  # the imports and the runtime
    assert _frozen_once_started(False, tmp_path) == 0


def test_the_uvicorn_factory_asks_for_the_freeze(monkeypatch: pytest.MonkeyPatch):
    asked: dict[str, object] = {}
    monkeypatch.setattr(main, "create_app", lambda *args, **kwargs: asked.update(kwargs))
    main.app_from_env()
    assert asked == {"freeze_heap": True}
