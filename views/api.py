"""JSON API v1 (/api/v1): forms, submissions, their review, organizations, projects and the
催报 state, for the systems above the county and for scripts. Described by its OpenAPI
document (views/api_openapi.py, served at /api/v1/openapi.json).

- Auth: ``Authorization: Bearer <token>`` (services.tokens); the token acts as its user, with
  the user's role and scope as they are at each call (services.access). No cookie, no
  session, no CSRF token: a browser's session does not open the API.
- Scope: what the token's user may not see answers 404 ``not_found``, exactly as what does not
  exist (a receipt, a project, an organization filter); lists leave it out. A role that may
  not do an action at all gets 403 ``forbidden``.
- Errors: always ``{"error": {"code", "message": "中文 / English", "details"?}}`` with the
  status of its code (ERRORS), routing errors under /api/v1 included.
- Writes (review, project transition) call the same services as the pages (services.review,
  services.projects), are audited like them, and write no answers (v1 has no answer-writing
  endpoint: answers are written through the forms' own pages and form classes only).
- Lists of submissions page by cursor in id order; ``server_time`` is the ``since`` of the
  next incremental sync (see form_submissions).
- Rate limit: RATE_LIMIT_API (default DEFAULT_LIMIT) per token (per client address for
  requests without one), in the app's limiter (ratelimits.py); "off" turns it off.
"""
import base64
import binascii
import hashlib
import json
import re
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, default_exceptions

from db import get_store
from services import access, audit, periods, projects, reporting, review, tokens
from services.orgs import org_index
from storage import common
from storage.errors import PeriodTaken, RecordChanged, StorageError
from views import api_openapi
from views.web import entry_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/v1"
REALM = "taizhang"
DEFAULT_LIMIT = "600 per minute"
PAGE_DEFAULT = 100
PAGE_MAX = 500
# server_time lies this far before the answer: a write that was being committed while a
# page was read (its updated_at taken before, its commit after) is sent again by the next
# sync instead of being missed. A sync may see a submission twice, never miss one.
SYNC_MARGIN = timedelta(seconds=5)
MAX_ID = 2 ** 53 - 1  # larger ids exist nowhere (and would overflow a database integer)
# Submissions a list returns unless asked for by status: voided ones are left out.
LISTED_STATUSES = tuple(s for s in review.STATUSES if s != "已作废")
REVIEW_ACTIONS = tuple(review.ACTIONS)  # approve, return, void, restore

_RECEIPT = re.compile(r"^\d{6}-\d{4,8}$")
_FORM_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PERIOD = re.compile(r"^(\d{4}-(0[1-9]|1[0-2])|\d{4}|once)$")

# code -> (HTTP status, Chinese message, English message): the default text of each code.
ERRORS = {
    "bad_request": (400, "请求无效", "bad request"),
    "invalid_parameter": (400, "查询参数无效", "invalid query parameter"),
    "token_missing": (401, "缺少访问令牌（Authorization: Bearer <令牌>）",
                      "missing bearer token (Authorization: Bearer <token>)"),
    "token_invalid": (401, "令牌无效", "invalid token"),
    "token_revoked": (401, "令牌已被吊销", "token revoked"),
    "token_expired": (401, "令牌已过期", "token expired"),
    "user_disabled": (401, "令牌所属的账号已停用", "the token's user is disabled"),
    "forbidden": (403, "当前账号无权进行此操作", "this account's role may not do this"),
    "not_found": (404, "不存在或无权查看", "not found"),
    "method_not_allowed": (405, "请求方式不正确", "method not allowed"),
    "conflict": (409, "记录刚被其他人修改，请重新读取后再操作",
                 "the record changed meanwhile: read it again"),
    "payload_too_large": (413, "请求内容过大", "payload too large"),
    "validation_error": (422, "请求内容不符合要求", "invalid request body"),
    "invalid_action": (422, "审核操作无效", "invalid review action"),
    "invalid_transition": (422, "当前状态下不能进行此操作", "invalid transition"),
    "invalid_status": (422, "状态无效", "invalid status"),
    "comment_required": (422, "请填写意见", "a comment is required"),
    "comment_too_long": (422, "意见过长", "comment too long"),
    "project_not_yours": (422, "所选项目不属于本村（单位）",
                          "the project belongs to another organization"),
    "not_returned": (422, "这份提交不在“退回修改”状态", "the submission was not returned"),
    "rate_limited": (429, "请求过于频繁，请稍后再试", "too many requests"),
    "internal_error": (500, "系统错误", "internal server error"),
    "unavailable": (503, "暂时无法完成，没有改变任何数据，请稍后重试",
                    "temporarily unavailable; nothing was changed"),
}
HTTP_CODES = {400: "bad_request", 401: "token_invalid", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              422: "validation_error", 429: "rate_limited", 500: "internal_error",
              503: "unavailable"}


class ApiError(Exception):
    """An error answer: its code (ERRORS), a Chinese message (the code's by default), an
    English one, optional details and headers."""

    def __init__(self, code, message=None, english=None, details=None, headers=None,
                 status=None):
        super().__init__(code)
        default_status, default_message, default_english = ERRORS.get(
            code, (422, "请求无法完成", code.replace("_", " ")))
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.english = english or default_english
        self.details = details
        self.headers = headers or {}


def _plain(value):
    """JSON text of an answer: dates as ISO strings, Chinese as is (not \\u-escaped)."""
    def default(obj):
        if isinstance(obj, (date, datetime)):
            return obj.isoformat()
        if isinstance(obj, (set, frozenset, tuple)):
            return sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj)
        raise TypeError(f"not JSON: {type(obj).__name__}")

    return json.dumps(value, ensure_ascii=False, default=default)


def _json(payload, status=200, headers=None):
    return current_app.response_class(_plain(payload), status=status, headers=headers,
                                      mimetype="application/json")


def error_response(exc):
    body = {"code": exc.code, "message": f"{exc.message} / {exc.english}"}
    if exc.details is not None:
        body["details"] = exc.details
    return _json({"error": body}, exc.status, exc.headers)


def _is_api_path(path):
    return path == PREFIX or path.startswith(PREFIX + "/")


# ---------------------------------------------------------------- errors

@bp.errorhandler(ApiError)
def api_error(exc):
    return error_response(exc)


def http_error(exc):
    """Werkzeug's and Flask-Limiter's errors inside the API (413, 429, a 400 of a malformed
    request...) as the API's JSON errors."""
    return error_response(_from_http(exc))


# By code, not only by class: Flask prefers the app's handler of a code (app.py's Chinese
# pages) to a blueprint's handler of a class.
bp.register_error_handler(HTTPException, http_error)
for _code in default_exceptions:
    bp.register_error_handler(_code, http_error)


@bp.errorhandler(StorageError)
def storage_error(exc):
    current_app.logger.error("storage failure: %s", exc)
    return error_response(ApiError("unavailable"))


def _from_http(exc):
    code = HTTP_CODES.get(exc.code)
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    if code is None:
        return ApiError("http_error", exc.name, exc.name, status=exc.code or 500)
    return ApiError(code, headers=headers)


@bp.before_app_request
def routing_errors():
    """A URL under /api/v1 that matches no endpoint (404) or not with this method (405):
    the API's JSON error. Flask cannot know the blueprint of a URL that matched nothing, so
    the blueprint's error handlers would not be asked."""
    exc = request.routing_exception
    if isinstance(exc, (NotFound, MethodNotAllowed)) and _is_api_path(request.path):
        return error_response(_from_http(exc))
    return None


# ---------------------------------------------------------------- auth

class TokenUser:
    """The user a token stands for, read by services.access (role, org_code, active) and by
    the services that record who acted (username)."""

    __slots__ = ("username", "role", "org_code", "active")

    def __init__(self, doc):
        self.username = doc["username"]
        self.role = doc.get("role")
        self.org_code = doc.get("org_code")
        self.active = doc.get("active", True)


def _bearer():
    """The secret of the request's ``Authorization: Bearer`` header, or None without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip()


def _challenge(code=None, english=None):
    if code is None:
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{english}"'


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi":
        return
    secret = _bearer()
    if secret is None:
        raise ApiError("token_missing", headers={"WWW-Authenticate": _challenge()})
    try:
        doc = tokens.authenticate(get_store(), secret)
    except tokens.TokenError as exc:
        english = ERRORS.get(exc.code, (401, "", exc.code))[2]
        raise ApiError(exc.code, headers={"WWW-Authenticate": _challenge(exc.code, english)},
                       status=401) from None
    g.api_user = TokenUser(doc)


def _user():
    return g.api_user


# ---------------------------------------------------------------- input

def _args(allowed):
    """The query parameters, each given at most once and each among ``allowed``; 400
    invalid_parameter otherwise (a typo must not silently widen a query)."""
    found = {}
    for key in request.args:
        values = request.args.getlist(key)
        if key not in allowed:
            raise ApiError("invalid_parameter", f"不支持的参数「{key}」",
                           f"unknown parameter {key!r}", details={"parameter": key})
        if len(values) > 1:
            raise ApiError("invalid_parameter", f"参数「{key}」只能给一次",
                           f"parameter {key!r} given more than once",
                           details={"parameter": key})
        found[key] = values[0]
    return found


def _bad_param(name, message, english):
    return ApiError("invalid_parameter", f"参数「{name}」{message}", f"{name}: {english}",
                    details={"parameter": name})


def _day_param(args, name):
    value = args.get(name)
    if value is None:
        return None
    try:
        if not _DAY.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _bad_param(name, "应为日期 YYYY-MM-DD", "expected a date YYYY-MM-DD") from None


def _int_param(args, name, low, high, default=None):
    value = args.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value) or not low <= int(value) <= high:
        raise _bad_param(name, f"应为 {low}–{high} 之间的整数",
                         f"expected an integer from {low} to {high}")
    return int(value)


def _since_param(args):
    value = args.get("since")
    if value is None:
        return None
    value = value.upper()  # RFC 3339 allows a lower-case t and z
    try:
        if len(value) > 40 or "T" not in value:
            raise ValueError(value)
        return common.stamp(common.parse_stamp(value))
    except (ValueError, OverflowError):
        raise _bad_param("since", "应为 ISO 8601 时间，如 2026-05-01T08:00:00+08:00",
                         "expected an ISO 8601 time such as 2026-05-01T08:00:00+08:00") from None


def _org_param(args, index, user):
    """The subtree of the ``org`` filter, narrowed to the user's scope; None without one.
    An organization out of scope is not found, as one that does not exist."""
    code = args.get("org")
    if code is None:
        return access.restrict(user, index, None)
    if code not in index or not access.may_see_org(user, index, code):
        raise ApiError("not_found", f"组织「{code}」不存在或无权查看",
                       f"organization {code!r} not found", details={"parameter": "org"})
    return access.restrict(user, index, index.below(code))


def _duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _body(fields, required):
    """The request's JSON object, with only the keys of ``fields`` ({key: types}) and all of
    ``required``: 400 bad_request for a body that is not JSON, 422 validation_error for one
    of another shape."""
    if not request.is_json:
        raise ApiError("bad_request", "请求体必须是 JSON（Content-Type: application/json）",
                       "the body must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(request.get_data(cache=False),
                          object_pairs_hook=_duplicate_keys)
    except (ValueError, RecursionError):
        raise ApiError("bad_request", "请求体不是有效的 JSON", "the body is not valid JSON") \
            from None
    if not isinstance(body, dict):
        raise ApiError("validation_error", "请求体必须是 JSON 对象",
                       "the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError("validation_error", f"不支持的字段：{'、'.join(unknown)}",
                       f"unknown keys: {', '.join(unknown)}", details={"unknown": unknown})
    missing = [key for key in required if key not in body]
    if missing:
        raise ApiError("validation_error", f"缺少字段：{'、'.join(missing)}",
                       f"missing keys: {', '.join(missing)}", details={"missing": missing})
    for key, types in fields.items():
        if key in body and not isinstance(body[key], types):
            raise ApiError("validation_error", f"字段「{key}」应为文字",
                           f"{key} must be a string", details={"key": key})
    return body


# ---------------------------------------------------------------- output

def submission_json(doc, index):
    """A submission as the API gives it (the link token it came through is left out: it is a
    capability)."""
    org = index.get(doc["org_code"]) or {}
    return {
        "receipt": doc["receipt"], "form_id": doc["form_id"],
        "form_version": doc["form_version"], "org_code": doc["org_code"],
        "org_name": org.get("name"), "status": doc["status"], "period": doc.get("period"),
        "project_id": doc.get("project_id"), "revision": doc.get("revision", 1),
        "submitted_at": doc["submitted_at"],
        "updated_at": doc.get("updated_at") or doc["submitted_at"],
        "answers": doc["answers"], "history": [_event(e) for e in doc.get("history") or []],
    }


def _event(entry):
    return {key: entry.get(key) for key in ("at", "user", "action", "from", "to", "comment")}


def project_json(project, index):
    org = index.get(project["org_code"]) or {}
    return {
        "id": project["id"], "title": project["title"], "category": project.get("category"),
        "kind": project.get("kind"), "org_code": project["org_code"],
        "org_name": org.get("name"), "secretary": project.get("secretary"),
        "year": project.get("year"), "status": project["status"],
        "void": bool(project.get("void")), "application": project.get("application"),
        "steps": project.get("steps") or [], "revision": project.get("revision", 1),
        "created_at": project.get("created_at"), "updated_at": project.get("updated_at"),
        "history": [_event(e) for e in project.get("history") or []],
    }


def form_json(form_doc, closed):
    schema = form_doc["schema"]
    return {"id": form_doc["id"], "title": schema.get("title"), "stage": schema.get("stage"),
            "version": form_doc["version"], "period": schema.get("period"),
            "audience": schema.get("audience"),
            "project_role": projects.role_of(schema), "closed": bool(closed)}


def org_json(org):
    return {"code": org["code"], "name": org["name"], "parent_code": org.get("parent_code"),
            "kind": org.get("kind"), "secretary": org.get("secretary") or None,
            "phone": org.get("phone") or None}


def _record_ref(doc):
    return {"receipt": doc["receipt"], "form_id": doc["form_id"], "period": doc.get("period"),
            "status": doc["status"], "submitted_at": doc["submitted_at"]}


# ---------------------------------------------------------------- lookups

def _form_or_404(form_id):
    form_doc = get_store().get_form(form_id) if _FORM_ID.match(form_id) else None
    if form_doc is None:
        raise ApiError("not_found", f"表单「{form_id}」不存在", f"form {form_id!r} not found")
    return form_doc


def _project_id(project_id):
    if not 1 <= project_id <= MAX_ID:
        raise ApiError("not_found", f"项目 {project_id} 不存在或无权查看",
                       f"project {project_id} not found")
    return project_id


def _visible_project(store, index, project_id):
    project = store.get_project(_project_id(project_id))
    if project is None or not access.may_see_org(_user(), index, project["org_code"]):
        raise ApiError("not_found", f"项目 {project_id} 不存在或无权查看",
                       f"project {project_id} not found")
    return project


def _visible_submission(store, index, receipt):
    try:
        if not _RECEIPT.match(receipt):
            raise LookupError(receipt)
        return review.visible_submission(store, _user(), index, receipt)
    except LookupError:
        raise ApiError("not_found", f"回执 {receipt} 不存在或无权查看",
                       f"submission {receipt!r} not found") from None


def _rule_error(exc):
    """A ReviewError / ProjectError as the API's error: forbidden is 403, the rest 422."""
    code = getattr(exc, "code", "validation_error")
    english = ERRORS.get(code, (422, "", code.replace("_", " ")))[2]
    return ApiError(code, str(exc), english, status=403 if code == "forbidden" else 422)


def _write_error(exc):
    if isinstance(exc, PeriodTaken):
        receipt = getattr(exc, "receipt", None)
        return ApiError("conflict", str(exc) or "该期已有一份提交",
                        "another submission holds that period",
                        details={"receipt": receipt} if receipt else None)
    return ApiError("conflict")


def _audit(action, target, detail):
    audit.record(get_store(), action, _user().username, target, {**detail, "via": "api"},
                 request.remote_addr)


# ---------------------------------------------------------------- endpoints

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of this API (no token needed)."""
    return _json(api_openapi.document(request.url_root.rstrip("/") + PREFIX))


@bp.get("/forms")
def forms_list():
    _args(())
    store = get_store()
    states = store.form_states()
    return _json({"data": [form_json(f, (states.get(f["id"]) or {}).get("closed"))
                           for f in store.list_forms()]})


@bp.get("/forms/<form_id>")
def form_detail(form_id):
    _args(())
    store = get_store()
    form_doc = _form_or_404(form_id)
    state = store.form_states().get(form_id) or {}
    data = form_json(form_doc, state.get("closed"))
    data.update(description=form_doc["schema"].get("description"),
                created_at=form_doc.get("created_at"), schema=form_doc["schema"])
    return _json({"data": data})


SUBMISSION_FILTERS = ("org", "from", "to", "status", "period", "since", "cursor", "limit")


@bp.get("/forms/<form_id>/submissions")
def form_submissions(form_id):
    """Submissions of a form in the user's scope, oldest id first, ``limit`` at a time.

    ``next_cursor`` (null on the last page) fetches the next page with the same other
    parameters. ``server_time``: the ``since`` of the next sync — every submission changed
    (submitted, reviewed, corrected) at or after it. It is taken when the first page of a
    sync is read (the cursor carries it), a few seconds early (SYNC_MARGIN)."""
    args = _args(SUBMISSION_FILTERS)
    store = get_store()
    form_doc = _form_or_404(form_id)
    index = org_index(store)
    date_from, date_to = _day_param(args, "from"), _day_param(args, "to")
    if date_from and date_to and date_from > date_to:
        raise _bad_param("from", "不能晚于 to", "must not be after to")
    status = args.get("status")
    if status is not None and status not in review.STATUSES:
        raise _bad_param("status", f"应为 {'、'.join(review.STATUSES)} 之一",
                         "expected one of " + ", ".join(review.STATUSES))
    period = args.get("period")
    if period is not None and not _PERIOD.match(period):
        raise _bad_param("period", "应为 YYYY-MM、YYYY 或 once", "expected YYYY-MM, YYYY or once")
    since = _since_param(args)
    limit = _int_param(args, "limit", 1, PAGE_MAX, PAGE_DEFAULT)
    org_codes = _org_param(args, index, _user())
    query = {key: args.get(key) for key in SUBMISSION_FILTERS if key not in ("cursor", "limit")}
    fingerprint = _fingerprint(form_id, query)
    if "cursor" in args:
        after, server_time = _read_cursor(args["cursor"], fingerprint)
    else:
        after, server_time = 0, common.stamp(common.now() - SYNC_MARGIN)
    docs, more = _page(store, form_doc["id"], org_codes, date_from, date_to,
                       [status] if status else LISTED_STATUSES, since, period, after, limit)
    next_cursor = _make_cursor(docs[-1]["id"], server_time, fingerprint) if more else None
    return _json({"data": [submission_json(d, index) for d in docs],
                  "next_cursor": next_cursor, "server_time": server_time})


def _page(store, form_id, org_codes, date_from, date_to, statuses, since, period, after, limit):
    """(up to ``limit`` matching submissions with ids above ``after``, in id order; whether
    more match). The period is not a Store filter: pages are read until enough match."""
    batch = limit + 1
    found = []
    while True:
        _n, docs = store.query_submissions(form_id, org_codes, date_from, date_to, 0, batch,
                                           statuses=statuses, changed_since=since,
                                           after_id=after)
        for doc in docs:
            if period is None or doc.get("period") == period:
                found.append(doc)
                if len(found) > limit:
                    return found[:limit], True
        if len(docs) < batch:
            return found, False
        after = docs[-1]["id"]


def _fingerprint(form_id, query):
    text = json.dumps([form_id, sorted(query.items())], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _make_cursor(after, server_time, fingerprint):
    raw = json.dumps({"a": after, "t": server_time, "q": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def _read_cursor(cursor, fingerprint):
    """(after id, server_time) of a cursor made for the same query; 400 otherwise."""
    try:
        if len(cursor) > 300:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after, server_time, made_for = data["a"], data["t"], data["q"]
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_ID:
            raise ValueError(after)
        server_time = common.stamp(common.parse_stamp(server_time))
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise _bad_param("cursor", "无效", "not a cursor this API made") from None
    if made_for != fingerprint:
        raise _bad_param("cursor", "属于另一组查询条件，翻页时其他参数须与第一页相同",
                         "made for other parameters: keep them as on the first page")
    return after, server_time


@bp.get("/forms/<form_id>/reporting")
def form_reporting(form_id):
    """The 催报 state of a form and period in the user's scope (services.reporting): who of
    its audience has reported, late or not, and who is missing, with the counts rolled up.
    An organization's QR link is given to the roles that may see links."""
    args = _args(("period", "org"))
    store = get_store()
    form_doc = _form_or_404(form_id)
    user = _user()
    if not access.may(user, "chase"):
        raise ApiError("forbidden", "当前账号无权查看催报", "this role may not see reporting")
    schema = form_doc["schema"]
    spec = periods.period_spec(schema)
    period = args.get("period")
    if period is not None and not (_PERIOD.match(period) and _period_fits(spec, period)):
        raise _bad_param("period", "与表单的报送周期不符（按月 YYYY-MM、按年 YYYY、一次性 once；"
                                   "没有报送周期的表单不带此参数）",
                         "does not fit the form's period (monthly YYYY-MM, yearly YYYY, "
                         "once; none for a form without a period)")
    index = org_index(store)
    org_codes = _org_param(args, index, user)
    try:
        status = reporting.form_status(store, index, schema, period, org_codes=org_codes)
    except ValueError as exc:
        raise _bad_param("period", str(exc), "not a period of this form") from None
    links = access.may(user, "links")
    for row in status["orgs"]:
        token = row.pop("link_token", None)
        row["link"] = entry_url(token) if token and links else None
    return _json({"data": status})


def _period_fits(spec, period):
    if spec is None:
        return False  # a form without a period is chased without one
    if spec.every == "month":
        return len(period) == 7
    if spec.every == "year":
        return len(period) == 4
    return period == periods.ONCE


@bp.get("/submissions/<receipt>")
def submission_detail(receipt):
    _args(())
    store = get_store()
    index = org_index(store)
    return _json({"data": submission_json(_visible_submission(store, index, receipt), index)})


@bp.post("/submissions/<receipt>/review")
def submission_review(receipt):
    """Approve, return, void or restore a submission (services.review.review, with a
    comment); the submission as it is now, and the project when the review moved one."""
    _args(())
    body = _body({"action": str, "comment": (str, type(None))}, ("action",))
    store = get_store()
    index = org_index(store)
    doc = _visible_submission(store, index, receipt)
    action = body["action"]
    if action not in REVIEW_ACTIONS:
        raise ApiError("invalid_action", "审核操作无效，应为 approve、return、void 或 restore",
                       "action must be approve, return, void or restore",
                       details={"allowed": list(REVIEW_ACTIONS)})
    comment = body.get("comment") or ""
    try:
        _sub, project = review.review(store, _user(), index, receipt, action, comment)
    except LookupError:
        raise ApiError("not_found") from None
    except (review.ReviewError, projects.ProjectError) as exc:
        raise _rule_error(exc) from None
    except (RecordChanged, PeriodTaken) as exc:
        raise _write_error(exc) from None
    # Read again: an application's review is its project's step, written by the project's
    # transition together with the application's new status.
    stored = store.get_submission(receipt)
    _audit(f"submission.{action}", receipt,
           {"from": doc["status"], "to": stored["status"], "comment": comment,
            "project": project and {"id": project["id"], "status": project["status"]}})
    return _json({"data": submission_json(stored, index),
                  "project": project_json(project, index) if project else None})


@bp.get("/orgs")
def orgs_list():
    _args(())
    store = get_store()
    index = org_index(store)
    visible = access.visible_orgs(_user(), index)
    return _json({"data": [org_json(o) for o in store.list_orgs()
                           if visible is None or o["code"] in visible]})


@bp.get("/projects")
def projects_list():
    args = _args(("year", "status", "org", "include_void"))
    store = get_store()
    index = org_index(store)
    year = _int_param(args, "year", 1900, 9999)
    status = args.get("status")
    if status is not None and status not in projects.STATUSES:
        raise _bad_param("status", f"应为 {'、'.join(projects.STATUSES)} 之一",
                         "expected one of " + ", ".join(projects.STATUSES))
    include_void = args.get("include_void", "false")
    if include_void not in ("true", "false"):
        raise _bad_param("include_void", "应为 true 或 false", "expected true or false")
    org_codes = _org_param(args, index, _user())
    found = store.list_projects(org_codes=org_codes, year=year,
                                statuses=[status] if status else None)
    return _json({"data": [project_json(p, index) for p in found
                           if include_void == "true" or not p.get("void")]})


@bp.get("/projects/<int:project_id>")
def project_detail(project_id):
    """A project with its application, its reports in period order, its acceptance requests
    and its progress against its 实施步骤."""

    _args(())
    store = get_store()
    index = org_index(store)
    project = _visible_project(store, index, project_id)
    application, reports, acceptances = projects.project_records(store, project)
    data = project_json(project, index)
    data.update(application_status=application["status"] if application else None,
                reports=[_record_ref(d) for d in reports],
                acceptances=[_record_ref(d) for d in acceptances],
                progress=projects.step_progress(project, reports, date.today()))
    return _json({"data": data})


@bp.post("/projects/<int:project_id>/transition")
def project_transition(project_id):
    """Move a project one step (services.projects.transition); the project as stored."""
    _args(())
    body = _body({"to": str, "comment": (str, type(None))}, ("to",))
    store = get_store()
    index = org_index(store)
    project = _visible_project(store, index, project_id)
    comment = body.get("comment") or ""
    try:
        stored = projects.transition(store, _user(), index, project["id"], body["to"], comment)
    except LookupError:
        raise ApiError("not_found") from None
    except projects.ProjectError as exc:
        raise _rule_error(exc) from None
    except (RecordChanged, PeriodTaken) as exc:
        raise _write_error(exc) from None
    _audit("project.transition", str(project["id"]),
           {"from": project["status"], "to": stored["status"], "comment": comment})
    return _json({"data": project_json(stored, index)})


# ---------------------------------------------------------------- wiring

def _limit():
    value = (current_app.config.get("RATE_LIMIT_API") or DEFAULT_LIMIT).strip()
    return "" if value.lower() == "off" else value


def _limit_key():
    """What the limit counts per: the token (its hash), else the client's address."""
    secret = _bearer()
    if secret:
        return "token:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:32]
    return "address:" + (request.remote_addr or "unknown")


def init_app(app):
    """Register the API: its blueprint, without CSRF (no cookie authenticates it), under the
    app's rate limiter."""
    # (RATE_LIMIT_API is checked with the other limits: ratelimits.check_limits.)
    app.extensions["csrf"].exempt(bp)
    limiter = app.extensions["taizhang.limiter"]
    limiter.shared_limit(_limit, scope="api", key_func=_limit_key,
                         exempt_when=lambda: request.endpoint == "api.openapi")(bp)
    app.register_blueprint(bp)
