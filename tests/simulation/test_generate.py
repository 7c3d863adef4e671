import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ingestion.otel.otlp_json import encode_logs_json
from simulation.collector import COMPACT_DROPPED_ATTRIBUTES, COMPACT_RECORDS_PER_MESSAGE
from simulation.generate import generate
from tests.support.organisations import SMALL_ORG

COMPARED = (
    "prompts",
    "api_requests",
    "api_errors",
    "tool_results",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _records(otel_dir: Path):
    for path in sorted(otel_dir.glob("logs*.jsonl")):
        for line in path.read_text().splitlines():
            request = json.loads(line)
            for resource_logs in request["resourceLogs"]:
                resource = {a["key"]: a["value"] for a in resource_logs["resource"]["attributes"]}
                for scope_logs in resource_logs["scopeLogs"]:
                    for record in scope_logs["logRecords"]:
                        yield resource, scope_logs["scope"], record


def _value(value: dict):
    ((kind, inner),) = value.items()
    if kind == "arrayValue":
        return [_value(item) for item in inner.get("values", [])]
    return inner


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", rotate_megabytes=1.0, **SMALL_ORG)
    generate(tmp_path / "b", rotate_megabytes=1.0, **SMALL_ORG)
    assert first.events > 1000
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_another_seed_gives_another_organisation(tmp_path: Path) -> None:
    other = generate(tmp_path / "c", **{**SMALL_ORG, "seed": 12})
    same = generate(tmp_path / "d", **SMALL_ORG)
    assert (tmp_path / "c/compliance/users.json").read_text() != (
        tmp_path / "d/compliance/users.json"
    ).read_text()
    assert other.events != same.events


def test_end_date_defaults_to_today_utc(tmp_path: Path) -> None:
    result = generate(tmp_path, users=2, days=1)
    assert result.end_date == datetime.now(UTC).date().isoformat()


def test_ground_truth_agrees_with_the_events_written(small_org) -> None:
    """GIVEN the collector files, WHEN re-aggregated naively, THEN they equal the ground truth."""
    counted = defaultdict(lambda: defaultdict(Decimal))
    sessions = defaultdict(set)
    events = 0
    users = json.loads((Path(small_org.output_dir) / "compliance/users.json").read_text())
    account_of_email = {user["email"]: user["id"] for user in users}
    for resource, _, record in _records(Path(small_org.otel_dir)):
        events += 1
        attributes = {a["key"]: _value(a["value"]) for a in record["attributes"]}
        moment = datetime.fromtimestamp(int(record["timeUnixNano"]) / 1e9, tz=UTC)
        # A third-party deployment is known by its resource's `enduser.id` (the e-mail) only.
        account_id = (
            attributes.get("user.account_id") or account_of_email[_value(resource["enduser.id"])]
        )
        key = (account_id, moment.date().isoformat())
        sessions[key].add(attributes["session.id"])
        name = attributes["event.name"]
        counted[key]["prompts"] += name == "user_prompt"
        counted[key]["api_errors"] += name == "api_error"
        counted[key]["tool_results"] += name == "tool_result"
        if name == "api_request":
            counted[key]["api_requests"] += 1
            for kind in (
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_creation_tokens",
            ):
                counted[key][kind] += int(attributes[kind])
            # The reported double is within float noise of an exact nano-dollar amount.
            counted[key]["cost_usd"] += Decimal(repr(attributes["cost_usd"])).quantize(
                Decimal("1e-9")
            )
    assert events == small_org.events
    with (Path(small_org.output_dir) / "ground_truth/user_daily.csv").open() as handle:
        truth = {
            (row["user_account_id"], row["usage_date"]): row
            for row in csv.DictReader(handle)
            if int(row["sessions"])  # days with Compliance activity only have no events
        }
    assert truth.keys() == counted.keys()
    for key, row in truth.items():
        assert int(row["sessions"]) == len(sessions[key])
        for column in COMPARED:
            assert Decimal(row[column]) == counted[key][column], (key, column)
    total = sum(Decimal(row["cost_usd"]) for row in truth.values())
    assert str(total) == small_org.total_cost_usd


def test_lines_are_encoded_the_collector_way(small_org) -> None:
    """Each line parses as an OTLP export request and re-encodes to the same bytes."""
    live = Path(small_org.otel_dir) / "logs.jsonl"
    for line in live.read_text().splitlines()[:200]:
        request = json_format.Parse(line, ExportLogsServiceRequest())
        assert encode_logs_json(request) == line
    assert '"timeUnixNano":"' in line  # 64-bit ints as strings
    assert '"intValue":"' in line


def test_files_look_like_a_rotating_collector(small_org) -> None:
    otel_dir = Path(small_org.otel_dir)
    rotated = sorted(p.name for p in otel_dir.glob("logs-*.jsonl"))
    assert (otel_dir / "logs.jsonl").exists()
    assert len(rotated) >= 2
    assert all(len(name) == len("logs-2026-03-07T10-00-00.000.jsonl") for name in rotated)
    resources_per_line = [
        len(json.loads(line)["resourceLogs"])
        for line in (otel_dir / rotated[0]).read_text().splitlines()
    ]
    assert max(resources_per_line) > 1  # several clients' batches interleave in one line


def test_events_carry_the_real_envelope_and_type_quirks(small_org) -> None:
    seen = defaultdict(list)
    services = set()
    for resource, scope, record in _records(Path(small_org.otel_dir)):
        attributes = {a["key"]: a["value"] for a in record["attributes"]}
        name = _value(attributes["event.name"])
        assert record["body"] == {"stringValue": f"claude_code.{name}"}
        assert scope["name"] == "com.anthropic.claude_code.events"
        services.add(_value(resource["service.name"]))
        seen[name].append(attributes)
    assert services == {"cowork", "claude-code"}
    assert set(seen) == {
        "user_prompt", "assistant_response", "api_request", "api_error",
        "api_retries_exhausted", "tool_decision", "tool_result",
    }  # fmt: skip
    tool_result = seen["tool_result"][0]
    assert tool_result["success"]["stringValue"] in ("true", "false")
    assert "stringValue" in tool_result["duration_ms"]
    assert "intValue" in seen["api_request"][0]["duration_ms"]
    assert "stringValue" in seen["user_prompt"][0]["prompt_length"]
    assert "arrayValue" in tool_result["workspace.host_paths"]
    decisions = {_value(a["decision"]) for a in seen["tool_decision"]}
    assert decisions == {"accept", "reject"}
    statuses = {json.dumps(a.get("status_code")) for a in seen["api_error"]}
    assert any("stringValue" in status for status in statuses)


def test_compliance_side_is_the_same_organisation(small_org) -> None:
    compliance = Path(small_org.output_dir) / "compliance"
    users = json.loads((compliance / "users.json").read_text())
    members = json.loads((compliance / "group_members.json").read_text())
    activities = json.loads((compliance / "activities.json").read_text())
    account_ids = {
        _value(a["value"])
        for _, _, record in _records(Path(small_org.otel_dir))
        for a in record["attributes"]
        if a["key"] == "user.account_id"
    }
    assert account_ids <= {user["id"] for user in users}
    assert all(user["id"].startswith("user_") for user in users)
    assert {member["user_id"] for member in members} == {user["id"] for user in users}
    created = [activity["created_at"] for activity in activities]
    assert created == sorted(created, reverse=True)  # the feed is newest first
    assert date.fromisoformat(created[0][:10]) <= SMALL_ORG["end_date"]


def test_the_compact_shape_writes_the_same_events_in_fixed_messages_of_fewer_attributes(
    tmp_path: Path,
) -> None:
    """The landing benchmark's compact shape: 64 records per message, the attributes it
    leaves out gone from records (not from resources), every event still there once.
    """
    full = generate(tmp_path / "full", seed=3, users=6, days=2, end_date=date(2026, 3, 3))
    compact = generate(
        tmp_path / "compact",
        seed=3,
        users=6,
        days=2,
        end_date=date(2026, 3, 3),
        compact_records=True,
    )
    assert compact.events == full.events

    def records(otel_dir: Path) -> tuple[list[int], dict[str, set[str]]]:
        per_message, keys = [], {}
        for path in sorted(otel_dir.glob("logs*.jsonl")):
            for line in path.read_text().splitlines():
                request = json.loads(line)
                count = 0
                for resource_logs in request["resourceLogs"]:
                    for scope_logs in resource_logs["scopeLogs"]:
                        for record in scope_logs["logRecords"]:
                            attributes = {
                                item["key"]: item["value"] for item in record["attributes"]
                            }
                            event_id = json.dumps(
                                [
                                    attributes["session.id"],
                                    attributes["event.sequence"],
                                    record["timeUnixNano"],
                                ]
                            )
                            keys[event_id] = set(attributes)
                            count += 1
                per_message.append(count)
        return per_message, keys

    full_sizes, full_keys = records(Path(full.otel_dir))
    compact_sizes, compact_keys = records(Path(compact.otel_dir))
    assert set(compact_keys) == set(full_keys)
    assert len(compact_keys) == compact.events
    # Full messages, but for the last one of each day's flush (a batch sent on timeout).
    assert max(compact_sizes) == COMPACT_RECORDS_PER_MESSAGE
    partial_messages = len(compact_sizes) - compact_sizes.count(COMPACT_RECORDS_PER_MESSAGE)
    assert partial_messages <= 2 + 1  # one flush a day and the last one
    assert max(full_sizes) < COMPACT_RECORDS_PER_MESSAGE
    for event_id, keys in compact_keys.items():
        assert keys == full_keys[event_id] - COMPACT_DROPPED_ATTRIBUTES
    assert any(keys & COMPACT_DROPPED_ATTRIBUTES for keys in full_keys.values())
