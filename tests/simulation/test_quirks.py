"""The identity and team quirks planted in every organisation of twelve people or more."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from simulation.behaviour import simulate_person_day, utc_date
from simulation.generate import GenerationResult
from simulation.organisation import QUIRK_MIN_PEOPLE, build_organisation, plant_quirks
from tests.support.collector_files import Record, log_records, metric_points

ACCOUNT_ATTRIBUTES = ("user.account_id", "user.account_uuid", "user.email", "organization.id")


def _truth(small_org: GenerationResult, name: str) -> list[dict[str, str]]:
    with (Path(small_org.output_dir) / "ground_truth" / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def _compliance(small_org: GenerationResult, name: str) -> list[dict]:
    return json.loads((Path(small_org.output_dir) / "compliance" / f"{name}.json").read_text())


def _with_quirk(small_org: GenerationResult, quirk: str) -> dict[str, str]:
    (user,) = [u for u in _truth(small_org, "users") if quirk in u["quirks"]]
    return user


@pytest.fixture(scope="module")
def records(small_org: GenerationResult) -> list[Record]:
    return list(log_records(Path(small_org.otel_dir)))


def test_a_third_party_deployment_is_known_by_its_resource_only(
    small_org: GenerationResult, records: list[Record]
) -> None:
    person = _with_quirk(small_org, "third_party")
    theirs = [r for r in records if r.resource.get("enduser.id") == person["user_email"]]
    assert len(theirs) > 50
    for record in theirs:
        assert not set(ACCOUNT_ATTRIBUTES) & record.attributes.keys()
        assert record.resource["process.owner"] == person["full_name"].split()[0].lower()
        assert "session.id" in record.attributes and "user.id" in record.attributes
    others = [r for r in records if "enduser.id" not in r.resource]
    assert len(others) + len(theirs) == len(records)
    assert all("user.account_id" in r.attributes for r in others)
    # The directory knows them by the same e-mail; their use leaves no Compliance activity.
    users = {u["email"]: u["id"] for u in _compliance(small_org, "users")}
    assert users[person["user_email"]] == person["user_account_id"]
    actors = {a["actor"]["user_id"] for a in _compliance(small_org, "activities")}
    owners = {s["user"]["id"] for s in _compliance(small_org, "sessions_local")}
    assert person["user_account_id"] not in actors | owners


def test_one_claude_code_client_leaves_out_the_email_on_some_sessions(
    small_org: GenerationResult, records: list[Record]
) -> None:
    person = _with_quirk(small_org, "omits_email")
    with_email: dict[str, set[bool]] = defaultdict(set)
    for record in records:
        if record.attributes.get("user.account_id") == person["user_account_id"]:
            assert record.resource["service.name"] == "claude-code"
            session = str(record.attributes["session.id"])
            with_email[session].add(record.attributes.get("user.email") == person["user_email"])
        elif "user.account_id" in record.attributes:
            assert "user.email" in record.attributes  # everybody else always sends it
    assert all(len(sends) == 1 for sends in with_email.values())  # per session, not per event
    assert {next(iter(sends)) for sends in with_email.values()} == {True, False}
    silent = {session for session, sends in with_email.items() if sends == {False}}
    points = [
        attributes
        for _, attributes in metric_points(Path(small_org.otel_dir))
        if attributes.get("session.id") in silent
    ]
    assert points and all("user.email" not in attributes for attributes in points)


def test_every_client_names_its_os_login(records: list[Record]) -> None:
    logins: dict[object, set[object]] = defaultdict(set)
    for record in records:
        logins[record.attributes["user.id"]].add(record.resource["process.owner"])
    assert len(logins) >= 10  # Regression: no records at all passed (one device a person)
    assert all(len(names) == 1 for names in logins.values())
    assert len({next(iter(names)) for names in logins.values()}) == len(logins)


def test_a_reorganised_person_carries_the_new_team_from_the_move_day_on(
    small_org: GenerationResult, records: list[Record]
) -> None:
    person = _with_quirk(small_org, "moved_on_")
    moved_on = date.fromisoformat(person["quirks"].split("moved_on_")[1][:10])
    groups = {g["id"]: g["name"] for g in _compliance(small_org, "groups")}
    team_ids = {name.lower().replace(" ", "-"): name for name in groups.values()}
    teams_by_side: dict[bool, set[object]] = defaultdict(set)
    for record in records:
        if record.attributes.get("user.account_id") != person["user_account_id"]:
            continue
        assert record.resource["team.id"] == record.attributes["team.id"]
        assert record.resource["department"] == record.attributes["department"]
        teams_by_side[utc_date(record.time_ns) >= moved_on].add(record.attributes["team.id"])
    (before,), (after,) = teams_by_side[False], teams_by_side[True]
    assert before != after
    assert team_ids[str(after)] == person["current_team_name"]
    # The directory shows the new team, joined at midnight UTC of the move day.
    (membership,) = [
        m
        for m in _compliance(small_org, "group_members")
        if m["user_id"] == person["user_account_id"]
    ]
    assert groups[membership["group_id"]] == person["current_team_name"]
    assert membership["created_at"] == f"{moved_on}T00:00:00Z"
    # The ground truth follows the team day by day.
    days = [
        r
        for r in _truth(small_org, "user_daily")
        if r["user_account_id"] == person["user_account_id"]
    ]
    assert {date.fromisoformat(r["usage_date"]) >= moved_on for r in days} == {False, True}
    for row in days:
        expected = after if date.fromisoformat(row["usage_date"]) >= moved_on else before
        assert row["team_name"] == team_ids[str(expected)]


def test_people_without_tags_stay_in_their_directory_team(
    small_org: GenerationResult, records: list[Record]
) -> None:
    tagged = {r.attributes.get("user.account_id") for r in records if "team.id" in r.attributes}
    groups = {g["id"]: g["name"] for g in _compliance(small_org, "groups")}
    team_of = {m["user_id"]: groups[m["group_id"]] for m in _compliance(small_org, "group_members")}
    untagged = 0
    for row in _truth(small_org, "user_daily"):
        if row["user_account_id"] not in tagged:
            untagged += 1
            assert row["team_name"] == team_of[row["user_account_id"]]
    assert untagged


@pytest.mark.parametrize("claude_code_share", [0.0, 0.5, 1.0])
def test_each_quirk_goes_to_one_person_in_an_organisation_of_twelve(
    claude_code_share: float,
) -> None:
    organisation = build_organisation(random.Random(3), QUIRK_MIN_PEOPLE, claude_code_share)
    plant_quirks(organisation, random.Random(4), date(2026, 3, 1), 4)
    people = organisation.people
    omitting = [p for p in people if p.omits_email]
    third_party = [p for p in people if p.third_party]
    movers = [p for p in people if p.moves_to is not None]
    assert len(omitting) == (claude_code_share > 0)
    assert all(p.service_name == "claude-code" for p in omitting)
    assert len(third_party) == len(movers) == 1
    assert len({id(p) for p in omitting + third_party + movers}) == len(omitting) + 2
    assert not people[0].has_quirk  # never the admin
    (mover,) = movers
    assert mover.tags_resource and mover.moves_to != mover.team
    assert mover.moves_on == date(2026, 3, 3)
    assert mover.team_on(date(2026, 3, 2)) == mover.team
    assert mover.team_on(date(2026, 3, 3)) == mover.current_team == mover.moves_to


def test_smaller_organisations_and_single_days_get_fewer_quirks() -> None:
    small = build_organisation(random.Random(3), QUIRK_MIN_PEOPLE - 1, 0.5)
    plant_quirks(small, random.Random(4), date(2026, 3, 1), 4)
    assert not any(person.has_quirk for person in small.people)
    one_day = build_organisation(random.Random(3), QUIRK_MIN_PEOPLE, 0.5)
    plant_quirks(one_day, random.Random(4), date(2026, 3, 1), 1)
    assert not any(person.moves_to for person in one_day.people)


def test_people_with_a_quirk_work_every_day() -> None:
    organisation = build_organisation(random.Random(3), QUIRK_MIN_PEOPLE, 0.5)
    plant_quirks(organisation, random.Random(4), date(2026, 3, 1), 14)
    quirky = [p for p in organisation.people if p.has_quirk]
    assert len(quirky) >= 2  # Regression: a loop over nobody passed
    for person in quirky:
        for offset in range(14):
            day = date(2026, 3, 1) + timedelta(days=offset)
            assert simulate_person_day(3, organisation.organization_uuid, person, day), day
