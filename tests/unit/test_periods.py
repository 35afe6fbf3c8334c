"""services/periods.py: the period spec, the period and slot of a submission, due dates, the
state of an organization for a period (已报 / 迟报 / 逾期未报 / 未到期), the periods to chase,
what a cadre may not report for, period names, and who must report."""

from datetime import date, datetime, timedelta, timezone

import pytest

from services.periods import (
    PeriodSpec,
    audience_kinds_and_orgs,
    current_period,
    due_date,
    in_audience,
    period_from_value,
    period_label,
    period_of,
    period_problem,
    period_spec,
    periods_of_year,
    slot_of,
    state,
)


def schema(period=None, **top):
    doc = {"id": "demo", "title": "演示", "description": "", "fields": [], **top}
    if period is not None:
        doc["period"] = period
    return doc


MONTHLY = schema({"every": "month", "field": "report_month", "due_day": 5})
YEARLY = schema({"every": "year"})
ONCE = schema({"every": "once"})
CST = timezone(timedelta(hours=8))


# ---------------------------------------------------------------- the spec

def test_spec_defaults():
    assert period_spec(schema()) is None
    assert period_spec(schema({"every": "month"})) == PeriodSpec(
        every="month", field=None, due_day=5, due=None, year=None, unique=True)
    assert period_spec(YEARLY) == PeriodSpec(every="year", due="12-31")
    assert period_spec(ONCE) == PeriodSpec(every="once", due=None)
    assert period_spec(schema({"every": "once", "due": "06-30", "year": 2026,
                               "unique": False})) == PeriodSpec(
        every="once", due="06-30", year=2026, unique=False)
    assert period_spec(MONTHLY).field == "report_month"


@pytest.mark.parametrize("period, fragment", [
    ({"every": "week"}, "every 应为 once、year 或 month"),
    ({}, "every 应为"),
    ({"every": "month", "due_day": 29}, "due_day 应为 1 到 28 的整数"),
    ({"every": "month", "due_day": 0}, "due_day"),
    ({"every": "month", "due_day": True}, "due_day"),
    ({"every": "month", "due_day": "5"}, "due_day"),
    ({"every": "year", "due": "12/31"}, "应写成 12-31 这样"),
    ({"every": "year", "due": "02-29"}, "「02-29」不是每年都有的日期"),
    ({"every": "year", "due": "13-01"}, "不是每年都有的日期"),
    ({"every": "year", "year": 1999}, "year 应为 2000 到 2100 的整数"),
    ({"every": "year", "year": "2026"}, "year 应为"),
    ({"every": "year", "unique": "no"}, "unique 应为 true 或 false"),
])
def test_bad_specs_are_refused(period, fragment):
    with pytest.raises(ValueError) as info:
        period_spec(schema(period))
    assert fragment in str(info.value)


def test_a_spec_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError):
        period_spec(schema("monthly"))


def test_a_one_off_form_ignores_a_field():
    assert period_spec(schema({"every": "once", "field": "d"})).field is None


# ---------------------------------------------------------------- period and slot

@pytest.mark.parametrize("form, answers, submitted_at, period", [
    (MONTHLY, {"report_month": "2026-10"}, "2026-11-03T09:00:00+08:00", "2026-10"),
    (MONTHLY, {"report_month": "2025-12"}, "2026-01-04T09:00:00+08:00", "2025-12"),
    # nothing answered: the month the submission was made in, at its own wall clock
    (MONTHLY, {"report_month": None}, "2026-11-30T23:59:59+08:00", "2026-11"),
    (MONTHLY, {}, datetime(2027, 1, 1, 0, 30, tzinfo=CST), "2027-01"),
    (MONTHLY, None, date(2026, 2, 28), "2026-02"),
    (schema({"every": "month"}), {"report_month": "2020-01"}, "2026-11-03T09:00:00", "2026-11"),
    (schema({"every": "month", "field": "d"}), {"d": "2026-02-28"}, "2026-03-01T00:00:00",
     "2026-02"),
    (schema({"every": "year", "field": "y"}), {"y": 2025}, "2026-01-02T00:00:00", "2025"),
    (schema({"every": "year", "field": "m"}), {"m": "2025-12"}, "2026-01-02T00:00:00", "2025"),
    (schema({"every": "year", "field": "d"}), {"d": "2025-12-31"}, "2026-01-02T00:00:00", "2025"),
    (YEARLY, {}, "2026-12-31T23:59:59+08:00", "2026"),
    (ONCE, {}, "2026-12-31T23:59:59+08:00", "once"),
    (schema(), {}, "2026-12-31T23:59:59+08:00", None),
])
def test_period_of(form, answers, submitted_at, period):
    assert period_of(form, answers, submitted_at) == period


def test_period_of_keeps_the_wall_clock_of_the_submission():
    # 00:30 on 1 December in China is still November in UTC: the stored local time decides.
    assert period_of(MONTHLY, {}, "2026-12-01T00:30:00+08:00") == "2026-12"


@pytest.mark.parametrize("spec, value, period", [
    (MONTHLY, "2026-11", "2026-11"),
    (MONTHLY, "2026-11-30", "2026-11"),
    (MONTHLY, 2026, None),
    (MONTHLY, "2026-13", None),
    (MONTHLY, "2026/11", None),
    (MONTHLY, None, None),
    (YEARLY, 2026, "2026"),
    (YEARLY, 26, None),
    (YEARLY, True, None),
    (YEARLY, "2026-11", "2026"),
    (ONCE, "2026-11", None),
])
def test_period_from_value(spec, value, period):
    assert period_from_value(spec, value) == period


def test_slot():
    spec = period_spec(MONTHLY)
    assert slot_of(spec, "2026-11") == "2026-11"
    assert slot_of(spec, "2026-11", 12) == "2026-11/12"
    assert slot_of(spec, "2026-11", "12") == "2026-11/12"
    assert slot_of(MONTHLY, "2026-11", 12) == "2026-11/12"  # a schema will do
    assert slot_of(ONCE, "once", 3) == "once/3"
    assert slot_of(spec, None, 12) is None
    assert slot_of(None, "2026-11") is None
    assert slot_of(schema({"every": "month", "unique": False}), "2026-11", 12) is None


# ---------------------------------------------------------------- due dates

@pytest.mark.parametrize("form, period, due", [
    (MONTHLY, "2026-10", date(2026, 11, 5)),
    (MONTHLY, "2026-12", date(2027, 1, 5)),  # December is due in January of the next year
    (MONTHLY, "2026-01", date(2026, 2, 5)),
    (schema({"every": "month", "due_day": 28}), "2026-01", date(2026, 2, 28)),  # February fine
    (schema({"every": "month", "due_day": 28}), "2024-01", date(2024, 2, 28)),
    (schema({"every": "month"}), "2026-03", date(2026, 4, 5)),  # default 5th
    (YEARLY, "2026", date(2026, 12, 31)),
    (schema({"every": "year", "due": "03-31"}), "2026", date(2026, 3, 31)),
    (schema({"every": "once", "due": "06-30", "year": 2026}), "once", date(2026, 6, 30)),
    (schema({"every": "once", "year": 2026}), "once", None),
    (ONCE, "once", None),
    (MONTHLY, None, None),
    (schema(), "2026-11", None),
])
def test_due_date(form, period, due):
    assert due_date(period_spec(form), period) == due


@pytest.mark.parametrize("form, period", [(MONTHLY, "2026"), (MONTHLY, "2026-13"),
                                          (YEARLY, "2026-11"), (YEARLY, "once")])
def test_due_date_of_a_period_the_form_does_not_have(form, period):
    with pytest.raises(ValueError):
        due_date(form, period)


# ---------------------------------------------------------------- state

@pytest.mark.parametrize("submitted_at, today, expected", [
    ("2026-11-03T09:00:00+08:00", date(2026, 11, 20), "已报"),
    ("2026-11-05T23:59:59+08:00", date(2026, 11, 20), "已报"),  # on the due day is on time
    ("2026-11-06T00:00:01+08:00", date(2026, 11, 20), "迟报"),
    ("2026-10-28T17:00:00+08:00", date(2026, 11, 1), "已报"),  # early is on time
    (datetime(2027, 3, 1, 8, tzinfo=CST), date(2027, 3, 1), "迟报"),
    (None, date(2026, 11, 5), "未到期"),  # the due day itself is not past due
    (None, date(2026, 11, 6), "逾期未报"),
    (None, date(2026, 10, 15), "未到期"),
])
def test_state_of_october(submitted_at, today, expected):
    assert state(period_spec(MONTHLY), "2026-10", submitted_at, today) == expected


def test_state_across_the_year_end():
    spec = period_spec(MONTHLY)
    assert state(spec, "2026-12", None, date(2026, 12, 31)) == "未到期"
    assert state(spec, "2026-12", None, date(2027, 1, 5)) == "未到期"
    assert state(spec, "2026-12", None, date(2027, 1, 6)) == "逾期未报"
    assert state(spec, "2026-12", "2027-01-05T18:00:00+08:00", date(2027, 2, 1)) == "已报"
    assert state(spec, "2026-12", "2027-01-06T08:00:00+08:00", date(2027, 2, 1)) == "迟报"


def test_state_of_yearly_and_one_off_forms():
    assert state(YEARLY, "2026", None, date(2026, 12, 31)) == "未到期"
    assert state(YEARLY, "2026", None, date(2027, 1, 1)) == "逾期未报"
    assert state(YEARLY, "2026", "2027-01-01T00:00:00+08:00", date(2027, 1, 1)) == "迟报"
    assert state(YEARLY, "2026", date(2026, 3, 1), date(2027, 1, 1)) == "已报"
    # no due day: either reported or not yet due, never late
    assert state(ONCE, "once", None, date(2099, 1, 1)) == "未到期"
    assert state(ONCE, "once", "2099-01-01T00:00:00+08:00", date(2099, 1, 1)) == "已报"
    dated = schema({"every": "once", "due": "06-30", "year": 2026})
    assert state(dated, "once", None, date(2026, 7, 1)) == "逾期未报"
    assert state(dated, "once", "2026-07-01T08:00:00+08:00", date(2026, 7, 1)) == "迟报"


# ---------------------------------------------------------------- periods of a year

def test_periods_of_a_monthly_form():
    spec = period_spec(MONTHLY)
    assert periods_of_year(spec, 2026, date(2026, 3, 15)) == ["2026-01", "2026-02", "2026-03"]
    assert periods_of_year(spec, 2026, date(2026, 1, 1)) == ["2026-01"]
    assert periods_of_year(spec, 2025, date(2026, 3, 15)) == [f"2025-{m:02d}" for m in range(1, 13)]
    assert periods_of_year(spec, 2027, date(2026, 12, 31)) == []


def test_periods_of_a_form_limited_to_a_year():
    spec = period_spec(schema({"every": "month", "year": 2026}))
    assert periods_of_year(spec, 2025, date(2026, 3, 15)) == []
    assert len(periods_of_year(spec, 2026, date(2027, 3, 15))) == 12


def test_periods_of_yearly_and_one_off_forms():
    assert periods_of_year(YEARLY, 2026, date(2026, 1, 1)) == ["2026"]
    assert periods_of_year(YEARLY, 2027, date(2026, 12, 31)) == []
    assert periods_of_year(ONCE, 2020, date(2026, 1, 1)) == ["once"]
    assert periods_of_year(schema(), 2026, date(2026, 1, 1)) == []


def test_current_period():
    today = date(2026, 11, 20)
    assert current_period(MONTHLY, today) == "2026-11"
    assert current_period(YEARLY, today) == "2026"
    assert current_period(ONCE, today) == "once"


# ---------------------------------------------------------------- what may be reported

@pytest.mark.parametrize("form, period, today, problem", [
    (MONTHLY, "2026-11", date(2026, 11, 20), None),  # the current month may be reported
    (MONTHLY, "2026-10", date(2026, 11, 20), None),
    (MONTHLY, "2026-12", date(2026, 11, 20), "不能填报未来的月份"),
    (MONTHLY, "2027-01", date(2026, 12, 31), "不能填报未来的月份"),
    (MONTHLY, "2026-12", date(2027, 1, 3), None),  # December reported in January
    (schema({"every": "month", "year": 2026}), "2025-12", date(2026, 1, 3),
     "报告月份必须在 2026 年内"),
    (schema({"every": "month", "year": 2026}), "2027-01", date(2027, 1, 3),
     "报告月份必须在 2026 年内"),
    (MONTHLY, "2026-13", date(2026, 11, 20), "请填写正确的报告月份，例如 2026-11"),
    (YEARLY, "2026", date(2026, 1, 1), None),
    (YEARLY, "2027", date(2026, 12, 31), "不能填报未来的年份"),
    (schema({"every": "year", "year": 2025}), "2026", date(2026, 3, 1), "报告年份必须是 2025 年"),
    (YEARLY, "26", date(2026, 3, 1), "请填写正确的报告年份，例如 2026"),
    (ONCE, "once", date(2026, 3, 1), None),
    (schema(), "2099-01", date(2026, 3, 1), None),
    (MONTHLY, None, date(2026, 3, 1), None),
])
def test_period_problem(form, period, today, problem):
    assert period_problem(period_spec(form), period, today) == problem


@pytest.mark.parametrize("period, label", [
    ("2026-11", "2026年11月"), ("2026-01", "2026年1月"), ("2026", "2026年度"),
    ("once", "一次性"), ("2026-11/12", "2026年11月"), ("once/3", "一次性"), (None, ""),
])
def test_period_label(period, label):
    assert period_label(period) == label


# ---------------------------------------------------------------- audience

VILLAGE = {"code": "C0101", "kind": "village"}
UNIT = {"code": "U01", "kind": "unit"}
TOWNSHIP = {"code": "T01", "kind": "township"}


def test_audience_defaults_to_villages_and_units():
    assert audience_kinds_and_orgs(schema()) == (("village", "unit"), ())
    assert in_audience(schema(), VILLAGE) and in_audience(schema(), UNIT)
    assert not in_audience(schema(), TOWNSHIP)


def test_audience_kinds_and_listed_organizations():
    units = schema(audience={"kinds": ["unit"]})
    assert audience_kinds_and_orgs(units) == (("unit",), ())
    assert in_audience(units, UNIT) and not in_audience(units, VILLAGE)
    listed = schema(audience={"kinds": ["unit"], "orgs": ["T01"]})
    assert in_audience(listed, TOWNSHIP) and in_audience(listed, UNIT)
    assert not in_audience(listed, VILLAGE)
    only = schema(audience={"orgs": ["C0101"]})
    assert audience_kinds_and_orgs(only) == ((), ("C0101",))
    assert in_audience(only, VILLAGE) and not in_audience(only, UNIT)
