"""The figures of a cost report: plain, frozen values, with the ratios derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from reporting.periods import Period, day_range


@dataclass(frozen=True)
class Amount:
    """A labelled cost, e.g. one team's, one model's or one product's spend."""

    label: str
    cost_usd: Decimal


@dataclass(frozen=True)
class DailyCost:
    """One UTC day's spend."""

    day: date
    cost_usd: Decimal


@dataclass(frozen=True)
class TopUser:
    """One of the people who spent the most in the period."""

    label: str  # e-mail, name or account id; the pseudonym under privacy `strict`
    user_key: str
    team_name: str  # the team of their latest day with cost in the period
    cost_usd: Decimal
    prompts: int
    active_days: int


@dataclass(frozen=True)
class TeamBudget:
    """A team's month against its budget (`fct_team_cost_monthly`)."""

    team_name: str
    month: date
    as_of_date: date
    budget_usd: Decimal | None
    spend_usd: Decimal
    forecast_usd: Decimal
    projected_breach_date: date | None
    is_over_budget: bool
    is_forecast_over_budget: bool

    @property
    def status(self) -> str:
        """`over budget`, `forecast over`, `on track` or `no budget`."""
        if self.budget_usd is None:
            return "no budget"
        if self.is_over_budget:
            return "over budget"
        if self.is_forecast_over_budget:
            return "forecast over"
        return "on track"


@dataclass(frozen=True)
class Anomaly:
    """A person's or team's day far above its own baseline (`fct_cost_anomalies`)."""

    subject_kind: str  # user | team
    label: str
    team_name: str
    day: date
    cost_usd: Decimal
    baseline_median_usd: Decimal
    excess_usd: Decimal
    robust_z_score: Decimal | None
    top_model: str | None
    top_tool: str | None
    top_session_id: str | None


@dataclass(frozen=True)
class SourceHealth:
    """How complete one telemetry source is over the period (`fct_telemetry_health`)."""

    source: str
    days: int
    events: int
    events_without_email: int
    events_without_account: int
    sequence_gap_events: int
    duplicate_deliveries: int
    late_arrivals: int
    unknown_event_names: int

    @property
    def share_without_email(self) -> float:
        """Share of events that carried no e-mail."""
        return self.events_without_email / self.events if self.events else 0.0


# Where each figure comes from, as the report labels it.
PROVENANCE = {
    "reported": "Reported: the clients' own cost_usd (OTel), an estimate",
    "recomputed": "Recomputed: the reported tokens priced by the price list",
    "billed": "Billed: what Anthropic bills",
    "claude_code_estimate": "Estimated by Claude Code Analytics at list prices, not billed",
}
BILLED_SOURCES = {
    "analytics_beta": "Usage and Cost Analytics API",
    "admin_legacy": "Admin API cost report",
}
# Why billed and reported cost differ, in the report's words (fct_cost_reconciliation_daily).
REASONS = {
    "telemetry_gap": "telemetry lost before the collector",
    "not_in_telemetry": "billed items OTel does not carry (web search...)",
    "provisional": "provisional bill, may still be restated",
    "not_billed": "reported but not billed",
    "unattributed": "beyond the bill's top 100 groups",
}


@dataclass(frozen=True)
class BilledLine:
    """Estimated and billed cost of one product and model over the period's billed days."""

    product: str  # `(all)` when the bill has no product split (legacy report)
    model: str
    reported_usd: Decimal
    recomputed_usd: Decimal
    billed_usd: Decimal
    claude_code_estimate_usd: Decimal | None
    reasons: tuple[str, ...]  # codes of REASONS

    @property
    def difference_usd(self) -> Decimal:
        """Billed minus reported."""
        return self.billed_usd - self.reported_usd


@dataclass(frozen=True)
class Billed:
    """What Anthropic bills for the period's days that a billing pull covered."""

    sources: tuple[str, ...]  # keys of BILLED_SOURCES
    billed_usd: Decimal
    reported_usd: Decimal  # reported cost of the same days
    days: int  # days with a billed figure
    unbilled_days: int  # days with reported cost and no billed figure yet
    provisional_days: int
    explained: tuple[Amount, ...]  # billed minus reported, per known reason
    lines: tuple[BilledLine, ...]

    @property
    def difference_usd(self) -> Decimal:
        """Billed minus reported, over the billed days."""
        return self.billed_usd - self.reported_usd

    @property
    def source_label(self) -> str:
        """The APIs the figure comes from, in words."""
        return " and ".join(BILLED_SOURCES.get(source, source) for source in self.sources)


@dataclass(frozen=True)
class Reconciliation:
    """Reported cost against the cost recomputed from the price seed and the bill."""

    reported_usd: Decimal
    recomputed_usd: Decimal  # priced rows only
    priced_reported_usd: Decimal  # reported cost of the rows the price seed knows
    unpriced_usd: Decimal  # reported cost of models the price seed does not know
    billed: Billed | None = None  # no billed source for the period

    @property
    def difference_usd(self) -> Decimal:
        """Reported minus recomputed cost, over the priced rows."""
        return self.priced_reported_usd - self.recomputed_usd


@dataclass(frozen=True)
class CostReport:
    """Everything the cost report shows for one period."""

    period: Period
    previous_period: Period
    generated_at: datetime
    privacy: str
    data_last_day: date | None  # latest day with cost anywhere in the marts
    total_usd: Decimal
    previous_total_usd: Decimal  # the whole previous period
    # What the period is compared with: the whole previous period, or while the period is in
    # progress its first as many days as the data covers now (like with like).
    comparison_start: date
    comparison_end: date
    comparison_usd: Decimal
    comparison_prompts: int
    comparison_active_users: int
    daily: list[DailyCost]  # every day of the period up to the data's last day
    previous_daily: list[DailyCost]  # every day of the previous period
    by_team: list[Amount]
    by_model: list[Amount]
    by_product: list[Amount]
    top_users: list[TopUser]
    prompts: int
    active_users: int
    cache_savings_usd: Decimal
    cache_read_tokens: int
    input_tokens_total: int  # uncached input + cache reads + cache writes
    reconciliation: Reconciliation
    budget_month: Period
    budgets: list[TeamBudget]
    anomalies: list[Anomaly]
    health: list[SourceHealth]
    caveats: list[str] = field(default_factory=list)

    @property
    def days_covered(self) -> int:
        """Days of the period the data reaches (the whole period once it is over)."""
        return len(self.daily)

    @property
    def is_complete(self) -> bool:
        """Whether the data reaches the period's last day."""
        return self.days_covered == self.period.days

    @property
    def comparison_label(self) -> str:
        """What the comparison covers, e.g. `October 2026`, `2026-W46` or `1-27 Oct`."""
        previous = self.previous_period
        if (self.comparison_start, self.comparison_end) == (previous.start, previous.end):
            return previous.title if previous.kind == "month" else previous.label
        return day_range(self.comparison_start, self.comparison_end)

    @property
    def change_usd(self) -> Decimal:
        """Total minus the comparison."""
        return self.total_usd - self.comparison_usd

    @property
    def change_ratio(self) -> float | None:
        """Relative change against the comparison (None when that was zero)."""
        if not self.comparison_usd:
            return None
        return float(self.change_usd / self.comparison_usd)

    @property
    def cost_per_prompt_usd(self) -> Decimal | None:
        """Spend per prompt submitted."""
        return self.total_usd / self.prompts if self.prompts else None

    @property
    def comparison_cost_per_prompt_usd(self) -> Decimal | None:
        """Spend per prompt over the comparison days."""
        if not self.comparison_prompts:
            return None
        return self.comparison_usd / self.comparison_prompts

    @property
    def cost_per_active_user_usd(self) -> Decimal | None:
        """Spend per person with any cost in the period."""
        return self.total_usd / self.active_users if self.active_users else None

    @property
    def comparison_cost_per_active_user_usd(self) -> Decimal | None:
        """Spend per active person over the comparison days."""
        if not self.comparison_active_users:
            return None
        return self.comparison_usd / self.comparison_active_users

    @property
    def cache_read_share(self) -> float:
        """Share of input tokens served from the prompt cache."""
        return self.cache_read_tokens / self.input_tokens_total if self.input_tokens_total else 0.0

    @property
    def budgets_at_risk(self) -> list[TeamBudget]:
        """Teams over budget or forecast to go over it."""
        return [b for b in self.budgets if b.status in ("over budget", "forecast over")]
