"""The quarantine of API records: one owner-only file per page, replaced when fetched again."""

import json
import stat
from functools import partial
from pathlib import Path

from ingestion.anthropic_api.paging import Page
from ingestion.anthropic_api.quarantine import Quarantine
from ingestion.compliance_api.records import snapshot_row
from ingestion.paths import DataLayout
from ingestion.redaction import redact_keys

KEY = "sk-ant-api01-" + "S" * 80
PATH = "/v1/compliance/organizations"


def _page(data: object, token: str | None = None, number: int = 1) -> Page:
    params = {"limit": 100, **({"page": token} if token else {})}
    return Page(PATH, params, number, token, {"data": data, "next_page": None})


def _quarantine(tmp_path: Path, counts: dict) -> Quarantine:
    return Quarantine(
        DataLayout(tmp_path).compliance("quarantine"), partial(redact_keys, secrets=[KEY]), counts
    )


def _lines(quarantine: Quarantine) -> list[dict]:
    files = quarantine.root.glob("*/*.jsonl")
    lines = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    return sorted(lines, key=lambda line: (line["page"], line["index"] or 0))


def test_a_page_fetched_again_replaces_its_quarantine_file(tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    quarantine = _quarantine(tmp_path, counts)
    build = partial(snapshot_row, "organizations")
    good = {"uuid": "org_1", "name": "Acme"}
    for _ in range(2):  # a rerun after a crash fetches the same page
        assert quarantine.rows("organizations", _page([good, {"name": "x"}]), build) == [
            build(good)
        ]
    quarantine.rows("organizations", _page([{"uuid": None}], "t2", 2), build)
    files = sorted(quarantine.root.glob("organizations/*.jsonl"))
    assert len(files) == 2  # one per page, not one per fetch
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    assert counts == {"organizations": 3}  # every fetch counts what it quarantined
    lines = _lines(quarantine)
    assert [(line["page"], line["cursor"], line["index"]) for line in lines] == [
        (1, None, 1),
        (2, "t2", 0),
    ]
    assert {line["reason"] for line in lines} == {"uuid is missing", "uuid is null"}
    assert lines[0]["params"] == {"limit": 100}
    assert json.loads(lines[0]["record_json"]) == {"name": "x"}


def test_data_that_is_not_a_list_is_one_quarantined_item(tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    quarantine = _quarantine(tmp_path, counts)
    assert quarantine.rows("organizations", _page("oops"), lambda record: record) == []
    assert quarantine.rows("organizations", _page(None), lambda record: record) == []
    (line,) = _lines(quarantine)
    assert (line["index"], line["reason"]) == (None, "page data is a string, not a list")
    assert counts == {"organizations": 1}


def test_a_stored_record_never_holds_the_key(tmp_path: Path) -> None:
    quarantine = _quarantine(tmp_path, {})
    echo = {"name": f"echo {KEY}", "note": "sk-ant-admin01-other"}
    quarantine.rows("organizations", _page([echo]), partial(snapshot_row, "organizations"))
    text = next(quarantine.root.glob("*/*.jsonl")).read_text()
    assert KEY not in text and "sk-ant-admin01-other" not in text
    assert "[redacted]" in json.loads(_lines(quarantine)[0]["record_json"])["name"]
