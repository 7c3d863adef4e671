"""The simulated organisation: teams and people, with the identities each source knows them by."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

TEAMS = (
    # (name, department, cost centre)
    ("Platform Engineering", "engineering", "CC-1010"),
    ("Data Science", "engineering", "CC-1020"),
    ("Security Operations", "security", "CC-2010"),
    ("Finance", "finance", "CC-3010"),
    ("Legal", "legal", "CC-3020"),
    ("Sales", "go-to-market", "CC-4010"),
    ("Customer Support", "go-to-market", "CC-4020"),
    ("Design", "product", "CC-5010"),
)

# (IANA zone, share of people); working hours are simulated in local time.
TIME_ZONES = (
    ("America/Los_Angeles", 0.25),
    ("America/New_York", 0.25),
    ("Europe/London", 0.15),
    ("Europe/Berlin", 0.15),
    ("Asia/Kolkata", 0.1),
    ("Asia/Tokyo", 0.05),
    ("Australia/Sydney", 0.05),
)

FIRST_NAMES = (
    "Alice", "Bruno", "Chen", "Dana", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas",
    "Kavya", "Liam", "Mei", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara", "Bastian", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Schmidt", "Tanaka", "Rossi", "Nguyen", "Garcia", "Kowalski", "Haddad", "Silva",
    "Andersen", "Patel", "Murphy", "Yilmaz", "Novak", "Dubois", "Kim", "Laine", "Moreau",
)  # fmt: skip

# Preferred models per kind of person, with weights. Ids are what clients send on the
# wire: plain aliases, dated ids and the `[1m]` long-context suffix all occur.
MODEL_MIXES = {
    # Sonnet 5.5 has a dated price change (see the seed), so the warehouse's versioned price
    # join is exercised whenever a generated period spans it.
    "default": (
        ("claude-sonnet-5", 0.4),
        ("claude-sonnet-5-5", 0.15),
        ("claude-haiku-4-5-20251001", 0.2),
        ("claude-opus-5", 0.15),
        ("claude-sonnet-4-6", 0.1),
    ),
    "power": (
        ("claude-opus-5", 0.45),
        ("claude-opus-4-6[1m]", 0.15),
        ("claude-sonnet-5", 0.2),
        ("claude-sonnet-5-5", 0.1),
        ("claude-haiku-4-5-20251001", 0.1),
    ),
}

# Organisations at least this large get one person for each planted quirk (see
# `plant_quirks`), so that tests of identity resolution and team history always see them.
QUIRK_MIN_PEOPLE = 12
# Periods at least this long get a planted cost spike (see `plant_cost_spike`): shorter ones
# leave the warehouse too few earlier days for a baseline to flag it against (the
# `cost_anomaly_min_history_days` var of dbt_project.yml, 7 by default).
COST_SPIKE_MIN_DAYS = 14
# The spike's model: a legacy one, three times Opus 5's price, so the driver is unmistakable.
COST_SPIKE_MODEL = "claude-opus-4-1"

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Team:
    """A team: a Compliance API group and, for some people, an OTEL_RESOURCE_ATTRIBUTES tag."""

    team_id: str
    group_id: str
    name: str
    department: str
    cost_center: str


@dataclass
class Person:
    """One member of the organisation, as both sources see them."""

    account_id: str  # `user_…`, Compliance users[].id and OTel user.account_id
    account_uuid: str
    device_id: str  # OTel user.id: an anonymous installation id
    email: str
    full_name: str
    role: str
    team: Team
    time_zone: str
    service_name: str  # "cowork" or "claude-code"
    tags_resource: bool  # whether OTEL_RESOURCE_ATTRIBUTES carries team tags
    activity: float  # expected sessions per working day
    model_mix: str
    os_type: str
    os_version: str
    host_arch: str
    joined_at_days_ago: int
    login: str = ""  # OS login name: the `process.owner` resource attribute
    # Quirks planted in a few people (see `plant_quirks`):
    omits_email: bool = False  # the client leaves `user.email` out on some sessions
    third_party: bool = False  # a 3P deployment: no account attributes, `enduser.id` instead
    moves_to: Team | None = None  # the team joined on `moves_on` (a reorganisation)
    moves_on: date | None = None  # first UTC day in `moves_to`
    # A planted cost spike (see `plant_cost_spike`): the UTC day of one very expensive session.
    cost_spike_on: date | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def team_on(self, day: date) -> Team:
        """The team the person belongs to on a UTC day."""
        if self.moves_to is not None and self.moves_on is not None and day >= self.moves_on:
            return self.moves_to
        return self.team

    @property
    def has_quirk(self) -> bool:
        """Whether `plant_quirks` gave the person one of its quirks."""
        return self.omits_email or self.third_party or self.moves_to is not None

    @property
    def works_every_day(self) -> bool:
        """Whether the person works every day, so that what was planted in them always shows.

        A cost spike needs an unbroken run of ordinary days before it to stand out against.
        """
        return self.has_quirk or self.cost_spike_on is not None

    @property
    def current_team(self) -> Team:
        """The team the person belongs to now (what the Compliance directory shows)."""
        return self.moves_to or self.team


@dataclass
class Organisation:
    """The whole simulated organisation."""

    organization_uuid: str
    organization_id: str  # `org_…`
    name: str
    teams: list[Team]
    people: list[Person]


def tagged_id(rng: random.Random, prefix: str, length: int = 24) -> str:
    """An Anthropic-style tagged id such as `user_01XyDMpzjS89pFZXqSFUBDr6`."""
    return prefix + "01" + "".join(rng.choice(ALPHABET) for _ in range(length - 2))


def seeded_uuid(rng: random.Random) -> str:
    """A UUID4 drawn from the seeded generator, so runs are reproducible."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_organisation(
    rng: random.Random, n_users: int, claude_code_share: float = 0.2
) -> Organisation:
    """Draw an organisation of `n_users` people spread over teams and time zones.

    Args:
        rng: the seeded random generator; the same seed gives the same organisation.
        n_users: number of people.
        claude_code_share: share of people who use Claude Code rather than Cowork.

    Returns:
        The organisation, with one or two heavy users among its people.
    """
    teams = [
        Team(
            team_id=name.lower().replace(" ", "-"),
            group_id=tagged_id(rng, "rbac_group_"),
            name=name,
            department=department,
            cost_center=cost_center,
        )
        for name, department, cost_center in TEAMS
    ]
    zones, zone_weights = zip(*TIME_ZONES, strict=True)
    heavy = set(rng.sample(range(n_users), k=min(n_users, 1 if n_users < 20 else 2)))
    used_emails: set[str] = set()
    used_logins: set[str] = set()
    people = []
    for index in range(n_users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}".lower() + "@example.com"
        suffix = 2
        while email in used_emails:
            email = f"{first}.{last}{suffix}".lower() + "@example.com"
            suffix += 1
        used_emails.add(email)
        login = _unique_login(first, used_logins)
        is_claude_code = rng.random() < claude_code_share
        mac = rng.random() < 0.7
        people.append(
            Person(
                account_id=tagged_id(rng, "user_"),
                account_uuid=seeded_uuid(rng),
                device_id=f"{rng.getrandbits(256):064x}",
                email=email,
                full_name=f"{first} {last}",
                role="admin" if index == 0 else rng.choice(("user", "user", "user", "developer")),
                team=rng.choice(teams),
                time_zone=rng.choices(zones, weights=zone_weights)[0],
                service_name="claude-code" if is_claude_code else "cowork",
                tags_resource=rng.random() < 0.4,
                activity=(9.0 if index in heavy else rng.uniform(0.6, 3.0)),
                model_mix="power" if index in heavy or rng.random() < 0.15 else "default",
                os_type="darwin" if mac else rng.choice(("windows", "linux")),
                os_version=rng.choice(("25.1.0", "24.6.0")) if mac else "10.0.26100",
                host_arch="arm64" if mac else "x64",
                joined_at_days_ago=rng.randint(40, 900),
                login=login,
            )
        )
    return Organisation(
        organization_uuid=seeded_uuid(rng),
        organization_id=tagged_id(rng, "org_"),
        name="Example Corp",
        teams=teams,
        people=people,
    )


def _unique_login(first: str, used: set[str]) -> str:
    """An OS login name: the first name in lower case, numbered when already taken."""
    login, suffix = first.lower(), 2
    while login in used:
        login, suffix = f"{first.lower()}{suffix}", suffix + 1
    used.add(login)
    return login


def plant_quirks(
    organisation: Organisation, rng: random.Random, start_date: date, days: int
) -> None:
    """Give a few people the identity and team quirks real deployments show.

    In an organisation of at least `QUIRK_MIN_PEOPLE` people, each quirk goes to a
    different person (never the admin):

    - a Claude Code user whose client omits `user.email` on some sessions (when the
      organisation has Claude Code users);
    - a third-party (cloud provider) deployment, Cowork preferably: no account attributes
      on the events, only `enduser.id` (the e-mail) and `process.owner` on the resource;
    - a reorganisation: a person with team tags moves to another team on the middle day of
      the period (when it lasts two days or more).

    Args:
        organisation: the organisation, changed in place.
        rng: a seeded generator used for these choices only.
        start_date: first simulated local day.
        days: number of simulated days.
    """
    people = organisation.people
    if len(people) < QUIRK_MIN_PEOPLE:
        return
    candidates = list(range(1, len(people)))
    rng.shuffle(candidates)

    def take(preferred: list[int]) -> Person:
        index = (preferred or candidates)[0]
        candidates.remove(index)
        return people[index]

    claude_code = [i for i in candidates if people[i].service_name == "claude-code"]
    if claude_code:
        take(claude_code).omits_email = True
    take([i for i in candidates if people[i].service_name == "cowork"]).third_party = True
    if days >= 2:
        mover = take([i for i in candidates if people[i].tags_resource])
        # Only tagged clients carry the team on the wire; the directory alone has no history.
        mover.tags_resource = True
        mover.moves_to = rng.choice([team for team in organisation.teams if team != mover.team])
        mover.moves_on = start_date + timedelta(days=days // 2)


def plant_cost_spike(
    organisation: Organisation, rng: random.Random, start_date: date, days: int
) -> Person | None:
    """Give one ordinary person a day of many times their usual spend (a cost anomaly).

    In a period of at least `COST_SPIKE_MIN_DAYS` days, one person without another quirk
    (never the admin, never a heavy user: their own baseline is what the spike is measured
    against) runs one long session on `COST_SPIKE_MODEL` at 12:00 UTC of the period's
    second-to-last day, which is that same local day in every simulated time zone.

    Args:
        organisation: the organisation, changed in place.
        rng: a seeded generator used for this choice only.
        start_date: first simulated local day.
        days: number of simulated days.

    Returns:
        The person given the spike, or None when the period is too short or nobody fits.
    """
    if days < COST_SPIKE_MIN_DAYS:
        return None
    candidates = [
        person
        for person in organisation.people[1:]
        if not person.has_quirk and person.model_mix == "default" and person.activity <= 3.0
    ]
    if not candidates:
        return None
    person = rng.choice(candidates)
    person.cost_spike_on = start_date + timedelta(days=days - 2)
    return person
