"""Reporting periods and audiences of a form: pure arithmetic, no Flask, no Store.

A form definition may say when it is due (its optional ``period`` key) and who must file it
(its optional ``audience`` key); README "Form definition format" describes both. Here:

- ``period_spec(schema)``: the ``period`` key as a :class:`PeriodSpec` (defaults filled in);
- ``period_of`` / ``slot_of``: the period a submission is for ("2026-11", "2026", "once") and
  its uniqueness key (the period, or "period/project-id" when the form names a project);
- ``due_date`` / ``state``: when a period is due and where an organization stands for it
  (已报, 迟报, 逾期未报, 未到期);
- ``periods_of_year`` / ``period_problem`` / ``period_label``: the periods to chase, what a
  cadre may not report for (a month outside the form's year, a future month), and the
  Chinese name of a period;
- ``audience_kinds_and_orgs`` / ``in_audience``: who must report.

Times of submissions are taken at their own wall clock (the stored ISO strings are local time
with the deployment's offset), never converted to this process's zone.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime

EVERY = ("once", "year", "month")
DEFAULT_DUE_DAY = 5
DEFAULT_YEAR_DUE = "12-31"
ONCE = "once"
STATES = ("已报", "迟报", "逾期未报", "未到期")
ORG_KINDS = ("county", "township", "village", "unit")
DEFAULT_AUDIENCE_KINDS = ("village", "unit")

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR_RE = re.compile(r"^\d{4}$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DUE_RE = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class PeriodSpec:
    """A form's ``period``, normalized: ``every`` ("once" | "year" | "month"), ``field`` (the
    top-level field the period is read from, or None), ``due_day`` (1-28: a monthly report for
    a month is due on this day of the next month), ``due`` ("MM-DD": a yearly form is due on
    this day of its year; a one-off form on this day of ``year``, when both are given),
    ``year`` (int or None: the only year a period may fall in) and ``unique`` (one submission
    per organization and period, or period and project)."""

    every: str
    field: str | None = None
    due_day: int = DEFAULT_DUE_DAY
    due: str | None = None
    year: int | None = None
    unique: bool = True


# ---------------------------------------------------------------------------- the spec


def _due_parts(due):
    """"MM-DD" -> (month, day); ValueError unless it is a day every year has."""
    match = _DUE_RE.match(due) if isinstance(due, str) else None
    if not match:
        raise ValueError(f"截止日期 due 应写成 12-31 这样（月-日），实际是 {due!r}")
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2001, month, day)  # not a leap year: 02-29 is not a day every year has
    except ValueError:
        raise ValueError(f"截止日期 due「{due}」不是每年都有的日期") from None
    return month, day


def period_spec(schema):
    """The form's ``period`` as a PeriodSpec, or None when the form has none. A malformed
    ``period`` (the loader refuses those first) raises ValueError with a Chinese reason."""
    raw = schema.get("period") if isinstance(schema, dict) else None
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError("报告周期 period 应为一组键值")
    every = raw.get("every")
    if every not in EVERY:
        raise ValueError(f"报告周期 every 应为 once、year 或 month，实际是 {every!r}")
    due_day = raw.get("due_day", DEFAULT_DUE_DAY)
    if isinstance(due_day, bool) or not isinstance(due_day, int) or not 1 <= due_day <= 28:
        raise ValueError(f"每月截止日 due_day 应为 1 到 28 的整数，实际是 {due_day!r}")
    due = raw.get("due")
    if due is not None:
        _due_parts(due)
    elif every == "year":
        due = DEFAULT_YEAR_DUE
    year = raw.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                             or not 2000 <= year <= 2100):
        raise ValueError(f"年度 year 应为 2000 到 2100 的整数，实际是 {year!r}")
    unique = raw.get("unique", True)
    if not isinstance(unique, bool):
        raise ValueError(f"unique 应为 true 或 false，实际是 {unique!r}")
    field = raw.get("field")
    if every == ONCE:
        field = None  # a one-off form has one period whatever its answers say
    return PeriodSpec(every=every, field=field, due_day=due_day, due=due, year=year,
                      unique=unique)


def _spec(spec_or_schema):
    if spec_or_schema is None or isinstance(spec_or_schema, PeriodSpec):
        return spec_or_schema
    return period_spec(spec_or_schema)


# ---------------------------------------------------------------------------- a submission


def _wall_clock(moment):
    """A datetime, a date or an ISO string -> its date, as written (no zone conversion)."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.date()
    if isinstance(moment, date):
        return moment
    if isinstance(moment, str):
        return datetime.fromisoformat(moment).date()
    raise TypeError(f"not a time: {moment!r}")


def period_from_value(spec, value):
    """The period a period field's answer names ("2026-11" from a month or a date; "2026"
    from a month, a date or an integer for a yearly form), or None when the answer is empty
    or names none (a malformed value)."""
    spec = _spec(spec)
    if spec is None or spec.every == ONCE or value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value:04d}" if spec.every == "year" and 1000 <= value <= 9999 else None
    if not isinstance(value, str):
        return None
    match = _MONTH_RE.match(value[:7]) if len(value) in (7, 10) else None
    if not match or (len(value) == 10 and not _DATE_RE.match(value)):
        return None
    return value[:7] if spec.every == "month" else value[:4]


def period_of(schema, answers, submitted_at):
    """The period a submission of ``schema`` is for: "YYYY-MM" (monthly), "YYYY" (yearly) or
    "once"; None when the form has no ``period``. Read from the form's period field when it
    is answered, else from ``submitted_at`` (datetime, date or ISO string; its wall clock)."""
    spec = period_spec(schema)
    if spec is None:
        return None
    if spec.every == ONCE:
        return ONCE
    if spec.field and isinstance(answers, dict):
        found = period_from_value(spec, answers.get(spec.field))
        if found is not None:
            return found
    day = _wall_clock(submitted_at)
    return f"{day.year:04d}-{day.month:02d}" if spec.every == "month" else f"{day.year:04d}"


def slot_of(spec, period, project_id=None):
    """The uniqueness key of a submission: ``period``, or "period/project-id" when it names a
    project; None when the form allows several (``unique`` false) or has no period.
    ``spec``: a PeriodSpec, a schema or None."""
    spec = _spec(spec)
    if spec is None or not spec.unique or period is None:
        return None
    return period if project_id is None else f"{period}/{project_id}"


# ---------------------------------------------------------------------------- due dates


def _month_parts(period):
    match = _MONTH_RE.match(period) if isinstance(period, str) else None
    if not match:
        raise ValueError(f"报告月份应写成 2026-11 这样，实际是 {period!r}")
    return int(match.group(1)), int(match.group(2))


def _year_of(period):
    if not isinstance(period, str) or not _YEAR_RE.match(period):
        raise ValueError(f"报告年份应写成 2026 这样，实际是 {period!r}")
    return int(period)


def due_date(spec, period):
    """The last day a period may be reported on time, or None (no period, or a one-off form
    without both ``due`` and ``year``). Monthly: ``due_day`` of the next month (December's
    is due in January); yearly: ``due`` (default 12-31) of that year. ValueError for a period
    that does not fit the form."""
    spec = _spec(spec)
    if spec is None or period is None:
        return None
    if spec.every == "month":
        year, month = _month_parts(period)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return date(year, month, spec.due_day)
    if spec.every == "year":
        month, day = _due_parts(spec.due or DEFAULT_YEAR_DUE)
        return date(_year_of(period), month, day)
    if spec.due is None or spec.year is None:
        return None
    month, day = _due_parts(spec.due)
    return date(spec.year, month, day)


def state(spec, period, submitted_at, today):
    """Where an organization stands for ``period``: 已报 (submitted on or before the due
    day, or the period has no due day), 迟报 (submitted after it), 逾期未报 (nothing
    submitted and the due day has passed), 未到期 (nothing submitted, not yet due).
    ``submitted_at``: the time of its submission (datetime, date, ISO string) or None."""
    due = due_date(spec, period)
    day = _wall_clock(submitted_at)
    if day is not None:
        return "迟报" if due is not None and day > due else "已报"
    return "逾期未报" if due is not None and today > due else "未到期"


# ---------------------------------------------------------------------------- periods


def current_period(spec, today):
    """The period ``today`` falls in ("YYYY-MM", "YYYY" or "once")."""
    spec = _spec(spec)
    if spec.every == "month":
        return f"{today.year:04d}-{today.month:02d}"
    if spec.every == "year":
        return f"{today.year:04d}"
    return ONCE


def periods_of_year(spec, year, today):
    """The periods of ``year`` to chase, oldest first, up to the current one: "YYYY-01" ..
    for a monthly form (all twelve for a past year, none for a future one), ["YYYY"] for a
    yearly form (none for a future year), ["once"] for a one-off form. A form limited to a
    ``year`` has none in other years (a one-off form keeps its one period)."""
    spec = _spec(spec)
    if spec is None:
        return []
    if spec.every == ONCE:
        return [ONCE]
    if (spec.year is not None and year != spec.year) or year > today.year:
        return []
    if spec.every == "year":
        return [f"{year:04d}"]
    last = today.month if year == today.year else 12
    return [f"{year:04d}-{month:02d}" for month in range(1, last + 1)]


def period_problem(spec, period, today):
    """Why a cadre may not report for ``period`` (Chinese, for the period field), or None: a
    malformed period, one outside the form's ``year``, or one after the current period."""
    spec = _spec(spec)
    if spec is None or period is None or spec.every == ONCE:
        return None
    if spec.every == "month":
        try:
            year, _month = _month_parts(period)
        except ValueError:
            return "请填写正确的报告月份，例如 2026-11"
        if spec.year is not None and year != spec.year:
            return f"报告月份必须在 {spec.year} 年内"
        if period > current_period(spec, today):
            return "不能填报未来的月份"
        return None
    try:
        year = _year_of(period)
    except ValueError:
        return "请填写正确的报告年份，例如 2026"
    if spec.year is not None and year != spec.year:
        return f"报告年份必须是 {spec.year} 年"
    if year > today.year:
        return "不能填报未来的年份"
    return None


def period_label(period):
    """"2026-11" -> "2026年11月", "2026" -> "2026年度", "once" -> "一次性", None -> ""; a
    slot ("2026-11/12") is named by its period."""
    if period is None:
        return ""
    text = str(period).split("/", 1)[0]
    if text == ONCE:
        return "一次性"
    match = _MONTH_RE.match(text)
    if match:
        return f"{match.group(1)}年{int(match.group(2))}月"
    if _YEAR_RE.match(text):
        return f"{text}年度"
    return text


# ---------------------------------------------------------------------------- audience


def audience_kinds_and_orgs(schema):
    """(kinds, org codes) that must file ``schema``, as tuples: the kinds of organizations
    and the codes listed by its ``audience``; without one, villages and units, no codes."""
    audience = schema.get("audience") if isinstance(schema, dict) else None
    if audience is None:
        return DEFAULT_AUDIENCE_KINDS, ()
    return tuple(audience.get("kinds", ())), tuple(audience.get("orgs", ()))


def in_audience(schema, org):
    """Whether organization ``org`` (a dict with "code" and "kind") must file ``schema``."""
    kinds, codes = audience_kinds_and_orgs(schema)
    return org.get("kind") in kinds or org.get("code") in codes
