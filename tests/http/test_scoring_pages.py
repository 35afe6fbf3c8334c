"""路演评审 pages through HTTP, on both backends (views/admin/scoring.py over services.scoring):
a judge's list and score sheet, refusals beside their inputs with nothing stored, who may open
what, the admin's rubric and CSV import, the ranking page (ties, the bottom 5%, 优秀, the
two-year lists, 成效 of 书记领办事项) and ranking.csv against services.scoring.ranking_table."""
import csv
import io
import re
import uuid
from decimal import Decimal

import pytest

from db import get_store
from services import accounts, scoring
from services.orgs import org_index
from support.helpers import ADMIN, csrf_token, login

YEAR = 2026
TOWNSHIP_A, TOWNSHIP_B = "340828101", "340828102"  # 响肠镇 / 菖蒲镇
QIANFOTA, YUFAN, XIANGCHANG = "340828101202", "340828101203", "340828101201"  # in A
CHANGPU, GANGHE = "340828102201", "340828102202"  # in B
PASSWORD = "scoring-password-1"
PEOPLE = {"judge1": ("judge", None), "judge2": ("judge", None),
          "judge_a": ("judge", TOWNSHIP_A), "rev_a": ("reviewer", TOWNSHIP_A),
          "rev_b": ("reviewer", TOWNSHIP_B), "viewer_a": ("viewer", TOWNSHIP_A)}
DEVELOPMENT, CULTURE = "党建引领发展类", "党建文化建设类"
# 推进实效 weighs 1.5: a total is 选题精准's mean + 1.5 × 推进实效's mean.
RUBRIC = [{"name": "选题精准", "max": 20, "weight": 1},
          {"name": "推进实效", "max": 40, "weight": 1.5}]


def add_project(store, org, title, category=DEVELOPMENT, kind="书记项目", year=YEAR,
                status="已立项"):
    doc, _new = store.add_project({
        "title": title, "category": category, "kind": kind, "org_code": org,
        "secretary": "王建国", "year": year, "status": "已申报",
        "steps": [{"month": f"{year}-03", "task": "流转土地200亩", "owner": "李四"}],
        "application": uuid.uuid4().hex[:12]})
    if status != "已申报":
        doc = store.update_project(doc["id"], doc["revision"], {
            "status": status, "user": "admin",
            "event": {"action": "transition", "from": "已申报", "to": status, "comment": ""}})
    return doc


@pytest.fixture
def people(app):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        for username, (role, org) in PEOPLE.items():
            accounts.create_user(get_store(), username, PASSWORD, role, org)


@pytest.fixture
def as_user(app, people):
    """username -> a logged-in test client (made once per user)."""
    clients = {}

    def client_of(username):
        if username not in clients:
            client = app.test_client()
            response = login(client, username, ADMIN[1] if username == "admin" else PASSWORD)
            assert response.status_code == 302, username
            clients[username] = client
        return clients[username]

    return client_of


@pytest.fixture
def year(store):
    """YEAR's rubric and projects: five of 党建引领发展类 (four in 响肠镇, one in 菖蒲镇), two of
    党建文化建设类, a 书记领办事项 in 千佛塔村, one project still 已申报 (not scored)."""
    scoring.save_rubric(store, YEAR, RUBRIC, "admin")
    p = {name: add_project(store, org, title) for name, org, title in (
        ("p1", QIANFOTA, "一米菜园"), ("p2", XIANGCHANG, "小冬桃"), ("p3", CHANGPU, "茶旅融合"),
        ("p4", YUFAN, "村级后备干部"), ("p5", GANGHE, "光伏电站"))}
    p["q1"] = add_project(store, QIANFOTA, "红色课堂", category=CULTURE)
    p["q2"] = add_project(store, CHANGPU, "村史馆", category=CULTURE)
    p["matter"] = add_project(store, QIANFOTA, "整治人居环境", category="书记领办事项",
                              kind="书记领办事项")
    p["applied"] = add_project(store, YUFAN, "尚未立项的项目", status="已申报")
    return p


def score(store, judge, project, first, second=None):
    values = {"选题精准": first}
    if second is not None:
        values["推进实效"] = second
    store.set_scores(YEAR, project["id"], judge,
                     {k: str(v) for k, v in values.items()})


@pytest.fixture
def scored(store, year):
    """Two judges' scores. Totals (选题精准 mean + 1.5 × 推进实效 mean):
    p1 17 + 1.5 × 34 = 68.00; p2 15 + 45 = 60.00; p3 15 + 1.5 × 30 = 60.00 (tied with p2);
    p4 (one judge) 10 + 30 = 40.00, the bottom 5% of five ranked… p5 has no 推进实效: 评分未完成.
    q1 and q2 both 12 + 1.5 × 20 = 42.00: tied first, and both the bottom of their category."""
    for judge, values in (("judge1", {"p1": (18, 35), "p2": (15, 30), "p3": (14, 32),
                                      "p4": (10, 20), "q1": (12, 20), "q2": (12, 20)}),
                          ("judge2", {"p1": (16, 33), "p2": (15, 30), "p3": (16, 28),
                                      "q1": (12, 20), "q2": (12, 20)})):
        for name, (first, second) in values.items():
            score(store, judge, year[name], first, second)
    score(store, "judge1", year["p5"], 11)
    return year


def row_html(html, project_id):
    match = re.search(rf'<tr id="project-{project_id}".*?</tr>', html, re.S)
    assert match, f"no ranking row for project {project_id}"
    return match.group(0)


def cell(row, attribute):
    return re.sub(r"<[^>]+>", "", re.search(rf"<td[^>]*{attribute}[^>]*>(.*?)</td>", row,
                                            re.S).group(1)).strip()


def page_token(client, url=f"/admin/ranking?year={YEAR}"):
    return csrf_token(client.get(url).get_data(as_text=True))


# ---------------------------------------------------------------- a judge's sheet

def sheet_post(client, project_id, values, url_year=YEAR):
    url = f"/admin/scoring/{project_id}?year={url_year}"
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="rubric_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "rubric_key": key}
    data.update({f"c{i}": v for i, v in enumerate(values)})
    return client.post(url, data=data)


def test_a_judge_scores_a_sheet_and_is_taken_to_the_next(store, year, as_user):
    judge = as_user("judge1")
    listing = judge.get(f"/admin/scoring?year={YEAR}")
    text = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert "已评完 0 / 8 个项目" in text  # 8 registered projects; 已申报 is not scored
    assert year["applied"]["title"] not in text
    assert text.index(DEVELOPMENT) < text.index("一米菜园") < text.index(CULTURE)
    sheet = judge.get(f"/admin/scoring/{year['p1']['id']}?year={YEAR}").get_data(as_text=True)
    for expected in ("一米菜园", "王建国", "流转土地200亩", "响肠镇", "千佛塔村",
                     f'href="/admin/projects/{year["p1"]["id"]}"', "（0–20 分）",
                     "（0–40 分，权重 1.5）"):
        assert expected in sheet, expected
    assert sheet.count('inputmode="decimal"') == 2

    saved = sheet_post(judge, year["p1"]["id"], ["18", "35.5"])
    order = [p["id"] for p in scoring.scorable_projects(store, YEAR)]
    following = order[order.index(year["p1"]["id"]) + 1]
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/admin/scoring/{following}?year={YEAR}")
    assert {s["criterion"]: s["score"] for s in store.list_scores(YEAR, judge="judge1")} == {
        "选题精准": "18", "推进实效": "35.5"}
    text = judge.get(f"/admin/scoring?year={YEAR}").get_data(as_text=True)
    assert "已评完 1 / 8 个项目" in text
    assert re.search(rf'data-score-project="{year["p1"]["id"]}".*?data-state>已评<', text, re.S)
    # Amended: the sheet shows the earlier scores, a new save replaces them
    again = judge.get(f"/admin/scoring/{year['p1']['id']}?year={YEAR}").get_data(as_text=True)
    assert 'value="35.5"' in again and "已评过，可修改" in again
    sheet_post(judge, year["p1"]["id"], ["19", "35.5"])
    assert sorted(s["score"] for s in store.list_scores(YEAR, judge="judge1")) == ["19", "35.5"]
    entry = store.query_audit(action="score.save", limit=5)[0][0]
    assert entry["user"] == "judge1" and entry["target"] == str(year["p1"]["id"])
    assert entry["detail"]["judge"] == "judge1"


def test_the_last_sheet_goes_back_to_the_list(store, year, as_user):
    judge = as_user("judge_a")  # 响肠镇 only: p1, p2, p4, q1, the matter
    mine = [p for p in scoring.scorable_projects(store, YEAR) if p["org_code"].startswith(
        TOWNSHIP_A)]
    assert len(mine) == 5
    for project in mine[:-1]:
        score(store, "judge_a", project, 10, 20)
    done = sheet_post(judge, mine[-1]["id"], ["10", "20"])
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/admin/scoring?year={YEAR}")
    text = judge.get(done.headers["Location"]).get_data(as_text=True)
    assert "已全部评完" in text and "已评完 5 / 5 个项目" in text


@pytest.mark.parametrize("values,field,message", [
    (["25", "30"], "c0", "「选题精准」的分数应在 0 到 20 之间，收到 25"),
    (["18", ""], "c1", "请填写「推进实效」的分数"),
    (["abc", "30"], "c0", "不是数字"),
    (["18", "30.125"], "c1", "最多保留两位小数"),
    (["-1", "30"], "c0", "应在 0 到 20 之间"),
])
def test_a_refused_sheet_shows_errors_beside_inputs_and_stores_nothing(
        store, year, as_user, values, field, message):
    judge = as_user("judge1")
    score(store, "judge1", year["p2"], 15, 30)  # an earlier sheet stays as it was
    before = store.list_scores(YEAR, judge="judge1")
    for project in ("p1", "p2"):
        refused = sheet_post(judge, year[project]["id"], values)
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*'
                         rf'id="{field}"', text)
        assert re.search(rf'<p class="tz-error" id="{field}-error">[^<]*{message}', text)
        assert "尚未保存" in text
        assert f'value="{values[0]}"' in text  # what was typed stays in the inputs
    assert store.list_scores(YEAR, judge="judge1") == before


def test_who_may_open_a_sheet(store, year, as_user):
    p1, p3 = year["p1"]["id"], year["p3"]["id"]
    for username in ("rev_a", "viewer_a"):
        client = as_user(username)
        assert client.get(f"/admin/scoring/{p1}?year={YEAR}").status_code == 403
        assert client.get(f"/admin/scoring?year={YEAR}").status_code == 403
        token = page_token(client)
        assert client.post(f"/admin/scoring/{p1}?year={YEAR}", data={
            "csrf_token": token, "c0": "10", "c1": "10"}).status_code == 403
    judge_a = as_user("judge_a")
    assert judge_a.get(f"/admin/scoring/{p1}?year={YEAR}").status_code == 200
    assert judge_a.get(f"/admin/scoring/{p3}?year={YEAR}").status_code == 404  # 菖蒲镇
    assert "茶旅融合" not in judge_a.get(f"/admin/scoring?year={YEAR}").get_data(as_text=True)
    judge = as_user("judge1")
    assert judge.get(f"/admin/scoring/{p3}?year={YEAR}").status_code == 200  # the county
    assert judge.get(f"/admin/scoring/{year['applied']['id']}?year={YEAR}").status_code == 404
    assert judge.get(f"/admin/scoring/{p1}?year={YEAR - 1}").status_code == 404
    assert judge.get("/admin/scoring/9999").status_code == 404
    assert store.list_scores(YEAR) == []
    assert as_user("admin").get(f"/admin/scoring/{p3}?year={YEAR}").status_code == 200


def test_the_navigation_offers_scoring_and_ranking_to_who_may_use_them(year, as_user):
    for username, scoring_link, ranking_link in (("admin", True, True), ("judge1", True, True),
                                                 ("rev_a", False, True),
                                                 ("viewer_a", False, True)):
        page = as_user(username).get("/admin/").get_data(as_text=True)
        assert ('href="/admin/scoring"' in page) is scoring_link, username
        assert ('href="/admin/ranking"' in page) is ranking_link, username


# ---------------------------------------------------------------- the admin: rubric, import

def post_rubric(client, text, year_=YEAR):
    return client.post(f"/admin/scoring/rubric?year={year_}",
                       data={"csrf_token": page_token(client), "text": text})


def test_the_admin_sets_the_rubric_and_a_change_that_would_orphan_a_score_is_refused(
        store, year, as_user):
    admin = as_user("admin")
    fresh = admin.get(f"/admin/scoring?year={YEAR + 1}").get_data(as_text=True)
    assert "默认标准" in fresh and scoring.rubric_text(scoring.DEFAULT_RUBRIC) in fresh
    assert as_user("judge1").get(f"/admin/scoring?year={YEAR}").get_data(
        as_text=True).count('id="rubric-text"') == 0  # judges see no editor

    saved = post_rubric(admin, "选题精准 20\n推进实效 40 1.5\n群众满意，20", YEAR + 1)
    assert saved.status_code == 303
    assert scoring.rubric_of(store, YEAR + 1) == [
        {"name": "选题精准", "max": 20, "weight": 1},
        {"name": "推进实效", "max": 40, "weight": 1.5},
        {"name": "群众满意", "max": 20, "weight": 1}]
    entry = store.query_audit(action="rubric.save", limit=1)[0][0]
    assert (entry["user"], entry["target"], entry["detail"]) == ("admin", str(YEAR + 1),
                                                                {"criteria": 3})

    score(store, "judge1", year["p1"], 18, 35)
    for text, message in (("选题精准 15\n推进实效 40 1.5", "最高分不能低于它"),
                          ("推进实效 40 1.5", "「选题精准」已有评委打分，不能删除"),
                          ("选题精准 abc", "第 1 行：「abc」不是数字"),
                          ("选题精准 20 1 9", "第 1 行应为「评分项 最高分 [权重]」"),
                          ("", "评分标准至少要有一个评分项")):
        refused = post_rubric(admin, text)
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422, text
        assert message in body and "没有保存" in body, text
        assert scoring.rubric_of(store, YEAR) == RUBRIC
    assert post_rubric(admin, "选题精准 18\n推进实效 40 1.5").status_code == 303  # 18 fits
    for username in ("judge1", "rev_a", "viewer_a"):
        assert post_rubric(as_user(username), "选题精准 5").status_code == 403


def post_csv(client, data, filename="scores.csv"):
    return client.post(f"/admin/scoring/import?year={YEAR}", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client),
                             "file": (io.BytesIO(data), filename)})


def test_a_csv_import_with_bad_rows_names_each_and_stores_nothing(store, year, as_user):
    admin = as_user("admin")
    p1, p2 = year["p1"]["id"], year["p2"]["id"]
    bad = (f"project,judge,criterion,score\n"
           f"{p1},张评委,选题精准,18\n"        # line 2: fine
           f"{p1},张评委,推进实效,50\n"        # 3: above 40
           f"9999,张评委,选题精准,10\n"        # 4: no such project
           f"{p2},张评委,创新性,10\n"          # 5: not in the rubric
           f"{p1},张评委,选题精准,17\n"        # 6: the same judge and criterion again
           f"{year['applied']['id']},张评委,选题精准,10\n")  # 7: not 已立项
    refused = post_csv(admin, bad.encode())
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "没有保存任何评分" in text
    named = re.findall(r'data-line="(\d+)"', text)
    assert named == ["3", "4", "5", "6", "7"]
    for line, words in ((3, "0 到 40"), (4, "9999"), (5, "创新性"), (6, "与第 2 行重复")):
        assert re.search(rf'data-line="{line}">第 {line} 行：[^<]*{words}', text), line
    assert store.list_scores(YEAR) == []

    good = ("项目,评委,评分项,分数\n"
            f"{p1},张评委,选题精准,18\n{p1},张评委,推进实效,36\n"
            f"一米菜园,李评委,选题精准,16.5\n{p1},李评委,推进实效,30\n").encode("gb18030")
    imported = post_csv(admin, good)
    assert imported.status_code == 303
    assert "已导入 4 条评分" in admin.get(imported.headers["Location"]).get_data(as_text=True)
    assert sorted((s["judge"], s["criterion"], s["score"]) for s in store.list_scores(YEAR)) == [
        ("张评委", "推进实效", "36"), ("张评委", "选题精准", "18"),
        ("李评委", "推进实效", "30"), ("李评委", "选题精准", "16.5")]
    entry = store.query_audit(action="score.import", limit=1)[0][0]
    assert entry["detail"] == {"rows": 4, "file": "scores.csv"}
    progress = admin.get(f"/admin/scoring?year={YEAR}").get_data(as_text=True)
    assert re.search(r'data-judge="张评委".*?导入的纸质评分.*?data-complete>1<', progress, re.S)
    assert re.search(r'data-judge="judge1".*?data-complete>0<', progress, re.S)
    assert post_csv(admin, good).status_code == 422  # the same sheets again: refused
    assert len(store.list_scores(YEAR)) == 4
    no_file = post_csv(admin, b"", filename="")
    assert no_file.status_code == 422 and "请选择 CSV 文件" in no_file.get_data(as_text=True)
    assert post_csv(as_user("judge1"), good).status_code == 403


def test_judge_progress_counts_complete_sheets(store, scored, as_user):
    page = as_user("admin").get(f"/admin/scoring?year={YEAR}").get_data(as_text=True)
    # judge1: p1–p4, q1, q2 complete, p5 partial; judge2: five; judge_a (响肠镇): none of 5
    assert re.search(r'data-judge="judge1".*?data-complete>6<.*?>1<.*?>8<', page, re.S)
    assert re.search(r'data-judge="judge2".*?data-complete>5<.*?>0<.*?>8<', page, re.S)
    assert re.search(r'data-judge="judge_a".*?data-complete>0<.*?>0<.*?>5<', page, re.S)


# ---------------------------------------------------------------- the ranking

def test_the_ranking_shows_ties_the_bottom_5_percent_and_the_rule(store, scored, as_user):
    page = as_user("viewer_a").get(f"/admin/ranking?year={YEAR}")
    assert page.status_code == 200
    admin = as_user("admin").get(f"/admin/ranking?year={YEAR}").get_data(as_text=True)
    assert scoring.BOTTOM_RULE in admin
    expected = {"p1": ("1", "68.00", False), "p2": ("2（并列）", "60.00", False),
                "p3": ("2（并列）", "60.00", False), "p4": ("4", "40.00", True),
                "p5": ("评分未完成", "—", False),
                "q1": ("1（并列）", "42.00", True), "q2": ("1（并列）", "42.00", True)}
    for name, (rank, total, bottom) in expected.items():
        row = row_html(admin, scored[name]["id"])
        assert (cell(row, "data-rank"), cell(row, "data-total")) == (rank, total), name
        assert ("末位 5%" in row) is bottom, name
    assert admin.index("小冬桃") < admin.index("茶旅融合") < admin.index("村级后备干部") \
        < admin.index("光伏电站")  # ranked by total, the unfinished one after
    assert "17.00" in row_html(admin, scored["p1"]["id"])  # a criterion's mean
    # A township sees its rows only, with the county's ranks
    township = page.get_data(as_text=True)
    assert "茶旅融合" not in township and "村史馆" not in township
    assert cell(row_html(township, scored["p2"]["id"]), "data-rank") == "2（并列）"
    assert cell(row_html(township, scored["p4"]["id"]), "data-rank") == "4"


def test_without_a_rubric_nothing_is_ranked(store, year, as_user):
    add_project(store, QIANFOTA, "明年的项目", year=YEAR + 1)
    page = as_user("admin").get(f"/admin/ranking?year={YEAR + 1}").get_data(as_text=True)
    assert "尚未设置评分标准" in page and "明年的项目" in page and "评分未完成" in page


def test_the_ranking_csv_is_the_ranking_table(store, scored, as_user, app):
    for username, scope in (("admin", None), ("rev_a", TOWNSHIP_A)):
        response = as_user(username).get(f"/admin/ranking.csv?year={YEAR}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.data.startswith(b"\xef\xbb\xbf")
        got = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        with app.app_context():
            index = org_index(get_store())
            codes = index.below(scope) if scope else None
            headers, rows = scoring.ranking_table(scoring.year_ranking(store, YEAR), index,
                                                  codes)

        def text(header, value):
            if header == "组织代码":
                return f'="{value}"'  # kept as text by Excel
            if value is None:
                return ""
            return format(value, "f") if isinstance(value, Decimal) else str(value)

        assert got[0] == headers
        assert got[1:] == [[text(h, v) for h, v in zip(headers, row)] for row in rows]
        assert len(rows) == (8 if scope is None else 5)
    reviewer_rows = list(csv.reader(io.StringIO(as_user("rev_a").get(
        f"/admin/ranking.csv?year={YEAR}").data.decode("utf-8-sig"))))
    p2 = next(r for r in reviewer_rows if r[3] == str(scored["p2"]["id"]))
    assert (p2[1], p2[2]) == ("2", "并列")  # the county's rank
    assert store.query_audit(action="export", limit=1)[0][0]["detail"]["rows"] == 5


def test_a_title_typed_like_a_formula_stays_text_in_the_csv(store, year, as_user):
    add_project(store, QIANFOTA, "=HYPERLINK(1)")
    body = as_user("admin").get(f"/admin/ranking.csv?year={YEAR}").data.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body and ',"=HYPERLINK' not in body


def test_only_the_admin_marks_a_project_excellent(store, scored, as_user):
    p1 = scored["p1"]["id"]
    for username in ("judge1", "rev_a", "viewer_a"):
        client = as_user(username)
        assert client.post(f"/admin/ranking/{p1}/excellent", data={
            "csrf_token": page_token(client), "excellent": "1"}).status_code == 403
        assert "评为优秀" not in client.get(f"/admin/ranking?year={YEAR}").get_data(as_text=True)
    assert not store.get_project(p1).get("excellent")
    admin = as_user("admin")
    marked = admin.post(f"/admin/ranking/{p1}/excellent",
                        data={"csrf_token": page_token(admin), "excellent": "1"})
    assert marked.status_code == 303 and store.get_project(p1)["excellent"] is True
    row = row_html(admin.get(f"/admin/ranking?year={YEAR}").get_data(as_text=True), p1)
    assert "优秀书记项目" in row and "取消优秀" in row
    viewer = row_html(as_user("viewer_a").get(f"/admin/ranking?year={YEAR}").get_data(
        as_text=True), p1)
    assert "优秀书记项目" in viewer
    entry = store.query_audit(action="project.excellent", limit=1)[0][0]
    assert entry["detail"] == {"title": "一米菜园", "excellent": True}
    admin.post(f"/admin/ranking/{p1}/excellent",
               data={"csrf_token": page_token(admin), "excellent": "0"})
    assert store.get_project(p1)["excellent"] is False
    assert admin.post("/admin/ranking/9999/excellent", data={
        "csrf_token": page_token(admin), "excellent": "1"}).status_code == 404


def post_effect(client, project_id, effect):
    return client.post(f"/admin/projects/{project_id}/effect",
                       data={"csrf_token": page_token(client), "effect": effect})


def test_effect_of_a_matter_by_its_township_and_the_weak_list(store, year, as_user):
    matter = year["matter"]["id"]
    last_year = add_project(store, QIANFOTA, "去年的领办事项", category="书记领办事项",
                            kind="书记领办事项", year=YEAR - 1)
    scoring.set_effect(store, last_year["id"], "无明显成效", "admin")
    assert post_effect(as_user("rev_b"), matter, "无明显成效").status_code == 404
    for username in ("viewer_a", "judge1"):
        assert post_effect(as_user(username), matter, "无明显成效").status_code == 403
    assert store.get_project(matter).get("effect") is None
    rev_a = as_user("rev_a")
    bad = post_effect(rev_a, matter, "很好")
    assert bad.status_code == 303 and store.get_project(matter).get("effect") is None
    assert "成效应为" in rev_a.get(bad.headers["Location"]).get_data(as_text=True)

    page = rev_a.get(f"/admin/ranking?year={YEAR}").get_data(as_text=True)
    assert re.search(rf'data-matter="{matter}".*?未评定', page, re.S)
    assert "data-weak-none" in page
    done = post_effect(rev_a, matter, "无明显成效")
    assert done.status_code == 303 and done.headers["Location"].endswith(
        f"/admin/ranking?year={YEAR}#matters")
    assert store.get_project(matter)["effect"] == "无明显成效"
    page = rev_a.get(f"/admin/ranking?year={YEAR}").get_data(as_text=True)
    weak = page[page.index('id="weak"'):page.index('id="matters"')]
    assert f'data-org="{QIANFOTA}"' in weak and "响肠镇" in weak and "千佛塔村" in weak
    assert "千佛塔村" not in as_user("rev_b").get(f"/admin/ranking?year={YEAR}").get_data(
        as_text=True)  # another township's list leaves it out
    entry = store.query_audit(action="project.effect", limit=1)[0][0]
    assert entry["user"] == "rev_a" and entry["detail"]["effect"] == "无明显成效"
    # Not a matter: refused with the reason, nothing changed
    admin = as_user("admin")
    other = post_effect(admin, year["p1"]["id"], "成效明显")
    assert "只适用于书记领办事项" in admin.get(other.headers["Location"]).get_data(as_text=True)
    assert store.get_project(year["p1"]["id"]).get("effect") is None
    assert post_effect(admin, 9999, "成效明显").status_code == 404


def test_organizations_in_the_bottom_two_years_in_a_row(store, scored, as_user):
    """余畈村's p4 is this year's bottom; last year it was the bottom too."""
    scoring.save_rubric(store, YEAR - 1, RUBRIC, "admin")
    old_low = add_project(store, YUFAN, "去年的末位项目", year=YEAR - 1)
    old_high = add_project(store, CHANGPU, "去年的好项目", year=YEAR - 1)
    for project, values in ((old_low, ("5", "10")), (old_high, ("18", "38"))):
        store.set_scores(YEAR - 1, project["id"], "judge1",
                         dict(zip(("选题精准", "推进实效"), values)))
    page = as_user("admin").get(f"/admin/ranking?year={YEAR}").get_data(as_text=True)
    section = page[page.index('id="bottom-two-years"'):page.index('id="weak"')]
    assert f'data-org="{YUFAN}"' in section and "响肠镇" in section and "余畈村" in section
    assert f'data-org="{CHANGPU}"' not in section  # 村史馆 is bottom this year only
    assert "连续两年末位" in row_html(page, scored["p4"]["id"])
    assert "余畈村" not in as_user("rev_b").get(f"/admin/ranking?year={YEAR}").get_data(
        as_text=True)
