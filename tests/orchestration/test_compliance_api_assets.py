"""The Compliance API asset: one-line failures, quarantine counts in the metadata."""

from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.compliance_api.assets import ENTITIES, compliance_api_pull
from orchestration.defs.resources import SettingsResource
from tests.support.hostile_api import HostileServer, Reply, activity, cursor_page

ACTIVITIES = "/v1/compliance/activities"
SENTINEL = "sk-ant-api01-SENTINEL-" + "d" * 40


def _materialize(url: str, data_dir: Path) -> list:
    settings = SettingsResource(
        data_dir=str(data_dir), compliance_api_key=SENTINEL, compliance_base_url=url
    )
    with dg.build_asset_context() as context:  # closes its ephemeral instance
        return list(compliance_api_pull(context=context, settings=settings))


def test_malformed_records_are_counted_in_the_metadata(tmp_path) -> None:
    page = cursor_page([activity(1), activity(2, id=None), "not an activity"], False, None)
    with HostileServer({ACTIVITIES: lambda query, headers: page}) as server:
        results = _materialize(server.url, tmp_path)
    metadata = {result.asset_key.path[-1]: result.metadata for result in results}
    assert set(metadata) == set(ENTITIES)
    assert metadata["activities"]["records"] == 1
    assert metadata["activities"]["quarantined_records"] == 2
    assert metadata["users"]["quarantined_records"] == 0


@pytest.mark.parametrize(
    ("reply", "retried"),
    [
        pytest.param(Reply("<html>Bad gateway</html>", content_type="text/html"), True, id="html"),
        pytest.param(cursor_page([activity(1)], True, None), False, id="no cursor"),
        pytest.param(
            Reply({"error": {"message": f"bad key {SENTINEL}"}}, status=401), False, id="echo"
        ),
    ],
)
def test_a_failed_pull_is_a_one_line_failure(tmp_path, reply: Reply, retried: bool) -> None:
    # Regression: a non-JSON body escaped as a JSONDecodeError traceback, and a server
    # error echoing the key reached the Dagster event log verbatim.
    with (
        HostileServer({ACTIVITIES: lambda query, headers: reply}) as server,
        pytest.raises(dg.Failure) as caught,
    ):
        _materialize(server.url, tmp_path)
    description = caught.value.description
    assert description.startswith(f"GET {ACTIVITIES} failed: ")
    assert "\n" not in description and "SENTINEL" not in description
    assert caught.value.__cause__ is None
    # A listing that would not end or a refused key fails the same way again: the step's
    # retry policy must not spend the shared request budget on it.
    assert caught.value.allow_retries is retried
