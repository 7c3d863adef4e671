"""Flags DuckDB-only SQL in the dbt models and tests, so that the same project runs on Spark.

The warehouse builds on DuckDB and scales out on Spark (dbt-spark) from the same models.
Where the engines differ, the difference lives in one dispatch macro in dbt_project/macros/
(`percentile`, `json_text`, `seconds_between`, ...); everywhere else the SQL must mean the
same thing on both. Most breakage shows at once on Spark, but some of it (NULL ordering,
backslashes in literals, hour counts) silently gives other rows, so it is caught here, from
the text, before anything runs. The macros folder is not read: engine-specific SQL belongs
there.

What is read: the SQL outside Jinja tags, with comments removed and string contents kept
only for the rules about them, plus the few Jinja calls whose arguments become SQL as they
are (`dbt.datediff`, `dbt.safe_cast`, the order argument of `deduplicate`). Other Jinja is
a macro's business. A line that must stay as it is says why in an opt-out comment on the
same line: `-- portable: <reason>`.

    .venv/bin/python tools/check_portable_sql.py                  # models and tests
    .venv/bin/python tools/check_portable_sql.py path/to/sql ...  # folders or files

Exit status 0 when every file is portable, 1 with one finding a line otherwise, 2 when
there is nothing to read.
"""

from __future__ import annotations

import argparse
import bisect
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = (REPO_ROOT / "dbt_project" / "models", REPO_ROOT / "dbt_project" / "tests")

# Rendered Jinja stands in the SQL as this character: not a word character, not whitespace
# and not an operator, so no rule matches it and `order by {{ column }}` is seen as Jinja.
JINJA_FILLER = "\x00"

# `-- portable: <reason>`, also after another directive in the same comment (`-- noqa: X
# -- portable: ...`), but not the word in a sentence ("keep this portable: ...").
OPT_OUT = re.compile(r"--\s*portable:(?P<reason>.*)$", re.IGNORECASE)

NULLS_STATED = re.compile(r"\bnulls\s+(?:first|last)\b", re.IGNORECASE)
ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
# What ends an order-by clause at its own parenthesis depth (a closing parenthesis and the
# end of the text end it too). Frame keywords only count when a frame follows, since
# `range` and `groups` are also plausible column names. The clause keywords that cannot
# follow an order by end it as well: after `{% endset %}` or a Jinja condition the next
# query's text follows, and its commas are not order items.
ORDER_BY_END = re.compile(
    r"(?:rows|range|groups)\s+(?:between|unbounded|current|\d)"
    r"|group\s+by\b"
    r"|(?:limit|offset|fetch|qualify|window|union|intersect|except"
    r"|select|from|where|having|with)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    """Character offsets [start, end) in a file's text."""

    start: int
    end: int


@dataclass(frozen=True)
class ScannedSql:
    """A model or test file split into what each rule reads, offsets kept as in the file.

    `code` is the SQL with comments blanked, string and quoted-identifier contents blanked
    (the quotes stay) and Jinja tags filled with JINJA_FILLER; `code_with_strings` keeps
    the string contents, for rules about string arguments such as `date_part('epoch', x)`.
    """

    text: str
    code: str
    code_with_strings: str
    jinja_tags: tuple[Span, ...]  # `{{ }}` and `{% %}` tags outside SQL comments
    string_literals: tuple[Span, ...]  # SQL string literals, quotes included
    line_comments: tuple[Span, ...]
    line_starts: tuple[int, ...]

    def line_of(self, offset: int) -> int:
        """The 1-based line number of a character offset."""
        return bisect.bisect_right(self.line_starts, offset)


@dataclass(frozen=True)
class Hit:
    """One rule matching at one place of a file."""

    offset: int
    rule_id: str
    message: str
    suggestion: str


@dataclass(frozen=True)
class Finding:
    """A hit as reported: file, line, rule, what is wrong and the portable form."""

    path: Path
    line: int
    rule_id: str
    message: str
    suggestion: str

    def render(self) -> str:
        """`path:line: rule-id message (use <portable form>)`."""
        where = f"{display_path(self.path)}:{self.line}"
        return f"{where}: {self.rule_id} {self.message} (use {self.suggestion})"


# --- Reading a file: Jinja first (it renders before the SQL is parsed), then SQL. ---------


def blank(text: str) -> str:
    """`text` with every character but newlines replaced by a space (lines stay put)."""
    return re.sub(r"[^\n]", " ", text)


def fill_jinja(text: str) -> str:
    """`text` with every character but newlines replaced by JINJA_FILLER."""
    return re.sub(r"[^\n]", JINJA_FILLER, text)


def quoted_end(text: str, start: int, *, backslash_escapes: bool) -> int:
    """Where the string opened by the quote at `start` ends (just past its closing quote).

    SQL doubles a quote to escape it; Jinja, like Python, escapes with a backslash.
    """
    quote = text[start]
    position = start + 1
    while position < len(text):
        char = text[position]
        if backslash_escapes and char == "\\":
            position += 2
            continue
        if char == quote:
            if not backslash_escapes and text.startswith(quote * 2, position):
                position += 2
                continue
            return position + 1
        position += 1
    return len(text)


def jinja_tag_end(text: str, start: int) -> int:
    """Where the `{{ }}` or `{% %}` tag opened at `start` ends.

    Like Jinja's own lexer, a closer inside brackets does not count, so a dict argument
    (`config(meta={'a': {'b': 1}})`) does not end the tag early.
    """
    closer = "}}" if text[start + 1] == "{" else "%}"
    depth = 0
    position = start + 2
    while position < len(text):
        char = text[position]
        if char in "'\"":
            position = quoted_end(text, position, backslash_escapes=True)
            continue
        if depth == 0 and text.startswith(closer, position):
            return position + 2
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        position += 1
    return len(text)


def jinja_spans(text: str) -> tuple[list[Span], list[Span]]:
    """The Jinja comments and the Jinja tags of a template, in order."""
    comments: list[Span] = []
    tags: list[Span] = []
    position = text.find("{")
    while 0 <= position < len(text) - 1:
        opener = text[position + 1]
        if opener == "#":
            closing = text.find("#}", position + 2)
            end = len(text) if closing < 0 else closing + 2
            comments.append(Span(position, end))
        elif opener in "{%":
            end = jinja_tag_end(text, position)
            tags.append(Span(position, end))
        else:
            end = position + 1
        position = text.find("{", end)
    return comments, tags


def sql_spans(sql: str) -> tuple[list[Span], list[Span], list[Span], list[Span]]:
    """Line comments, block comments, string literals and quoted identifiers of SQL."""
    line_comments: list[Span] = []
    block_comments: list[Span] = []
    strings: list[Span] = []
    identifiers: list[Span] = []
    position = 0
    while position < len(sql):
        char = sql[position]
        if sql.startswith("--", position):
            newline = sql.find("\n", position)
            end = len(sql) if newline < 0 else newline
            line_comments.append(Span(position, end))
        elif sql.startswith("/*", position):
            closing = sql.find("*/", position + 2)
            end = len(sql) if closing < 0 else closing + 2
            block_comments.append(Span(position, end))
        elif char in "'\"":
            end = quoted_end(sql, position, backslash_escapes=False)
            (strings if char == "'" else identifiers).append(Span(position, end))
        else:
            position += 1
            continue
        position = end
    return line_comments, block_comments, strings, identifiers


def replace_spans(text: str, spans: Iterable[Span], replace: Callable[[str], str]) -> str:
    """`text` with each span's text passed through `replace` (which keeps its length)."""
    pieces = []
    position = 0
    for span in sorted(spans, key=lambda span: span.start):
        pieces.append(text[position : span.start])
        pieces.append(replace(text[span.start : span.end]))
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def blank_inside_quotes(quoted: str) -> str:
    """A quoted string or identifier with its contents blanked and its quotes kept."""
    if len(quoted) < 2:
        return blank(quoted)
    return quoted[0] + blank(quoted[1:-1]) + quoted[-1]


def inside_any(offset: int, spans: Iterable[Span]) -> bool:
    """Whether `offset` lies inside one of `spans`."""
    return any(span.start <= offset < span.end for span in spans)


def scan(text: str) -> ScannedSql:
    """Split a model or test file into the views the rules read."""
    jinja_comments, tags = jinja_spans(text)
    sql = replace_spans(text, jinja_comments, blank)
    sql = replace_spans(sql, tags, fill_jinja)
    line_comments, block_comments, strings, identifiers = sql_spans(sql)
    comments = [*line_comments, *block_comments]
    code_with_strings = replace_spans(sql, comments, blank)
    code = replace_spans(code_with_strings, [*strings, *identifiers], blank_inside_quotes)
    line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
    return ScannedSql(
        text=text,
        code=code,
        code_with_strings=code_with_strings,
        # A tag inside an SQL comment renders into the comment (`-- depends_on: {{ ref() }}`).
        jinja_tags=tuple(tag for tag in tags if not inside_any(tag.start, comments)),
        string_literals=tuple(strings),
        line_comments=tuple(line_comments),
        line_starts=tuple(line_starts),
    )


# --- Rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatternRule:
    """A regular expression that flags wherever it matches in one view of the file.

    `view` is "code", "code_with_strings" or "jinja" (the text of each Jinja tag). The
    message may name the match as {what} (group `what`, else all of it) or by any other
    named group.
    """

    rule_id: str
    pattern: str
    message: str
    suggestion: str
    view: str = "code"

    def hits(self, sql: ScannedSql) -> Iterator[Hit]:
        """Every place this rule's pattern matches."""
        regex = re.compile(self.pattern, re.IGNORECASE)
        for base, text in self.texts(sql):
            for match in regex.finditer(text):
                names = {name: value or "" for name, value in match.groupdict().items()}
                # Where `what` did not take part (another alternative matched), all of it.
                what = "what" if names.get("what") else 0
                names["what"] = " ".join(match.group(what).split())
                yield Hit(
                    base + match.start(what),
                    self.rule_id,
                    self.message.format(**names),
                    self.suggestion,
                )

    def texts(self, sql: ScannedSql) -> Iterator[tuple[int, str]]:
        """The texts this rule reads, each with its offset in the file."""
        if self.view == "jinja":
            for tag in sql.jinja_tags:
                yield tag.start, sql.text[tag.start : tag.end]
        else:
            yield 0, getattr(sql, self.view)


MACRO = "a dispatch macro in dbt_project/macros/"
WEEKDAY_UNITS = r"(?:dow|isodow|dayofweek|weekday)"

PATTERN_RULES = (
    PatternRule(
        "double-colon-cast",
        r"::",
        "`::` is DuckDB/Postgres cast shorthand",
        "cast(x as type), with a type both engines know",
    ),
    PatternRule(
        "timestamp-tz-type",
        r"\btimestamp\s+with\s+time\s+zone\b|\btimestamptz\b",
        "`{what}` is DuckDB's name for an instant; Spark's is timestamp",
        "{{ timestamp_tz() }}",
    ),
    PatternRule(
        "duckdb-type",
        r"\b(?:u?hugeint|ubigint|uinteger|usmallint|utinyint)\b",
        "`{what}` is a DuckDB-only integer type",
        "bigint, or decimal(38, 0) for wider values",
    ),
    PatternRule(
        "star-modifier",
        r"(?:\bselect|\bdistinct|[,.(])\s*(?P<what>\*\s*(?:exclude|replace|rename)\b)"
        r"|\bexclude\s*\(",
        "`{what}` is DuckDB-only star syntax",
        "a list of the columns",
    ),
    PatternRule(
        "union-by-name",
        r"\bunion\s+(?:all\s+)?by\s+name\b",
        "`{what}` is DuckDB-only",
        "a union of the same columns, listed in the same order on both sides",
    ),
    PatternRule(
        "percentile-function",
        r"\b(?P<what>quantile_cont|quantile_disc|quantile|approx_quantile|reservoir_quantile"
        r"|percentile_cont|percentile_disc|median)\s*\(",
        "`{what}(` is not spelled the same on Spark (exact percentile there: percentile)",
        "{{ percentile(column, fraction) }}",
    ),
    PatternRule(
        "json-function",
        r"\b(?P<what>json_extract\w*|json_value)\s*\(",
        "`{what}(` is DuckDB's JSON function (Spark: get_json_object)",
        "{{ json_text(column, key) }}",
    ),
    PatternRule(
        # `->>` is always JSON; `->` is also a lambda, so only flagged before a key or index.
        "json-arrow",
        r"(?P<what>->>|->(?=\s*(?:'|\"|-?\d)))",
        "`{what}` is DuckDB's JSON operator",
        "{{ json_text(column, key) }}",
    ),
    PatternRule(
        "list-function",
        r"\b(?P<what>unnest|list|list_\w+|string_split\w*|str_split\w*|string_agg|array_length"
        r"|generate_series|range)\s*\(",
        "`{what}(` is a DuckDB list, string or table function that Spark lacks or reads"
        " differently",
        MACRO,
    ),
    PatternRule(
        "regex-function",
        r"\b(?P<what>regexp_\w+)\s*\(",
        "`{what}(` differs between engines (regexp_replace: DuckDB replaces the first match"
        " unless given 'g', Spark every match; Spark literals eat backslashes)",
        "{{ regex_matches(column, pattern) }} or " + MACRO,
    ),
    PatternRule(
        "integer-division",
        r"//",
        "`//` is DuckDB's integer division",
        "cast(floor(a / b) as bigint)",
    ),
    PatternRule(
        "epoch",
        r"\bextract\s*\(\s*epoch\b|\b(?P<what>epoch(?:_ms|_us|_ns)?)\s*\(",
        "`{what}` is DuckDB's epoch syntax",
        "{{ epoch_seconds(column) }} or {{ seconds_between(start, end) }}",
    ),
    PatternRule(
        "epoch",
        r"\b(?:date_part|datepart)\s*\(\s*'epoch\w*'",
        "`{what}` is DuckDB's epoch syntax",
        "{{ epoch_seconds(column) }} or {{ seconds_between(start, end) }}",
        view="code_with_strings",
    ),
    PatternRule(
        "datediff-unit",
        r"\bdatediff\s*\(\s*(['\"])(?P<unit>hour|minute|second|millisecond|microsecond)\1",
        "dbt.datediff by {unit} counts unit boundaries crossed on DuckDB but whole units"
        " elapsed on Spark",
        "{{ seconds_between(start, end) }}",
        view="jinja",
    ),
    PatternRule(
        "safe-cast",
        r"\bsafe_cast\s*\(",
        "dbt.safe_cast is a plain cast on dbt-duckdb (a bad value fails the build)",
        "try_cast(x as type)",
        view="jinja",
    ),
    PatternRule(
        "date-format",
        r"\b(?P<what>strftime|strptime)\s*\(",
        "`{what}(` takes DuckDB's format codes (Spark: date_format, to_timestamp with Java"
        " patterns)",
        MACRO,
    ),
    PatternRule(
        "hash-function",
        r"\bhash\s*\(",
        "`hash(` gives different values on each engine",
        "{{ fingerprint([column, ...]) }}",
    ),
    PatternRule(
        "ignore-nulls",
        r"\bignore\s+nulls\b",
        "`ignore nulls` is written inside the call on DuckDB, as an argument on Spark",
        "{{ first_non_null(column) }}",
    ),
    PatternRule(
        "arg-max",
        r"\b(?P<what>arg_?(?:max|min)(?:_null)?)\s*\(",
        "`{what}(` is DuckDB's name",
        "max_by(value, ordering) / min_by(value, ordering)",
    ),
    PatternRule(
        "length-function",
        r"\b(?P<what>strlen|len)\s*\(",
        "`{what}(` is DuckDB's spelling",
        "length(x)",
    ),
    PatternRule(
        "prefix-function",
        r"\b(?P<what>starts_with|ends_with|prefix|suffix)\s*\(",
        "`{what}(` is not a Spark function",
        "left(x, n) = 'prefix' / right(x, n) = 'suffix'",
    ),
    PatternRule(
        "weekday",
        rf"\b(?P<what>{WEEKDAY_UNITS}|dayofweekiso)\s*\(|\bextract\s*\(\s*{WEEKDAY_UNITS}\b",
        "`{what}`: day-of-week numbers differ (DuckDB dow: Sunday = 0; Spark dayofweek: 1)",
        "{{ weekday(column) }}, compared only with another weekday() value",
    ),
    PatternRule(
        "weekday",
        rf"\b(?:date_part|datepart)\s*\(\s*'{WEEKDAY_UNITS}'",
        "`{what}`: day-of-week numbers differ (DuckDB dow: Sunday = 0; Spark dayofweek: 1)",
        "{{ weekday(column) }}, compared only with another weekday() value",
        view="code_with_strings",
    ),
)


def call_arguments(text: str, open_paren: int) -> list[Span]:
    """The top-level arguments of the call whose `(` is at `open_paren`."""
    arguments = []
    depth = 0
    start = open_paren + 1
    position = start
    while position < len(text):
        char = text[position]
        if char in "'\"":
            position = quoted_end(text, position, backslash_escapes=True)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append(Span(start, position))
            start = position + 1
        position += 1
    if text[start:position].strip() or arguments:
        arguments.append(Span(start, position))
    return arguments


CAST_CALL = re.compile(r"\b(?:try_)?cast\s*\(", re.IGNORECASE)
STRING_TYPE_TARGET = re.compile(
    r"\bas\s+(?P<type>varchar|text)\b(?:\s*\(\s*\d+\s*\))?\s*$", re.IGNORECASE
)


def string_type_hits(sql: ScannedSql) -> Iterator[Hit]:
    """`cast(x as varchar)` and `cast(x as text)`, not a column named `text`."""
    for call in CAST_CALL.finditer(sql.code):
        arguments = call_arguments(sql.code, call.end() - 1)
        if len(arguments) != 1:
            continue
        argument = sql.code[arguments[0].start : arguments[0].end]
        target = STRING_TYPE_TARGET.search(argument)
        if target:
            yield Hit(
                arguments[0].start + target.start("type"),
                "string-type",
                f"`as {target['type']}`: Spark has no text type and needs a length for varchar",
                "cast(x as string)",
            )


DATE_DIFF_CALL = re.compile(r"\b(?P<name>date_diff|datediff)\s*\(", re.IGNORECASE)


def date_diff_hits(sql: ScannedSql) -> Iterator[Hit]:
    """SQL `date_diff(unit, a, b)`: DuckDB counts boundaries crossed, Spark whole units."""
    for call in DATE_DIFF_CALL.finditer(sql.code):
        if len(call_arguments(sql.code, call.end() - 1)) == 3:
            yield Hit(
                call.start(),
                "date-diff",
                f"`{call['name']}(unit, start, end)` counts differently on each engine",
                "{{ dbt.datediff('day', start, end) }} or {{ seconds_between(start, end) }}",
            )


BACKSLASH_MESSAGE = "backslash in a string literal: Spark reads it as an escape (`'\\.'` is `.`)"
BACKSLASH_SUGGESTION = (
    "left(x, n) = 'prefix' instead of like ... escape '\\', [.] instead of \\. in a regex"
)


def backslash_hits(sql: ScannedSql) -> Iterator[Hit]:
    """Backslashes in SQL string literals.

    Strings inside Jinja tags are macro arguments: the macro owns how they reach each
    engine (`regex_matches` doubles a pattern's backslashes for Spark).
    """
    for literal in sql.string_literals:
        # The literal's SQL text: Jinja inside it (`'{{ var("x") }}'`) is filler here.
        backslash = sql.code_with_strings.find("\\", literal.start, literal.end)
        if backslash >= 0:
            yield Hit(backslash, "backslash-in-string", BACKSLASH_MESSAGE, BACKSLASH_SUGGESTION)


def order_by_items(code: str, clause_start: int) -> Iterator[Span]:
    """The comma-separated items of the order-by clause whose text starts at `clause_start`.

    The clause ends at the parenthesis that closes around it, at a keyword that follows an
    order by (`rows ...`, `limit`, `qualify`, `window`, `union`, ...), at `;` or at the end.
    """
    depth = 0
    item_start = clause_start
    position = clause_start
    while position < len(code):
        char = code[position]
        if char in "'\"":
            position = quoted_end(code, position, backslash_escapes=False)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0:
            if char == ";":
                break
            if char == ",":
                yield Span(item_start, position)
                item_start = position + 1
            elif starts_word(code, position) and ORDER_BY_END.match(code, position):
                break
        position += 1
    yield Span(item_start, position)


def starts_word(text: str, position: int) -> bool:
    """Whether a word starts at `position`."""
    is_word = text[position].isalnum() or text[position] == "_"
    before = text[position - 1] if position > 0 else " "
    return is_word and not (before.isalnum() or before == "_")


def unstated_null_orders(
    code: str, text: str, items: Iterable[Span], context: str
) -> Iterator[Hit]:
    """The items that do not say `nulls first` or `nulls last`.

    Items that are only Jinja (`order by {{ order_by }}`) are skipped: a macro renders them.
    """
    for item in items:
        item_code = code[item.start : item.end]
        stated = item_code.strip(" \t\r\n" + JINJA_FILLER)
        if not stated or NULLS_STATED.search(item_code):
            continue
        # The item as written, without the space around it nor the Jinja tags after it
        # (`{% endif %}`, `{% endset %}`).
        start = item.start + len(item_code) - len(item_code.lstrip(" \t\r\n"))
        end = item.start + len(item_code.rstrip(" \t\r\n" + JINJA_FILLER))
        shown = shortened(" ".join(text[start:end].split()))
        yield Hit(
            start,
            "null-order",
            f"{context} item `{shown}` does not say nulls first/last (DuckDB sorts NULLs last,"
            " Spark first when ascending)",
            f"{shown} nulls last",
        )


def shortened(text: str, limit: int = 60) -> str:
    """`text`, cut to `limit` characters with `...` when longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def null_order_hits(sql: ScannedSql) -> Iterator[Hit]:
    """Order-by items (windows, queries, `within group`) that leave NULL order implicit."""
    for clause in ORDER_BY.finditer(sql.code):
        items = order_by_items(sql.code, clause.end())
        yield from unstated_null_orders(sql.code, sql.text, items, "order by")


DEDUPLICATE_CALL = re.compile(
    r"\b(?:cowork_analytics\.)?(?P<name>deduplicate(?:_rare)?)\s*\(", re.IGNORECASE
)
KEYWORD_ARGUMENT = re.compile(r"\s*(?P<name>\w+)\s*=(?!=)")
STRING_ARGUMENT = re.compile(r"\s*(['\"])(?P<order>.*)\1\s*", re.DOTALL)
DEDUPLICATE_ORDER_POSITION = 2  # deduplicate(relation, partition_by, order_by)


def deduplicate_order_argument(tag_text: str, arguments: list[Span]) -> Span | None:
    """The `order_by` argument of a deduplicate call: keyword, else the 3rd positional."""
    positional = []
    for argument in arguments:
        keyword = KEYWORD_ARGUMENT.match(tag_text, argument.start, argument.end)
        if keyword is None:
            positional.append(argument)
        elif keyword["name"] == "order_by":
            return Span(keyword.end(), argument.end)
    if len(positional) > DEDUPLICATE_ORDER_POSITION:
        return positional[DEDUPLICATE_ORDER_POSITION]
    return None


def deduplicate_hits(sql: ScannedSql) -> Iterator[Hit]:
    """Order strings passed to `deduplicate` / `deduplicate_rare`, which render an order by."""
    for tag in sql.jinja_tags:
        tag_text = sql.text[tag.start : tag.end]
        for call in DEDUPLICATE_CALL.finditer(tag_text):
            arguments = call_arguments(tag_text, call.end() - 1)
            order = deduplicate_order_argument(tag_text, arguments)
            literal = order and STRING_ARGUMENT.fullmatch(tag_text, order.start, order.end)
            if not literal:
                continue  # a variable or an expression: not known before rendering
            start = tag.start + literal.start("order")
            items = [
                Span(start + item.start, start + item.end)
                for item in order_by_items(literal["order"], 0)
            ]
            yield from unstated_null_orders(sql.text, sql.text, items, call["name"])


CHECKS: tuple[Callable[[ScannedSql], Iterator[Hit]], ...] = (
    *(rule.hits for rule in PATTERN_RULES),
    string_type_hits,
    date_diff_hits,
    backslash_hits,
    null_order_hits,
    deduplicate_hits,
)


# --- Opt-outs and findings -----------------------------------------------------------------


@dataclass(frozen=True)
class OptOut:
    """A `-- portable: <reason>` comment."""

    line: int
    reason: str

    @property
    def has_reason(self) -> bool:
        """Whether the comment says anything after `portable:` (not just punctuation)."""
        return re.search(r"\w", self.reason) is not None


def opt_outs(sql: ScannedSql) -> list[OptOut]:
    """The opt-out comments of a file."""
    found = []
    for comment in sql.line_comments:
        match = OPT_OUT.search(sql.text, comment.start, comment.end)
        if match:
            found.append(OptOut(sql.line_of(comment.start), match["reason"].strip()))
    return found


OPT_OUT_FORM = "-- portable: <why this line means the same on Spark>"


def opt_out_findings(path: Path, opt_out: OptOut, lines_with_hits: set[int]) -> list[Finding]:
    """An opt-out is itself a finding when it gives no reason or excuses nothing."""
    if not opt_out.has_reason:
        message = "`-- portable:` opt-out without a reason"
        return [Finding(path, opt_out.line, "opt-out-reason", message, OPT_OUT_FORM)]
    if opt_out.line not in lines_with_hits:
        message = "`-- portable:` opt-out on a line with nothing to excuse"
        return [Finding(path, opt_out.line, "unused-opt-out", message, "no opt-out comment")]
    return []


def check_text(path: Path, text: str) -> list[Finding]:
    """Every finding in one file's text, after its opt-outs, in line order."""
    sql = scan(text)
    hits = sorted((hit for check in CHECKS for hit in check(sql)), key=lambda hit: hit.offset)
    file_opt_outs = opt_outs(sql)
    # A reasonless opt-out excuses nothing: its line's findings stay until it says why.
    excused = {opt_out.line for opt_out in file_opt_outs if opt_out.has_reason}
    findings: dict[tuple[int, str, str], Finding] = {}
    for hit in hits:
        line = sql.line_of(hit.offset)
        if line not in excused:
            # One finding per line, rule and message: `arg_max(a), arg_max(b)` is one fix.
            finding = Finding(path, line, hit.rule_id, hit.message, hit.suggestion)
            findings.setdefault((line, hit.rule_id, hit.message), finding)
    lines_with_hits = {sql.line_of(hit.offset) for hit in hits}
    for opt_out in file_opt_outs:
        for finding in opt_out_findings(path, opt_out, lines_with_hits):
            findings[(finding.line, finding.rule_id, finding.message)] = finding
    return sorted(findings.values(), key=lambda finding: finding.line)


def check_file(path: Path) -> list[Finding]:
    """Every finding in one .sql file."""
    return check_text(path, path.read_text(encoding="utf-8"))


def sql_files(paths: Iterable[Path]) -> list[Path]:
    """The .sql files named, and those under the folders named, sorted."""
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(path.rglob("*.sql"))
        elif path.is_file():
            files.add(path)
    return sorted(files)


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it (clickable in editors)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def counted(number: int, noun: str) -> str:
    """`1 file`, `2 files`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main(argv: list[str] | None = None) -> int:
    """Check the files, print the findings and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=list(DEFAULT_FOLDERS),
        help=".sql files or folders to read (default: dbt_project/models and dbt_project/tests)",
    )
    arguments = parser.parse_args(argv)
    missing = [str(path) for path in arguments.paths if not path.exists()]
    if missing:
        parser.error(f"no such file or folder: {' '.join(missing)}")  # exits with status 2
    files = sql_files(arguments.paths)
    if not files:
        print(f"no .sql files in {' '.join(map(str, arguments.paths))}")  # noqa: T201
        return 2
    findings = [finding for path in files for finding in check_file(path)]
    for finding in findings:
        print(finding.render())  # noqa: T201
    if findings:
        flagged = len({finding.path for finding in findings})
        total = counted(len(findings), "non-portable finding")
        print(f"{total} in {flagged} of {counted(len(files), 'file')}")  # noqa: T201
        return 1
    print(f"{counted(len(files), 'file')} portable")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
