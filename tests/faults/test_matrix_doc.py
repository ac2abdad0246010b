"""The matrix covers what it must, and ``docs/fault-matrix.md`` is exactly what its rows say."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from server_stub.scenarios import SCENARIOS
from tests.faults.matrix import GROUPS, MATRIX, ROWS
from tests.faults.sources import OPENERS, OTHER_FORMATS

ROOT = Path(__file__).resolve().parents[2]

# The extra faults issue 6 names, besides every stub scenario.
REQUIRED = {
    "connection_refused",
    "dns_failure",
    "tls_self_signed",
    "html_page_200",
    "stall_before_first_token",
    "drop_without_resume_url",
    "resume_after_several_drops",
    "resume_url_404",
    "resume_url_204",
    "never_closes_after_terminator",
    "trickle_one_byte",
}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_fault_matrix", ROOT / "scripts" / "gen_fault_matrix.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stub_scenario_and_every_named_fault_has_a_row() -> None:
    # Scenarios whose errors each format frames its own way are rows again per format.
    formats = {f"{fmt}:{name}" for fmt, names in OTHER_FORMATS.items() for name in names}
    assert all(key.partition(":")[2] in SCENARIOS for key in formats)
    assert {f"stub:{name}" for name in SCENARIOS} | REQUIRED | formats == set(MATRIX)
    assert len(ROWS) == len(MATRIX)  # no key twice
    assert set(OPENERS) == set(MATRIX)  # each row can be produced


def test_the_sections_list_every_row_once() -> None:
    listed = [key for _title, keys in GROUPS for key in keys]
    assert sorted(listed) == sorted(MATRIX)


def test_the_document_is_what_the_rows_say() -> None:
    expected = generator().render()
    current = (ROOT / "docs" / "fault-matrix.md").read_text(encoding="utf-8")
    assert current == expected, "docs/fault-matrix.md is stale: run scripts/gen_fault_matrix.py"
