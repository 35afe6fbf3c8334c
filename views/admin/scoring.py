"""Admin: 路演评审 (issue 11) — a judge's list of the year's projects to score and the score sheet
of each (on a phone), the admin's rubric editor, CSV import of paper sheets and every judge's
progress; the year's ranking per category with the bottom 5%, 优秀, the two-year rules and the
成效 of the year's 书记领办事项, and the same ranking as CSV.

Thin: the arithmetic and every rule are services.scoring's (the `flask ranking` command prints
the same ``ranking_table``), who may do what is services.access's (a project out of the user's
scope answers 404).
"""
import hashlib
from decimal import Decimal
from urllib.parse import quote

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from db import get_store
from services import access, scoring
from services.orgs import org_index
from services.reporting import today_local
from views.admin import bp
from views.web import audit, send_bytes

CSRF_EXPIRED = "页面已过期，请刷新页面后重试"


class RubricForm(FlaskForm):
    text = TextAreaField("评分标准", validators=[
        Length(max=2000, message="评分标准不能超过 2000 个字符")])


class ImportForm(FlaskForm):
    file = FileField("评分 CSV 文件")


class ExcellentForm(FlaskForm):
    excellent = HiddenField()


class EffectForm(FlaskForm):
    effect = SelectField("成效", choices=[SelectChoice("", "未评定"),
                                        *(SelectChoice(e, e) for e in scoring.EFFECTS)])


def _year():
    """The year a page is about: ``?year=`` (2000–2100), else the current year."""
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= 2100 else today_local().year


def _years(store, scope, year):
    """The years offered in a page's year list: this one, the current year, every year with
    a rubric or a project in the user's scope."""
    found = {year, today_local().year}
    found.update(r["year"] for r in store.list_rubrics())
    found.update(p["year"] for p in store.list_projects(org_codes=scope))
    return sorted(found, reverse=True)


def _by_category(items, category_of):
    groups = {}
    for item in items:
        groups.setdefault(category_of(item), []).append(item)
    return list(groups.items())


# ---------------------------------------------------------------- the scoring list

def _complete(criteria, names):
    return bool(criteria) and set(criteria) <= set(names)


def _judge_progress(store, index, year, criteria):
    """Every judge (accounts with the judge role, and any name that gave scores this year —
    an admin, a paper sheet's judge) with how many projects of their scope they scored on
    every criterion, on some, and how many there are."""
    projects = scoring.scorable_projects(store, year)
    given = {}
    for entry in store.list_scores(year):
        given.setdefault(entry["judge"], {}).setdefault(entry["project"], set()).add(
            entry["criterion"])
    users = {u["username"]: u for u in store.list_users()}
    names = {n for n, u in users.items() if u["role"] == "judge" and u.get("active", True)}
    rows = []
    for name in sorted(names | set(given)):
        user = users.get(name)
        scope = access.visible_orgs(user, index) if user else None
        expected = [p for p in projects if scope is None or p["org_code"] in scope]
        mine = given.get(name, {})
        complete = sum(1 for p in projects if _complete(criteria, mine.get(p["id"], ())))
        rows.append({"name": name, "full_name": (user or {}).get("name") or "",
                     "account": user is not None, "expected": len(expected),
                     "complete": complete,
                     "partial": sum(1 for scored in mine.values()
                                    if not _complete(criteria, scored))})
    return rows


def _scoring_page(year, rubric_form=None, rubric_error=None, import_form=None,
                  import_errors=(), status=200):
    store = get_store()
    index = org_index(store)
    scope = access.visible_orgs(current_user, index)
    rubric = scoring.rubric_of(store, year)
    criteria = [c["name"] for c in rubric or []]
    rows = [{"project": p, "scored": len(set(mine) & set(criteria)),
             "complete": _complete(criteria, mine),
             "columns": index.columns(p["org_code"])}
            for p, mine in scoring.judge_sheet(store, year, current_user.username, scope)]
    is_admin = access.may(current_user, "manage")
    if is_admin and rubric_form is None:
        rubric_form = RubricForm(formdata=None, text=scoring.rubric_text(
            rubric or scoring.DEFAULT_RUBRIC))
    return render_template(
        "admin/scoring.html", year=year, years=_years(store, scope, year), rubric=rubric,
        groups=_by_category(rows, lambda r: r["project"]["category"]),
        done=sum(1 for r in rows if r["complete"]), total=len(rows), is_admin=is_admin,
        rubric_form=rubric_form, rubric_error=rubric_error,
        import_form=import_form or (ImportForm() if is_admin else None),
        import_errors=import_errors,
        judges=_judge_progress(store, index, year, criteria) if is_admin else None,
        default_rubric=rubric is None, number=_number), status


@bp.route("/scoring")
def scoring_list():
    return _scoring_page(_year())


@bp.route("/scoring/rubric", methods=["POST"])
def scoring_rubric():
    """The admin sets the year's rubric (refused when scores already given would not fit)."""
    year = _year()
    form = RubricForm()
    if not form.validate_on_submit():
        error = form.text.errors[0] if form.text.errors else CSRF_EXPIRED
        return _scoring_page(year, rubric_form=form, rubric_error=error, status=422)
    try:
        doc = scoring.save_rubric(get_store(), year, scoring.parse_rubric(form.text.data or ""),
                                  current_user.username)
    except scoring.ScoreError as exc:
        return _scoring_page(year, rubric_form=form, rubric_error=str(exc), status=422)
    audit("rubric.save", target=str(year), detail={"criteria": len(doc["criteria"])})
    flash(f"{year} 年评分标准已保存", "success")
    return redirect(url_for("admin.scoring_list", year=year, _anchor="rubric"), 303)


@bp.route("/scoring/import", methods=["POST"])
def scoring_import():
    """The admin imports paper score sheets (CSV): every row or none."""
    year = _year()
    form = ImportForm()
    upload = form.file.data
    if not form.validate_on_submit():
        errors = {0: CSRF_EXPIRED}
    elif not upload or not upload.filename:
        errors = {0: "请选择 CSV 文件"}
    else:
        try:
            count = scoring.import_scores(get_store(), year, upload.read())
        except scoring.ScoreErrors as exc:
            errors = exc.errors
        else:
            audit("score.import", target=str(year),
                  detail={"rows": count, "file": upload.filename})
            flash(f"已导入 {count} 条评分", "success")
            return redirect(url_for("admin.scoring_list", year=year, _anchor="import"), 303)
    return _scoring_page(year, import_form=form, status=422,
                         import_errors=sorted(errors.items(), key=lambda kv: kv[0] or 0))


# ---------------------------------------------------------------- a score sheet

def _rubric_key(rubric):
    """A fingerprint of the rubric a sheet was served with: a sheet posted after the admin
    changed the rubric is not read against the new one."""
    return hashlib.sha256(scoring.rubric_text(rubric).encode()).hexdigest()[:16]


def _sheet_form_class(year, rubric):
    """A fresh form class for this rubric: one text input per criterion (c0, c1…: criterion
    names are the admin's free text); the scores are checked by services.scoring alone."""
    fields = {f"c{i}": StringField(spec["name"]) for i, spec in enumerate(rubric)}
    fields["rubric_key"] = HiddenField()
    return type(f"ScoreSheet{year}Form", (FlaskForm,), fields)


def _number(value):
    return format(Decimal(str(value)).normalize(), "f")


def _next_unscored(store, year, project_id, scope, criteria):
    """The first project after ``project_id`` in the judge's list (then from the top) that
    the judge has not scored on every criterion; None when all are."""
    sheet = scoring.judge_sheet(store, year, current_user.username, scope)
    ids = [p["id"] for p, _mine in sheet]
    start = ids.index(project_id) + 1 if project_id in ids else 0
    for project, mine in sheet[start:] + sheet[:start]:
        if project["id"] != project_id and not _complete(criteria, mine):
            return project
    return None


@bp.route("/scoring/<int:project_id>", methods=["GET", "POST"])
def scoring_sheet(project_id):
    store = get_store()
    index = org_index(store)
    year = _year()
    project = scoring.scorable_project(store, year, project_id)
    if project is None or not access.may_see_org(current_user, index, project["org_code"]):
        abort(404)
    scope = access.visible_orgs(current_user, index)
    rubric = scoring.rubric_of(store, year) or []
    criteria = [c["name"] for c in rubric]
    form_class = _sheet_form_class(year, rubric)
    stored = {s["criterion"]: s["score"]
              for s in store.list_scores(year, project_id=project_id,
                                         judge=current_user.username)}
    prefill = {f"c{i}": stored.get(name, "") for i, name in enumerate(criteria)}
    problem = None
    form = form_class(formdata=None, data={**prefill, "rubric_key": _rubric_key(rubric)})
    if request.method == "POST":
        posted = form_class()
        if not posted.validate_on_submit():
            problem = CSRF_EXPIRED
            form = posted
        elif not rubric:
            problem = f"{year} 年尚未设置评分标准"
        elif posted.rubric_key.data != _rubric_key(rubric):
            problem = "评分标准刚被管理员修改，请按新的评分标准重新填写"
        else:
            form = posted
            values = {name: form[f"c{i}"].data for i, name in enumerate(criteria)}
            try:
                scoring.save_judge_scores(store, year, project_id, current_user.username,
                                          values)
            except scoring.ScoreErrors as exc:
                for i, name in enumerate(criteria):
                    if name in exc.errors:
                        form[f"c{i}"].errors = [exc.errors[name]]
                problem = exc.errors.get(None) or "有评分未通过检查，请按提示修改（尚未保存）"
            else:
                audit("score.save", target=str(project_id), detail={
                    "project": {"id": project_id, "title": project["title"]},
                    "judge": current_user.username, "year": year})
                following = _next_unscored(store, year, project_id, scope, criteria)
                if following is None:
                    flash(f"已保存「{project['title']}」的评分。本年度您的项目已全部评完。",
                          "success")
                    return redirect(url_for("admin.scoring_list", year=year), 303)
                flash(f"已保存「{project['title']}」的评分，请评下一个项目。", "success")
                return redirect(url_for("admin.scoring_sheet", project_id=following["id"],
                                        year=year), 303)
    return render_template(
        "admin/scoring_sheet.html", year=year, project=project, rubric=rubric, form=form,
        problem=problem, number=_number, path=index.path(project["org_code"]),
        scored=bool(stored)), 422 if problem else 200


# ---------------------------------------------------------------- the ranking

def _lines(headers, rows, criteria):
    """The rows of scoring.ranking_table as dicts the page reads by name (a change of the
    table's columns fails here, loudly, rather than showing a wrong column)."""
    means = [f"{name}(均分)" for name in criteria]
    lines = []
    for row in rows:
        cell = dict(zip(headers, row))
        lines.append({
            "category": cell["领域"], "rank": cell["名次"] if isinstance(cell["名次"], int) else None,
            "tied": bool(cell["并列"]), "id": cell["项目编号"], "title": cell["项目名称"],
            "kind": cell["类型"], "township": cell["乡镇"], "unit": cell["村/单位"],
            "org_code": cell["组织代码"], "judges": cell["评委数"],
            "means": [cell[m] for m in means], "total": cell["总分"],
            "excellent": bool(cell["优秀"]), "bottom": bool(cell["末位5%"]),
            "bottom_two_years": bool(cell["连续两年末位"])})
    return lines


def _orgs(codes, index, scope):
    """Organizations (code, township, village/unit name), in scope, by code."""
    found = []
    for code in sorted(codes):
        if scope is None or code in scope:
            _county, township, unit = index.columns(code)
            found.append({"code": code, "township": township, "unit": unit})
    return found


@bp.route("/ranking")
def ranking():
    store = get_store()
    index = org_index(store)
    year = _year()
    scope = access.visible_orgs(current_user, index)
    result = scoring.year_ranking(store, year)
    criteria = [c["name"] for c in result.rubric or []]
    headers, rows = scoring.ranking_table(result, index, scope)
    lines = _lines(headers, rows, criteria)
    county = {category: sum(1 for r in ranked if r.rank is not None)
              for category, ranked in result.categories.items()}
    matters = [p for p in store.list_projects(org_codes=scope, year=year,
                                              statuses=scoring.scorable_statuses())
               if p.get("kind") == scoring.MATTER_KIND]
    return render_template(
        "admin/ranking.html", year=year, years=_years(store, scope, year), result=result,
        criteria=criteria, groups=_by_category(lines, lambda line: line["category"]),
        county=county, bottom_count=scoring.bottom_count, bottom_rule=scoring.BOTTOM_RULE,
        bottom_two_years=_orgs(result.bottom_two_years, index, scope),
        weak=_orgs(result.no_effect_two_years, index, scope),
        matters=[{"project": p, "columns": index.columns(p["org_code"])} for p in matters],
        may_mark=access.may(current_user, "manage"), may_assess=access.may(current_user, "assess"),
        excellent_form=ExcellentForm(formdata=None), effect_form=EffectForm(formdata=None),
        effects=scoring.EFFECTS, number=_number)


def ranking_csv_bytes(headers, rows):
    """The ranking table as services.scoring.ranking_csv writes it, UTF-8 with a BOM (Excel
    then reads the Chinese)."""
    return ("\ufeff" + scoring.ranking_csv(headers, rows)).encode("utf-8")


@bp.route("/ranking.csv")
def ranking_csv():
    store = get_store()
    index = org_index(store)
    year = _year()
    headers, rows = scoring.ranking_table(scoring.year_ranking(store, year), index,
                                          access.visible_orgs(current_user, index))
    audit("export", target=f"ranking/{year}",
          detail={"format": "csv", "list": "路演评审排名", "rows": len(rows)})
    response = send_bytes(ranking_csv_bytes(headers, rows), "text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=ranking-{year}.csv; "
        f"filename*=UTF-8''{quote(f'路演评审排名-{year}.csv')}")
    return response


@bp.route("/ranking/<int:project_id>/excellent", methods=["POST"])
def ranking_excellent(project_id):
    """The admin marks (or unmarks) a project 优秀书记项目."""
    store = get_store()
    form = ExcellentForm()
    project = store.get_project(project_id)
    if project is None:
        abort(404)
    back = redirect(url_for("admin.ranking", year=project["year"],
                            _anchor=f"project-{project_id}"), 303)
    if not form.validate_on_submit():
        flash(CSRF_EXPIRED, "error")
        return back
    excellent = form.excellent.data == "1"
    try:
        scoring.set_excellent(store, project_id, excellent, current_user.username)
    except LookupError:
        abort(404)
    except scoring.ScoreError as exc:
        flash(str(exc), "error")
        return back
    audit("project.excellent", target=str(project_id),
          detail={"title": project["title"], "excellent": excellent})
    flash(f"「{project['title']}」" + ("已评为优秀书记项目" if excellent else "已取消优秀"),
          "success")
    return back


@bp.route("/projects/<int:project_id>/effect", methods=["POST"])
def project_effect(project_id):
    """The county or the matter's township marks the effect of a 书记领办事项."""
    store = get_store()
    index = org_index(store)
    project = store.get_project(project_id)
    if project is None or not access.may(current_user, "assess", project["org_code"], index):
        abort(404)
    form = EffectForm()
    back = redirect(url_for("admin.ranking", year=project["year"], _anchor="matters"), 303)
    if not form.validate_on_submit():
        flash(CSRF_EXPIRED if form.csrf_token.errors else "成效应为 "
              + "、".join(scoring.EFFECTS) + " 之一", "error")
        return back
    try:
        scoring.set_effect(store, project_id, form.effect.data, current_user.username)
    except LookupError:
        abort(404)
    except scoring.ScoreError as exc:
        flash(str(exc), "error")
        return back
    audit("project.effect", target=str(project_id),
          detail={"title": project["title"], "effect": form.effect.data or "未评定"})
    flash(f"「{project['title']}」成效：{form.effect.data or '未评定'}", "success")
    return back
