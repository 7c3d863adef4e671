"""The same organisation as Anthropic's Compliance API sees it (directory, activity feed, sessions).

Written as JSON files in the API's own object shapes, for the Compliance emulator to serve.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from simulation.behaviour import Event
from simulation.organisation import Organisation, Person, tagged_id

CHAT_NAMES = ("Quarterly plan", "Contract review", "Invoice questions", "Release notes")
PROJECT_NAMES = ("Playbook", "Knowledge base", "Roadmap", "Customer research")
ROLES = (
    ("rbac_role_01PrimaryOwner0000000000", "Primary owner", "Full control of the organisation"),
    ("rbac_role_01Admin00000000000000000", "Admin", "Manages members and settings"),
    ("rbac_role_01User000000000000000000", "User", "Uses Claude"),
    ("rbac_role_01Developer0000000000000", "Developer", "Uses Claude Code and the API"),
)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _user_actor(person: Person, rng: random.Random) -> dict[str, str]:
    return {
        "type": "user_actor",
        "email_address": person.email,
        "user_id": person.account_id,
        "ip_address": f"198.51.100.{rng.randint(1, 254)}",
        "user_agent": "Claude/1.37937.3 (Macintosh)"
        if person.os_type == "darwin"
        else "Claude/1.37937.3 (Windows)",
    }


def _member_since(person: Person, generated_at: datetime) -> datetime:
    """When the person joined their current group: on joining, or at midnight UTC of a move."""
    if person.moves_to is not None and person.moves_on is not None:
        return datetime.combine(person.moves_on, datetime.min.time(), UTC)
    return generated_at - timedelta(days=person.joined_at_days_ago)


class ComplianceRecorder:
    """Collects activity-feed records and local sessions while events are generated."""

    def __init__(self, organisation: Organisation, seed: int):
        self.organisation = organisation
        self._rng = random.Random(f"{seed}:compliance")
        self._activities: list[dict] = []
        self._sessions: list[dict] = []
        self._seen_sessions: set[str] = set()
        self._logged_in: set[tuple[str, date]] = set()
        self._chats: list[dict] = []

    @property
    def activities(self) -> list[dict]:
        """The activity-feed records so far, in the order they were recorded."""
        return self._activities

    def _activity(self, person: Person, at: datetime, activity_type: str, **fields: object) -> None:
        self._activities.append(
            {
                "id": tagged_id(self._rng, "activity_"),
                "created_at": _rfc3339(at),
                "organization_id": self.organisation.organization_id,
                "organization_uuid": self.organisation.organization_uuid,
                "actor": _user_actor(person, self._rng),
                "type": activity_type,
                **fields,
            }
        )

    def _chat(self, person: Person, created: datetime) -> None:
        chat_id = tagged_id(self._rng, "claude_chat_")
        self._activity(
            person, created, "claude_chat_created", claude_chat_id=chat_id, claude_project_id=None
        )
        self._chats.append(
            {
                "id": chat_id,
                "name": self._rng.choice(CHAT_NAMES),
                "created_at": _rfc3339(created),
                "updated_at": _rfc3339(created + timedelta(minutes=self._rng.randint(1, 90))),
                "deleted_at": None,
                "href": f"https://claude.ai/chat/{chat_id}",
                "model": self._rng.choice(("claude-sonnet-5", "claude-opus-5")),
                "organization_uuid": self.organisation.organization_uuid,
                "project_id": None,
                "user": {"id": person.account_id, "email_address": person.email},
            }
        )

    def add(self, events: Iterable[Event]) -> None:
        """Record the sign-ins and sessions that a batch of events implies."""
        for event in events:
            # A third-party deployment talks to a cloud provider, not to Anthropic: its use
            # leaves no sign-ins, sessions or chats in the Compliance API (only the
            # directory knows the person).
            if event.session_id in self._seen_sessions or event.person.third_party:
                continue
            self._seen_sessions.add(event.session_id)
            person = event.person
            started = datetime.fromtimestamp(event.time_ns / 1e9, tz=UTC)
            if (person.account_id, started.date()) not in self._logged_in:
                self._logged_in.add((person.account_id, started.date()))
                self._activity(
                    person,
                    started - timedelta(minutes=self._rng.randint(1, 20)),
                    "sso_login_succeeded",
                    auth_method="sso",
                    mfa_method=None,
                )
            surface = "cowork" if person.service_name == "cowork" else "claude_code"
            session_record_id = tagged_id(self._rng, "clls_")
            self._sessions.append(
                {
                    "type": "compliance_local_session",
                    "id": session_record_id,
                    "organization_uuid": self.organisation.organization_uuid,
                    "workspace_id": None,
                    "user": {"id": person.account_id, "email_address": person.email},
                    "product_surface": surface,
                    "created_at": _rfc3339(started),
                }
            )
            if surface == "cowork":
                self._activity(
                    person,
                    started,
                    "cowork_session_updated",
                    cowork_session_id=session_record_id,
                    claude_project_id=None,
                )
            if self._rng.random() < 0.2:
                self._chat(person, started + timedelta(minutes=self._rng.randint(1, 30)))

    def write(self, directory: Path, generated_at: datetime) -> None:
        """Write the directory, activity feed (newest first) and local sessions as JSON."""
        organisation = self.organisation
        directory.mkdir(parents=True, exist_ok=True)
        rng = random.Random(f"{organisation.organization_uuid}:directory")
        users = [
            {
                "id": person.account_id,
                "full_name": person.full_name,
                "email": person.email,
                "organization_role": person.role,
                "created_at": _rfc3339(generated_at - timedelta(days=person.joined_at_days_ago)),
            }
            for person in sorted(organisation.people, key=lambda p: -p.joined_at_days_ago)
        ]
        groups = [
            {
                "id": team.group_id,
                "name": team.name,
                "description": f"{team.name} ({team.department})",
                "source_type": "scim",
                "roles": [],
                "created_at": _rfc3339(generated_at - timedelta(days=1000)),
                "updated_at": _rfc3339(generated_at - timedelta(days=rng.randint(1, 90))),
            }
            for team in organisation.teams
        ]
        members = [
            {
                "group_id": person.current_team.group_id,
                "user_id": person.account_id,
                "email": person.email,
                "created_at": _rfc3339(_member_since(person, generated_at)),
                "updated_at": _rfc3339(_member_since(person, generated_at)),
            }
            for person in organisation.people
        ]
        roles = [
            {
                "id": role_id,
                "name": name,
                "description": description,
                "created_at": _rfc3339(generated_at - timedelta(days=1000)),
                "updated_at": _rfc3339(generated_at - timedelta(days=1000)),
            }
            for role_id, name, description in ROLES
        ]
        organisations = [
            {
                "uuid": organisation.organization_uuid,
                "id": organisation.organization_id,
                "name": organisation.name,
                "created_at": _rfc3339(generated_at - timedelta(days=1000)),
            }
        ]
        projects = []
        for team in organisation.teams:
            owners = [p for p in organisation.people if p.current_team == team]
            if not owners:
                continue
            created = generated_at - timedelta(days=rng.randint(20, 400))
            projects.append(
                {
                    "id": tagged_id(rng, "claude_proj_"),
                    "name": f"{team.name} {rng.choice(PROJECT_NAMES)}",
                    "created_at": _rfc3339(created),
                    "updated_at": _rfc3339(created + timedelta(days=rng.randint(0, 19))),
                    "deleted_at": None,
                    "is_private": rng.random() < 0.3,
                    "organization_uuid": organisation.organization_uuid,
                    "user": {"id": owners[0].account_id, "email_address": owners[0].email},
                }
            )
        chats = sorted(self._chats, key=lambda c: (c["created_at"], c["id"]))  # oldest first
        activities = sorted(
            self._activities, key=lambda a: (a["created_at"], a["id"]), reverse=True
        )
        sessions = sorted(self._sessions, key=lambda s: (s["created_at"], s["id"]), reverse=True)
        for name, records in (
            ("organizations", organisations),
            ("users", users),
            ("groups", groups),
            ("group_members", members),
            ("roles", roles),
            ("activities", activities),
            ("sessions_local", sessions),
            ("chats", chats),
            ("projects", projects),
        ):
            (directory / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
