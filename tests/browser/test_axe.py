"""Every admin page, and the cadre's form, on a 390 px phone: axe-core finds no WCAG 2 A/AA
violation, nothing scrolls sideways or sits off-screen, and every tap target is at least
44 x 44 px.

axe-core is vendored (tests/support/vendor, test-only, never served) and injected through the
DevTools protocol, which the page's Content-Security-Policy does not apply to. Whatever that
policy refuses on a page (an inline script, handler or style) is reported here too.
"""
import functools
import io
import json
import os
import random
from datetime import date, timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect

from seed_data.demo_answers import fake_answers, to_formdata
from services import formdefs, projects, scoring
from services import receipts as receipt_links

pytestmark = pytest.mark.browser

AXE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "support", "vendor", "axe.min.js")
WIDTH, HEIGHT = 390, 844
MIN_TARGET = 44
SHOTS_ENV = "TAIZHANG_AXE_SCREENSHOTS_DIR"  # set to a folder outside the repo to look at pages

FORM = "apply_development"

# Reports every policy violation of the page into window.__cspViolations (an init script runs
# through the DevTools protocol, before any page script, and no page policy applies to it).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') +
                              (e.sourceFile ? ' at ' + e.sourceFile + ':' + e.lineNumber : ''));
});
"""

# Every visible thing a finger may tap: its box, and the box of what receives the tap (a
# checkbox's label). Links inside a sentence (<p>) are exempt from the size rule, as WCAG's
# target-size "inline" exception says; they must still be on screen.
TARGETS = r"""
() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === 'hidden') continue;
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      target = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    const box = target.getBoundingClientRect();
    // Inside a labelled region that scrolls sideways on its own and takes the keyboard focus
    // (a wide data table: WCAG 1.4.10's exception; <div role="region" aria-labelledby
    // tabindex="0">), a target is reached by scrolling that region: only the region must
    // fit. Any other sideways-scrolling box hides what it holds.
    let scroller = el.parentElement;
    while (scroller && !(['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)
                         && scroller.scrollWidth > scroller.clientWidth)) {
      scroller = scroller.parentElement;
    }
    if (scroller && !(scroller.getAttribute('role') === 'region' && scroller.tabIndex >= 0
                      && (scroller.hasAttribute('aria-label')
                          || scroller.hasAttribute('aria-labelledby')))) {
      scroller = null;
    }
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '')
      .replace(/\s+/g, ' ').trim();
    out.push({
      what: `<${el.tagName.toLowerCase()}${el.className ? ' class="' + el.className + '"' : ''}> ${text.slice(0, 30)}`,
      left: box.left + window.scrollX, right: box.right + window.scrollX,
      width: box.width, height: box.height,
      inline: el.tagName === 'A' && !!el.closest('p'),
      scrolled: !!scroller,
    });
  }
  return out;
}
"""


@functools.cache
def _axe_source():
    with open(AXE, encoding="utf-8") as f:
        return f.read()


def _png():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def site(live):
    """The live app with what makes every list non-empty: links for half of a township's
    villages, three submissions of the application form (two pages of them), one monthly
    report with a photo."""
    app, store = live
    app.config["SUBMISSIONS_PER_PAGE"] = 2
    orgs = store.list_orgs()
    township = next(o for o in orgs if o["kind"] == "township")
    villages = [o for o in orgs if o.get("parent_code") == township["code"]]
    links = [store.create_link(FORM, o["code"]) for o in villages[: max(len(villages) // 2, 1)]]
    rng = random.Random(8)
    schema = store.get_form(FORM)["schema"]
    receipts = []
    for i, link in enumerate(links[:3]):
        doc, _new = store.add_submission(FORM, schema["version"], link["org_code"],
                                         fake_answers(schema, rng), f"axe-{i}", link["token"])
        receipts.append(doc["receipt"])
    # A form without a project field: its preview can be checked without projects.
    report = store.get_form("public_demand")["schema"]
    answers = fake_answers(report, rng)
    data = _png()
    answers["photo"] = {"name": "现场.png", "size": len(data), "content_type": "image/png",
                        "file": store.put_photo(data, "image/png")}
    photo_doc, _new = store.add_submission("public_demand", report["version"],
                                           villages[0]["code"], answers, "axe-photo")
    # The lifecycle: the first application opened a project, approved and reported on; the
    # second was corrected by a reviewer (two versions); the third returned to its cadre.
    first = store.get_submission(receipts[0])
    project = projects.open_for_application(store, schema, first)
    for to in ("预审通过", "已立项"):
        project = store.update_project(project["id"], project["revision"], {
            "status": to, "user": "admin",
            "event": {"action": "transition", "from": project["status"], "to": to,
                      "comment": "同意"}})
    monthly = store.get_form("monthly_report")["schema"]
    month = date.today().strftime("%Y-%m")
    store.add_submission("monthly_report", monthly["version"], first["org_code"],
                         {**fake_answers(monthly, rng), "report_month": month,
                          "project": str(project["id"])}, "axe-report",
                         period=month, slot=f"{month}/{project['id']}",
                         project_id=project["id"])
    second = store.get_submission(receipts[1])
    store.update_submission(second["receipt"], 1, {
        "answers": {**second["answers"], "jobs": 99}, "user": "admin", "reason": "核实后更正",
        "event": {"action": "correct", "comment": "核实后更正"}})
    third = store.get_submission(receipts[2])
    store.update_submission(third["receipt"], 1, {
        "status": "退回修改", "user": "admin",
        "event": {"action": "return", "from": "待审核", "to": "退回修改",
                  "comment": "实施步骤请细化到月，并写明每一步的责任人。"}})
    with app.app_context():
        fix_url = f"/r/{receipt_links.key(third)}/{third['receipt']}/edit"
    return {"app": app, "store": store, "base": app.config["BASE_URL"],
            "township": township["code"], "village": villages[0]["code"], "links": links,
            "receipt": receipts[0], "photo_receipt": photo_doc["receipt"],
            "corrected": receipts[1], "project": project["id"], "fix_url": fix_url}


def _context(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    context.add_init_script(CSP_LISTENER)
    return context


def _login(page, base):
    page.goto(f"{base}/login")
    page.fill('[name="username"]', "admin")
    page.fill('[name="password"]', "browser-password")
    page.click("button[type=submit]")
    expect(page.locator(".topbar nav")).to_be_visible()


def _describe(violations):
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            summary = (node.get("failureSummary") or "").strip().splitlines()
            lines.append(f"    {' '.join(node['target'])}: {summary[-1].strip() if summary else ''}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def check_page(page, name):
    """Every check of this module on the page as it is now; a list of readable failures."""
    # Closed <details> hide part of a page: open them so that what is inside is checked too.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    shots = os.environ.get(SHOTS_ENV)
    if shots:
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)
    failures = []
    # A script ending in an expression statement: Playwright evaluates it as is (not as a
    # function to call), through the DevTools protocol.
    page.evaluate(_axe_source() + "\n;0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']});
        return r.violations;
    }""")
    if result:
        failures.append("axe-core violations:\n" + _describe(result))
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > WIDTH:
        failures.append(f"the page scrolls sideways: {scroll_width} px wide at {WIDTH} px")
    for t in page.evaluate(TARGETS):
        if not t["scrolled"] and (t["left"] < 0 or t["right"] > WIDTH + 0.5):
            failures.append(f"off-screen ({t['left']:.0f}..{t['right']:.0f} px): {t['what']}")
        elif not t["inline"] and (t["height"] < MIN_TARGET - 0.5 or t["width"] < MIN_TARGET - 0.5):
            failures.append(f"tap target {t['width']:.0f} x {t['height']:.0f} px: {t['what']}")
    blocked = page.evaluate("window.__cspViolations")
    if blocked:
        failures.append("blocked by the Content-Security-Policy: " + "; ".join(blocked))
    return failures


def _assert_ok(page, name):
    failures = check_page(page, name)
    assert not failures, f"{name} ({page.url}) at {WIDTH} px:\n" + "\n".join(failures)


def _demands(page, site):
    """群众诉求 in every stage at the site's township (one overdue, one reopened after a 不满意
    visit, long texts), besides the site's own at 征集 (with a photo) — then the page again."""
    from services import demands
    from services.orgs import OrgIndex

    store, index = site["store"], OrgIndex(site["store"].list_orgs())
    county = {"username": "admin", "role": "admin", "org_code": None, "active": True}
    schema = store.get_form("public_demand")["schema"]
    today = date.today()
    month_ago = today - timedelta(days=30)
    for n, (stage, content) in enumerate((
            ("研判", "村里到镇上的道路有一段坑洼严重，雨天积水，学生上学和群众出行都很不方便，"
                    "希望尽快修补并加装护栏。"),
            ("办结", "自来水压力不够"), ("回访", "低保申请不知道怎么办理"),
            ("不满意", "河堤有一处塌方"), ("征集", "村部门前路灯坏了"))):
        doc, _new = store.add_submission("public_demand", schema["version"], site["village"], {
            "category": "道路交通", "content": content, "urgency": "较急", "channel": "板凳会",
            "collect_date": month_ago.isoformat(), "collector": "张三", "follow_up": True,
            "follow_up_way": "电话回访"}, f"axe-demand-{n}")
        if stage == "征集":
            continue
        day = month_ago if stage == "研判" else today

        def take(step, **inputs):
            case = store.get_case(doc["receipt"])
            demands.take_step(store, county, index, doc["receipt"], step, inputs,
                              case["revision"] if case else 0, day)

        take("assess", category="道路交通", owner=site["township"],
             deadline=day + timedelta(days=7), comment="镇村联合处理，一周内答复群众。")
        if stage == "研判":
            continue
        take("close", handling="镇交通办已组织施工队修补路面，并在弯道处加装护栏两处，"
                               "群众出行恢复正常。", closed_on=day)
        if stage == "办结":
            continue
        take("visit", satisfaction="满意" if stage == "回访" else "不满意", visited_on=day,
             note="还有一段没有修好，雨天仍然积水。" if stage == "不满意" else "")
        if stage == "不满意":
            site["reopen_receipt"] = doc["receipt"]
    site["overdue_receipt"] = next(c["receipt"] for c in store.list_cases(stages=["研判"]))
    page.reload()


def _demand_overdue(page, site):
    _demands(page, site)
    page.goto(f"{site['base']}/admin/demands/{site['overdue_receipt']}")
    expect(page.locator("[data-overdue]")).to_be_visible()


def _demand_reopen(page, site):
    _demands(page, site)
    page.goto(f"{site['base']}/admin/demands/{site['reopen_receipt']}")
    expect(page.locator("[data-step=reopen]")).to_be_visible()


def _demand_refused(page, site):
    page.fill("#assess-deadline", "2000-01-01")
    page.click("[data-submit=assess]")
    expect(page.locator("[data-step=assess] .tz-error").first).to_be_visible()


def _bad_schema(page, site):
    page.fill('[name="text"]', '{"id": "%s", "title": 1}' % FORM)
    page.click("form.card button[type=submit]")
    expect(page.locator(".schema-error")).to_be_visible()


def _checked_preview(page, site):
    """Submit the preview of 群众诉求征集 with the answers of a stored submission: the page
    then shows the checked answers above the form."""
    store = site["store"]
    answers = store.get_submission(site["photo_receipt"])["answers"]
    for name, value in to_formdata(store.get_form("public_demand")["schema"]["fields"], answers):
        field = page.locator(f'[name="{name}"]')
        if field.first.get_attribute("type") in ("checkbox", "radio"):
            page.locator(f'[name="{name}"][value="{value}"]').check()
        elif field.first.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click("[data-tz-submit]")
    expect(page.locator(".flash-success")).to_be_visible()


def _bad_import(page, site):
    page.locator("details.card summary").click()
    page.set_input_files('[name="file"]', files=[{
        "name": "orgs.csv", "mimeType": "text/csv",
        "buffer": "code,name,parent_code,kind\nX1,,,nowhere\n".encode()}])
    page.click('form[action$="/orgs/import"] button[type=submit]')
    expect(page.locator(".row-errors")).to_be_visible()


def _empty_org(page, site):
    page.click("form.card button[type=submit]")
    expect(page.locator(".tz-error").first).to_be_visible()


def _long_audit_entries(page, site):
    site["store"].add_audit({
        "action": "export", "user": "admin", "target": "monthly_report",
        "detail": {"format": "xlsx", "rows": 40213,
                   "file": "/srv/taizhang/exports/2026-12/月度进展报告-响肠镇-全部村和单位-汇总.xlsx",
                   "filters": {"township": site["township"], "date_from": "2026-01-01"}},
        "address": "2001:db8:85a3:0:0:8a2e:370:7334"})
    page.reload()


def _draft(site, edit=None):
    """Save a draft of FORM: its current definition, changed by ``edit(schema)``."""
    schema = {k: v for k, v in site["store"].get_form(FORM)["schema"].items() if k != "version"}
    if edit:
        edit(schema)
    draft = formdefs.get_draft(site["store"], FORM)
    return formdefs.save_draft(site["store"], FORM, json.dumps(schema, ensure_ascii=False),
                               user="admin", base_revision=draft["revision"] if draft else 0)


def _fewer_themes(schema):
    """A change stored answers do not fit: the theme choices cut to one, a step's task
    shortened, a field renamed, one removed."""
    fields = {f["name"]: f for f in schema["fields"]}
    fields["theme"]["choices"] = fields["theme"]["choices"][:1]
    fields["project_name"].update(name="project_title", renamed_from=["project_name"])
    schema["project"]["title"] = "project_title"  # the project's title follows the rename
    next(s for s in fields["steps"]["fields"] if s["name"] == "task")["max_length"] = 2
    schema["fields"].remove(fields["partners"])


def _builder_cards_open(page, site):
    """Every card open (a repeat's sub-fields too): a select, show_if with "equals" and with
    "in", a repeat, a section, a photo-less boolean."""
    expect(page.locator(".bf-card").first).to_be_visible()
    closed = page.locator(".bf-toggle[aria-expanded=false]")
    while closed.count():  # a repeat's sub-field cards show once the repeat's card is open
        closed.first.click()
    cards = page.locator(".bf-card").count()
    expect(page.locator(".bf-card .bf-body:visible")).to_have_count(cards)


def _builder_json_tab(page, site):
    page.get_by_role("tab", name="高级(JSON)").click()
    expect(page.get_by_label("表单定义(JSON)")).to_be_visible()


def _builder_with_problems(page, site):
    """A draft with problems: they show beside their cards and the 发布 button says why."""
    def broken(schema):
        schema["fields"][1]["label"] = ""
        schema["fields"][7]["show_if"] = {"field": "no_such_field", "equals": "x"}
    _draft(site, broken)
    page.reload()
    expect(page.locator(".bf-card.bf-invalid").first).to_be_visible()
    expect(page.locator("[data-publish-why]")).to_be_visible()
    _builder_cards_open(page, site)


def _builder_bad_json(page, site):
    page.get_by_role("tab", name="高级(JSON)").click()
    page.get_by_label("表单定义(JSON)").fill('{"id": "%s", "title": ' % FORM)
    page.get_by_role("tab", name="字段").click()
    expect(page.locator("[data-json-error]")).to_be_visible()


def _new_form_error(page, site):
    page.click("form.card button[type=submit]")
    expect(page.locator(".tz-error").first).to_be_visible()


def _publish_with_impact(page, site):
    _draft(site, _fewer_themes)
    page.goto(f"{site['base']}/admin/forms/{FORM}/publish")
    expect(page.locator(".bf-impact")).to_be_visible()


def _publish_invalid(page, site):
    _draft(site, lambda schema: schema["fields"][1].update(label=""))
    page.goto(f"{site['base']}/admin/forms/{FORM}/publish")
    expect(page.locator(".flash-error")).to_be_visible()


def _xlsform_imported(page, site):
    from support.xlsforms import VILLAGE_SURVEY

    path = os.path.join(site["app"].config["DATA_DIR"], "village.xlsx")
    with open(path, "wb") as f:
        f.write(VILLAGE_SURVEY)
    page.set_input_files('input[type=file]', path)
    page.click("form.card button[type=submit]")
    expect(page.locator("[data-unmapped]")).to_be_visible()


def _history_with_draft_closed(page, site):
    _draft(site, _fewer_themes)
    formdefs.publish(site["store"], FORM, user="admin")
    _draft(site, lambda schema: schema.update(title=schema["title"] + "(修订)"))
    formdefs.set_closed(site["store"], FORM, True, user="admin")
    page.reload()
    expect(page.locator("table.reflow tbody tr")).to_have_count(2)


def _compare_two_versions(page, site):
    _draft(site, _fewer_themes)
    formdefs.publish(site["store"], FORM, user="admin")
    page.goto(f"{site['base']}/admin/forms/{FORM}/compare")
    expect(page.locator(".bf-change").first).to_be_visible()


def _project_year(site):
    return site["store"].get_project(site["project"])["year"]


def _year_end(page, site):
    """路演评审 for the project's year: the default rubric, three more projects with long titles
    (two tied at the bottom), a 书记领办事项 marked 无明显成效, scores of two judges (one project
    left unfinished), one project 优秀 — then the page again."""
    store, year = site["store"], _project_year(site)
    scoring.save_rubric(store, year, scoring.DEFAULT_RUBRIC, "admin")
    villages = [o["code"] for o in store.list_orgs() if o["kind"] == "village"]
    category = store.get_project(site["project"])["category"]
    made = [site["project"]]
    for i, (title, kind) in enumerate((
            ("党建引领“小冬桃”助力乡村振兴暨村集体经济发展壮大三年行动", "书记项目"),
            ("“三步走”建强村级后备干部队伍", "书记项目"), ("打造“一米菜园”", "书记项目"),
            ("整治农村人居环境，建设美丽乡村", "书记领办事项"))):
        project, _new = store.add_project({
            "title": title, "category": category if kind == "书记项目" else "书记领办事项",
            "kind": kind, "org_code": villages[i + 1], "secretary": "王建国", "year": year,
            "steps": [{"month": f"{year}-03", "task": "流转土地", "owner": "李四"}],
            "status": "已立项", "application": f"axe-year-end-{i}"})
        made.append(project["id"])
    for judge, scores in (("judge1", (18, 36, 17, 18)), ("judge2", (16, 30, 15, 17))):
        for project_id, first in zip(made[:4], (scores[0], 12, 12, 10)):
            store.set_scores(year, project_id, judge, {
                "选题精准": str(first), "推进实效": str(scores[1]), "示范效应": str(scores[2]),
                "群众满意": str(scores[3])})
    store.set_scores(year, made[4], "judge1", {"选题精准": "15"})  # 评分未完成
    scoring.set_excellent(store, made[0], True, "admin")
    scoring.set_effect(store, made[4], "无明显成效", "admin")
    page.reload()


def _bad_scores(page, site):
    _year_end(page, site)
    page.set_input_files('#import input[type=file]', files=[{
        "name": "scores.csv", "mimeType": "text/csv",
        "buffer": f"project,judge,criterion,score\n{site['project']},张评委,选题精准,99\n"
                  "999,张评委,创新性,10\n".encode()}])
    page.click("#import button[type=submit]")
    expect(page.locator("[data-import-errors]")).to_be_visible()


def _refused_sheet(page, site):
    _year_end(page, site)
    page.fill("#c0", "25")
    page.fill("#c1", "")
    page.click(".score-sheet button[type=submit]")
    expect(page.locator(".score-sheet .tz-error").first).to_be_visible()


# (name, path from the site's fixture, what to do on the page before checking it)
ADMIN_PAGES = [
    ("dashboard", lambda s: "/admin/", None),
    ("forms", lambda s: "/admin/forms", None),
    ("form_detail", lambda s: f"/admin/forms/{FORM}", None),
    ("form_detail_error", lambda s: f"/admin/forms/{FORM}", _bad_schema),
    ("form_upload", lambda s: "/admin/forms/upload", None),
    ("form_preview", lambda s: f"/admin/forms/{FORM}/preview", None),
    ("form_preview_checked", lambda s: "/admin/forms/public_demand/preview", _checked_preview),
    ("links", lambda s: f"/admin/forms/{FORM}/links?township={s['township']}", None),
    ("links_all", lambda s: f"/admin/forms/{FORM}/links", None),
    ("qr_sheet", lambda s: f"/admin/forms/{FORM}/qr-sheet?township={s['township']}", None),
    ("submissions", lambda s: f"/admin/forms/{FORM}/submissions", None),
    ("submissions_filtered", lambda s: f"/admin/forms/{FORM}/submissions?township="
     f"{s['township']}&date_from=2099-01-01&date_to=2000-01-01", None),
    ("submission", lambda s: f"/admin/submissions/{s['receipt']}", None),
    ("submission_photo", lambda s: f"/admin/submissions/{s['photo_receipt']}", None),
    ("orgs", lambda s: "/admin/orgs", None),
    ("orgs_import_error", lambda s: "/admin/orgs", _bad_import),
    ("org_edit", lambda s: f"/admin/orgs/{s['village']}/edit", None),
    ("org_new", lambda s: f"/admin/orgs/new?parent={s['township']}", None),
    ("org_new_error", lambda s: "/admin/orgs/new", _empty_org),
    ("audit_log", lambda s: "/admin/audit", _long_audit_entries),
    ("audit_log_filtered", lambda s: "/admin/audit?action=login&date_from=2099-01-01"
     "&date_to=2000-01-01", None),
    ("form_new", lambda s: "/admin/forms/new-form", None),
    ("form_new_error", lambda s: "/admin/forms/new-form", _new_form_error),
    ("builder", lambda s: f"/admin/forms/{FORM}/builder", None),
    ("builder_cards_open", lambda s: f"/admin/forms/{FORM}/builder", _builder_cards_open),
    ("builder_json", lambda s: f"/admin/forms/{FORM}/builder", _builder_json_tab),
    ("builder_problems", lambda s: f"/admin/forms/{FORM}/builder", _builder_with_problems),
    ("builder_bad_json", lambda s: f"/admin/forms/{FORM}/builder", _builder_bad_json),
    ("builder_preview", lambda s: f"/admin/forms/{FORM}/builder/preview", None),
    ("form_publish", lambda s: f"/admin/forms/{FORM}/publish", _publish_with_impact),
    ("form_publish_invalid", lambda s: f"/admin/forms/{FORM}/publish", _publish_invalid),
    ("form_history", lambda s: f"/admin/forms/{FORM}/history", None),
    ("xlsform_import", lambda s: "/admin/forms/import-xlsform", None),
    ("xlsform_imported", lambda s: "/admin/forms/import-xlsform", _xlsform_imported),
    ("form_history_draft_closed", lambda s: f"/admin/forms/{FORM}/history",
     _history_with_draft_closed),
    ("form_compare", lambda s: f"/admin/forms/{FORM}/compare", _compare_two_versions),
    ("users", lambda s: "/admin/users", None),
    ("user_new", lambda s: "/admin/users/new", None),
    ("user_new_error", lambda s: "/admin/users/new", _empty_org),
    ("user_edit", lambda s: "/admin/users/admin/edit", None),
    ("tokens", lambda s: "/admin/tokens", None),
    ("tokens_created", lambda s: "/admin/tokens", lambda page, s: (
        page.fill('[name="label"]', "市级平台每日同步"), page.click("form.card button[type=submit]"),
        expect(page.locator("input[readonly]")).to_be_visible())),
    ("submission_corrected", lambda s: f"/admin/submissions/{s['corrected']}", None),
    ("submission_versions", lambda s: f"/admin/submissions/{s['corrected']}/versions", None),
    ("submission_correct", lambda s: f"/admin/submissions/{s['receipt']}/correct", None),
    ("submission_correct_error", lambda s: f"/admin/submissions/{s['receipt']}/correct",
     lambda page, s: (page.click(".submit-bar button[type=submit]"),
                      expect(page.locator(".flash-error")).to_be_visible())),
    ("projects", lambda s: "/admin/projects", None),
    ("project", lambda s: f"/admin/projects/{s['project']}", None),
    ("demands", lambda s: "/admin/demands", _demands),
    ("demands_empty", lambda s: "/admin/demands?stage=回访&overdue=1", None),
    ("demands_township", lambda s: f"/admin/demands?township={s['township']}", _demands),
    ("demand", lambda s: f"/admin/demands/{s['photo_receipt']}", None),
    ("demand_refused", lambda s: f"/admin/demands/{s['photo_receipt']}", _demand_refused),
    ("demand_overdue", lambda s: "/admin/demands", _demand_overdue),
    ("demand_reopen", lambda s: "/admin/demands", _demand_reopen),
    ("reporting", lambda s: f"/admin/forms/{FORM}/reporting?township={s['township']}", None),
    ("reporting_monthly", lambda s: "/admin/forms/monthly_report/reporting", None),
    ("reporting_matrix", lambda s: "/admin/forms/monthly_report/reporting/matrix", None),
    ("stats", lambda s: "/admin/dashboard", None),
    ("stats_township", lambda s: f"/admin/dashboard?org={s['township']}", None),
    ("scoring", lambda s: f"/admin/scoring?year={_project_year(s)}", _year_end),
    ("scoring_no_rubric", lambda s: "/admin/scoring?year=2099", None),
    ("scoring_import_error", lambda s: f"/admin/scoring?year={_project_year(s)}", _bad_scores),
    ("scoring_sheet", lambda s: f"/admin/scoring/{s['project']}?year={_project_year(s)}",
     _year_end),
    ("scoring_sheet_error", lambda s: f"/admin/scoring/{s['project']}?year={_project_year(s)}",
     _refused_sheet),
    ("ranking", lambda s: f"/admin/ranking?year={_project_year(s)}", _year_end),
    ("ranking_empty", lambda s: "/admin/ranking?year=2099", None),
    ("not_found", lambda s: "/admin/forms/no_such_form", None),
]


@pytest.mark.parametrize("name,path,action", ADMIN_PAGES, ids=[p[0] for p in ADMIN_PAGES])
def test_admin_page_on_a_phone(site, browser, name, path, action):
    context = _context(browser)
    page = context.new_page()
    _login(page, site["base"])
    response = page.goto(site["base"] + path(site))
    assert response.status == (404 if name == "not_found" else 200)
    if action:
        action(page, site)
    _assert_ok(page, name)
    context.close()


def test_login_and_error_pages_on_a_phone(site, browser):
    context = _context(browser)
    page = context.new_page()
    page.goto(site["base"] + "/login")
    _assert_ok(page, "login")
    page.fill('[name="username"]', "admin")
    page.fill('[name="password"]', "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".tz-error, .flash-error").first).to_be_visible()
    _assert_ok(page, "login_error")
    assert page.goto(site["base"] + "/f/no-such-link").status == 404
    _assert_ok(page, "public_not_found")
    context.close()


def test_public_form_on_a_phone(site, browser):
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{site['base']}/f/{site['links'][0]['token']}")
    expect(page.locator(".org-badge")).to_be_visible()
    _assert_ok(page, "public_form")
    context.close()


def test_a_returned_submission_on_a_phone(site, browser):
    """The cadre's side of 退回修改: the private receipt with the reviewer's comment, and the
    correction page, prefilled."""
    context = _context(browser)
    page = context.new_page()
    page.goto(site["base"] + site["fix_url"].removesuffix("/edit"))
    expect(page.locator(".tz-returned")).to_be_visible()
    _assert_ok(page, "receipt_returned")
    page.goto(site["base"] + site["fix_url"])
    expect(page.locator("[data-tz-returned]")).to_be_visible()
    _assert_ok(page, "public_correction")
    context.close()


def test_the_checks_catch_what_they_are_for(site, browser):
    """Each check fails on a page broken on purpose: low-contrast text, a table wider than the
    phone, an action in a box that scrolls sideways, a small tap target, an inline style."""
    context = _context(browser)
    page = context.new_page()
    _login(page, site["base"])
    page.goto(site["base"] + "/admin/forms")
    assert not check_page(page, "forms_ok")

    page.evaluate("document.querySelector('h1').style.setProperty('color', '#aaa')")
    failures = check_page(page, "broken_contrast")
    assert any("color-contrast" in f for f in failures), failures
    page.reload()

    page.evaluate("document.querySelector('.table').style.minWidth = '600px'")
    failures = check_page(page, "broken_width")
    assert any("scrolls sideways" in f for f in failures), failures
    page.reload()

    # An action the page cannot be scrolled to: inside a box that scrolls on its own.
    page.evaluate("""() => {
        const box = document.createElement('div');
        box.style.overflowX = 'auto';
        box.innerHTML = '<a class="btn" href="#">藏在右边</a>';
        box.firstChild.style.marginLeft = '500px';
        document.querySelector('main').append(box);
    }""")
    failures = check_page(page, "broken_offscreen")
    assert any(f.startswith("off-screen") and "藏在右边" in f for f in failures), failures
    assert not any("scrolls sideways" in f for f in failures), failures
    page.reload()

    page.evaluate("""() => {
        const a = document.createElement('a');
        a.href = '#'; a.textContent = '小';
        document.querySelector('main').append(a);
    }""")
    failures = check_page(page, "broken_target")
    assert any(f.startswith("tap target") and "小" in f for f in failures), failures
    page.reload()

    # An inline style in the served HTML is refused by the policy and reported.
    def inject_style(route):
        response = route.fetch()
        body = response.text().replace("<h1>", '<h1 style="color: #b3261e">', 1)
        route.fulfill(response=response, body=body)
    page.route(f"{site['base']}/admin/forms", inject_style)
    response = page.goto(site["base"] + "/admin/forms")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    failures = check_page(page, "broken_csp")
    assert any("Content-Security-Policy" in f for f in failures), failures
    context.close()


# Admin URLs that answer with a file, not a page.
NOT_PAGES = {"admin.export", "admin.link_qr", "admin.photo", "admin.form_version_json",
             "admin.form_version_json_schema", "admin.orgs_csv", "admin.reporting_export",
             "admin.ranking_csv", "admin.summary"}


def test_every_admin_page_is_checked(site):
    """A new admin page must join ADMIN_PAGES (a page added without it fails here)."""
    app = site["app"]
    adapter = app.url_map.bind("localhost")
    checked = {adapter.match(path(site).split("?")[0])[0] for _name, path, _a in ADMIN_PAGES
               if _name != "not_found"}
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("admin.") and "GET" in rule.methods}
    missing = pages - checked - NOT_PAGES
    assert not missing, f"admin pages not checked on a phone, add them to ADMIN_PAGES: {missing}"
