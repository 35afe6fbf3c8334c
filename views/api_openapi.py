"""The OpenAPI 3.1 document of the JSON API v1 (views/api.py), served at /api/v1/openapi.json.

Written as Python rather than a JSON file so that every list of values it states (review
statuses and actions, project statuses, page limits, error codes) is the constant the code
itself uses: the document cannot say one thing while the API does another. The paths are
checked against the app's URL rules by tests/http/test_api.py, and every operation is run
against its responses' schemas by tests/http/test_api_schemathesis.py.
"""
from services import periods, projects, review

REVIEW_STATUSES = list(review.STATUSES)
REVIEW_ACTIONS = list(review.ACTIONS)
PROJECT_STATUSES = list(projects.STATUSES)
PERIOD_PATTERN = r"^(\d{4}-(0[1-9]|1[0-2])|\d{4}|once)$"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind):
    return {"type": [kind, "null"]}


def _object(properties, required=None, extra=False, description=None):
    schema = {"type": "object", "properties": properties,
              "required": list(properties) if required is None else required,
              "additionalProperties": extra}
    if description:
        schema["description"] = description
    return schema


def _data(schema):
    return _object({"data": schema})


def _ok(description, schema):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses):
    """The documented error answers of an operation (plus ``default``: any other error)."""
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
             409: "Conflict", 422: "Unprocessable", 429: "TooManyRequests"}
    found = {str(s): {"$ref": f"#/components/responses/{names[s]}"} for s in statuses}
    found["default"] = {"$ref": "#/components/responses/Error"}
    return found


def _query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name, schema, description):
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


FORM_ID = _path("form_id", {"type": "string"}, "表单 id, e.g. monthly_report")
RECEIPT = _path("receipt", {"type": "string"}, "回执号 receipt, e.g. 260501-0007")
PROJECT_ID = _path("project_id", {"type": "integer", "minimum": 1}, "项目 id")
ORG_FILTER = _query("org", {"type": "string"},
                    "an organization code: that organization and everything under it. One "
                    "out of the token user's scope answers 404, as one that does not exist.")

COUNTS = {key: {"type": "integer", "minimum": 0} for key in ("expected", *periods.STATES)}

EVENT = _object({
    "at": _nullable("string"), "user": _nullable("string"), "action": {"type": "string"},
    "from": _nullable("string"), "to": _nullable("string"), "comment": _nullable("string"),
}, required=["at", "action"], description="One entry of a history: who did what, when.")

SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "description": "machine-readable, see the README"},
        "message": {"type": "string", "description": "中文 / English"},
        "details": {"description": "what the error is about (a parameter, keys...)"},
    }, required=["code", "message"])}),
    "HistoryEntry": EVENT,
    "Form": _object({
        "id": {"type": "string"}, "title": _nullable("string"), "stage": _nullable("string"),
        "version": {"type": "integer"},
        "period": {"type": ["object", "null"], "description": "the form's reporting period "
                   "(every once/year/month, field, due_day, due, year, unique)"},
        "audience": {"type": ["object", "null"], "description": "who must report: kinds, "
                     "orgs"},
        "project_role": {"enum": ["application", "report", "acceptance", None]},
        "closed": {"type": "boolean"},
    }),
    "Submission": _object({
        "receipt": {"type": "string"}, "form_id": {"type": "string"},
        "form_version": {"type": "integer"}, "org_code": {"type": "string"},
        "org_name": _nullable("string"), "status": {"enum": REVIEW_STATUSES},
        "period": _nullable("string"), "project_id": _nullable("integer"),
        "revision": {"type": "integer"},
        "submitted_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "answers": {"type": "object", "description": "the answers as stored, by field name"},
        "history": {"type": "array", "items": _ref("HistoryEntry")},
    }),
    "Org": _object({
        "code": {"type": "string"}, "name": {"type": "string"},
        "parent_code": _nullable("string"), "kind": _nullable("string"),
        "secretary": _nullable("string"), "phone": _nullable("string"),
    }),
    "Project": _object({
        "id": {"type": "integer"}, "title": {"type": "string"},
        "category": _nullable("string"), "kind": _nullable("string"),
        "org_code": {"type": "string"}, "org_name": _nullable("string"),
        "secretary": _nullable("string"), "year": _nullable("integer"),
        "status": {"enum": PROJECT_STATUSES},
        "void": {"type": "boolean", "description": "its application was voided"},
        "application": _nullable("string"),
        "steps": {"type": "array", "items": {"type": "object"}},
        "revision": {"type": "integer"},
        "created_at": _nullable("string"), "updated_at": _nullable("string"),
        "history": {"type": "array", "items": _ref("HistoryEntry")},
    }),
    "RecordRef": _object({
        "receipt": {"type": "string"}, "form_id": {"type": "string"},
        "period": _nullable("string"), "status": {"enum": REVIEW_STATUSES},
        "submitted_at": {"type": "string"},
    }),
    "Progress": _object({
        "rows": {"type": "array", "items": _object({
            "month": {"type": "string"}, "task": {"type": "string"},
            "owner": {"type": "string"}, "due": {"type": "boolean"},
            "reports": {"type": "array", "items": {"type": "string"}},
        })},
        "due": {"type": "integer"}, "reported": {"type": "integer"},
        "total": {"type": "integer"},
    }, description="the 实施步骤 against the monthly reports"),
    "ReviewBody": _object({
        "action": {"enum": REVIEW_ACTIONS,
                   "description": "approve 通过, return 退回修改, void 作废, restore 恢复"},
        "comment": {"type": ["string", "null"], "maxLength": review.MAX_COMMENT,
                    "description": "required for return and void"},
    }, required=["action"]),
    "TransitionBody": _object({
        "to": {"enum": PROJECT_STATUSES, "description": "the next status"},
        "comment": {"type": ["string", "null"], "maxLength": 1000,
                    "description": "required for 退回修改, 已否决, 验收未通过"},
    }, required=["to"]),
    "Reporting": _object({
        "form_id": {"type": "string"},
        "period": {"type": ["string", "null"], "description": "null for a form without one"},
        "period_label": {"type": "string"},
        "due": {"type": ["string", "null"], "description": "the due day, YYYY-MM-DD"},
        "counts": _object(COUNTS),
        "orgs": {"type": "array", "items": _ref("ReportingOrg")},
        "rollup": {"type": "array", "items": _ref("ReportingArea")},
    }, description="services.reporting.form_status: who of the form's audience (in the "
                   "token user's scope) has reported (已报, 迟报: late) or not (逾期未报: past "
                   "its due day, 未到期: not yet due)"),
    "ReportingOrg": _object({
        "code": {"type": "string"}, "name": {"type": "string"},
        "kind": _nullable("string"), "path": {"type": "array", "items": {"type": "string"}},
        "township": {"type": "string"}, "township_code": _nullable("string"),
        "state": {"enum": list(periods.STATES)},
        "receipt": _nullable("string"), "submitted_at": _nullable("string"),
        "secretary": {"type": "string"}, "phone": {"type": "string"},
        "link": {"type": ["string", "null"],
                 "description": "its QR link of the form (for roles that see links)"},
    }),
    "ReportingArea": _object({
        "code": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
        **COUNTS, "rate": {"type": ["number", "null"],
                           "description": "share reported (已报 + 迟报) of those expected"},
    }, description="counts rolled up to a township or the county"),
}
SCHEMAS["FormDetail"] = {**SCHEMAS["Form"], "properties": {
    **SCHEMAS["Form"]["properties"], "description": _nullable("string"),
    "created_at": _nullable("string"),
    "schema": {"type": "object", "description": "the form definition (the latest version)"}},
    "required": [*SCHEMAS["Form"]["required"], "description", "created_at", "schema"]}
SCHEMAS["ProjectDetail"] = {**SCHEMAS["Project"], "properties": {
    **SCHEMAS["Project"]["properties"], "application_status": {"enum": [*REVIEW_STATUSES, None]},
    "reports": {"type": "array", "items": _ref("RecordRef")},
    "acceptances": {"type": "array", "items": _ref("RecordRef")},
    "progress": _ref("Progress")},
    "required": [*SCHEMAS["Project"]["required"], "application_status", "reports",
                 "acceptances", "progress"]}


def _error_response(description):
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


RESPONSES = {
    "BadRequest": _error_response("bad_request (the body is not JSON) or invalid_parameter"),
    "Unauthorized": {**_error_response(
        "token_missing, token_invalid, token_revoked, token_expired, user_disabled"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
    "Forbidden": _error_response("forbidden: the token user's role may not do this"),
    "NotFound": _error_response("not_found: unknown, or out of the token user's scope"),
    "Conflict": _error_response("conflict: the record changed meanwhile, or the period is "
                                "taken by another submission (details.receipt)"),
    "Unprocessable": _error_response(
        "validation_error (the body's shape), invalid_action, invalid_transition, "
        "invalid_status, comment_required, comment_too_long"),
    "TooManyRequests": {**_error_response("rate_limited"),
                        "headers": {"Retry-After": {"schema": {"type": "string"}}}},
    "Error": _error_response("any other error (method_not_allowed, payload_too_large, "
                             "internal_error, unavailable), same shape"),
}

SUBMISSION_PARAMETERS = [
    ORG_FILTER,
    _query("from", {"type": "string", "format": "date"}, "submitted on or after (YYYY-MM-DD)"),
    _query("to", {"type": "string", "format": "date"}, "submitted on or before (YYYY-MM-DD)"),
    _query("status", {"enum": REVIEW_STATUSES},
           "only this review status; without it every status but 已作废"),
    _query("period", {"type": "string", "pattern": PERIOD_PATTERN},
           "the period reported on: YYYY-MM, YYYY or once"),
    _query("since", {"type": "string", "format": "date-time"},
           "changed (submitted, reviewed, corrected) at or after this time: the server_time "
           "of the previous sync"),
    _query("cursor", {"type": "string"},
           "next_cursor of the previous page (keep the other parameters as they were)"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
           "page size"),
]


def _operation(operation_id, summary, responses, parameters=(), body=None, tag=None,
               security=None, description=None):
    operation = {"operationId": operation_id, "summary": summary, "responses": responses}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(body)}}}
    if tag:
        operation["tags"] = [tag]
    if security is not None:
        operation["security"] = security
    return operation


def paths():
    """{path: {method: operation}}, paths relative to the server URL (…/api/v1)."""
    return {
        "/openapi.json": {"get": _operation(
            "openapi", "This document (no token needed)",
            {"200": _ok("the OpenAPI document", {"type": "object"})}, security=[])},
        "/forms": {"get": _operation(
            "listForms", "Every form: id, title, stage, version, period, audience, role",
            {"200": _ok("the forms", _data({"type": "array", "items": _ref("Form")})),
             **_errors(400, 401, 429)}, tag="forms")},
        "/forms/{form_id}": {"get": _operation(
            "getForm", "A form's latest definition and metadata",
            {"200": _ok("the form", _data(_ref("FormDetail"))), **_errors(400, 401, 404, 429)},
            [FORM_ID], tag="forms")},
        "/forms/{form_id}/submissions": {"get": _operation(
            "listSubmissions", "A form's submissions in scope, by cursor, in id order",
            {"200": _ok("one page", _object({
                "data": {"type": "array", "items": _ref("Submission")},
                "next_cursor": _nullable("string"),
                "server_time": {"type": "string", "format": "date-time",
                                "description": "pass it as since in the next sync"}})),
             **_errors(400, 401, 404, 429)},
            [FORM_ID, *SUBMISSION_PARAMETERS], tag="submissions",
            description="Pages follow next_cursor until it is null. server_time is taken "
                        "at the first page (a few seconds early): the next sync passes it as "
                        "since and gets everything changed since, possibly again.")},
        "/forms/{form_id}/reporting": {"get": _operation(
            "getReporting", "The 催报 state of a form for one period, in scope",
            {"200": _ok("the state", _data(_ref("Reporting"))),
             **_errors(400, 401, 403, 404, 429)},
            [FORM_ID, _query("period", {"type": "string", "pattern": PERIOD_PATTERN},
                             "YYYY-MM (monthly), YYYY (yearly) or once; default: the "
                             "period being chased (a monthly form: last month until its "
                             "due day has passed). None for a form without a period."),
             ORG_FILTER],
            tag="reporting")},
        "/submissions/{receipt}": {"get": _operation(
            "getSubmission", "A submission by receipt",
            {"200": _ok("the submission", _data(_ref("Submission"))),
             **_errors(400, 401, 404, 429)}, [RECEIPT], tag="submissions")},
        "/submissions/{receipt}/review": {"post": _operation(
            "reviewSubmission", "Approve, return, void or restore a submission",
            {"200": _ok("the submission now, and the project the review moved (or null)",
                        _object({"data": _ref("Submission"),
                                 "project": {"oneOf": [_ref("Project"), {"type": "null"}]}})),
             **_errors(400, 401, 403, 404, 409, 422, 429)},
            [RECEIPT], body="ReviewBody", tag="submissions")},
        "/orgs": {"get": _operation(
            "listOrgs", "The organizations in scope, with their secretary and phone",
            {"200": _ok("the organizations", _data({"type": "array", "items": _ref("Org")})),
             **_errors(400, 401, 429)}, tag="orgs")},
        "/projects": {"get": _operation(
            "listProjects", "Projects in scope, by id",
            {"200": _ok("the projects", _data({"type": "array", "items": _ref("Project")})),
             **_errors(400, 401, 404, 429)},
            [_query("year", {"type": "integer", "minimum": 1900, "maximum": 9999}, "year"),
             _query("status", {"enum": PROJECT_STATUSES}, "only this status"),
             ORG_FILTER,
             _query("include_void", {"enum": ["true", "false"], "default": "false"},
                    "include projects whose application was voided")],
            tag="projects")},
        "/projects/{project_id}": {"get": _operation(
            "getProject", "A project with its application, reports in order and progress",
            {"200": _ok("the project", _data(_ref("ProjectDetail"))),
             **_errors(400, 401, 404, 429)}, [PROJECT_ID], tag="projects")},
        "/projects/{project_id}/transition": {"post": _operation(
            "transitionProject", "Move a project one step",
            {"200": _ok("the project as stored", _data(_ref("Project"))),
             **_errors(400, 401, 403, 404, 409, 422, 429)},
            [PROJECT_ID], body="TransitionBody", tag="projects")},
    }


DESCRIPTION = """台账 JSON API v1: forms, submissions and their review, organizations, projects
and 催报, within the scope of the token's user.

Auth: `Authorization: Bearer <token>` (`flask --app app create-token USERNAME`, or 令牌 in
the admin pages). Errors: `{"error": {"code", "message", "details"?}}`. Lists of submissions
page by `next_cursor`; `server_time` is the `since` of the next incremental sync. Anything out
of the token user's scope answers 404. v1 writes no answers: only review actions and project
transitions."""


def document(server_url):
    """The OpenAPI document, its server at ``server_url`` (…/api/v1 as the client sees it)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Taizhang API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("forms", "submissions", "reporting", "orgs", "projects")],
        "paths": paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "an API token (tz_…)"}},
            "schemas": SCHEMAS, "responses": RESPONSES,
        },
    }
