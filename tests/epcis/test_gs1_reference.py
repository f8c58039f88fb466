"""Where GS1's reference files are not, the tests that read them say so: in a user's
clone they are skipped with the reason, in CI they fail. support.epcis.gs1_reference
decides it for every such test (through the `gs1` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.epcis import gs1_reference


def test_a_folder_that_is_there_is_used_in_a_clone_and_in_ci(tmp_path: Path):
    assert gs1_reference({"GS1_EPCIS_DIR": str(tmp_path)}) == tmp_path
    assert gs1_reference({"GS1_EPCIS_DIR": str(tmp_path), "CI": "true"}) == tmp_path


def test_in_a_users_clone_an_absent_folder_skips_the_test_naming_the_folder_and_where_to_get_it(tmp_path: Path):
    absent = tmp_path / "epcis"
    for environ in ({"GS1_EPCIS_DIR": str(absent)}, {"GS1_EPCIS_DIR": str(absent), "CI": "false"}):
        with pytest.raises(pytest.skip.Exception) as skipped:
            gs1_reference(environ)
        assert str(absent) in str(skipped.value) and "../shared/epcis" in str(skipped.value)


def test_in_ci_an_absent_folder_fails_the_test(tmp_path: Path):
    absent = tmp_path / "epcis"
    for ci in ("true", "TRUE", "1"):
        with pytest.raises(pytest.fail.Exception) as failed:
            gs1_reference({"GS1_EPCIS_DIR": str(absent), "CI": ci})
        assert str(absent) in str(failed.value) and f"CI={ci}" in str(failed.value)


def test_without_gs1_epcis_dir_the_shared_folder_is_the_one_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr("support.epcis.GS1_SHARED", tmp_path / "shared" / "epcis")
    with pytest.raises(pytest.fail.Exception) as failed:
        gs1_reference({"CI": "true"})
    assert str(tmp_path / "shared" / "epcis") in str(failed.value)
    (tmp_path / "shared" / "epcis").mkdir(parents=True)
    assert gs1_reference({"CI": "true"}) == tmp_path / "shared" / "epcis"
