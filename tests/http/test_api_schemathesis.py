"""Schemathesis against the live OpenAPI document (/api/v1/openapi.json) of the app, on both
backends: every operation, with generated parameters and bodies (valid ones, then invalid
ones), as the county admin. Checks: no server error, and every answer conforms to the schema
the document gives for its status. A few examples per operation keep it well under a minute.

Schemathesis' own pytest fixture loader (``schemathesis.pytest.from_fixture``) does not run
under pytest 9 (it sets ``node._nodeid``), so each operation is a parametrized test that draws
cases from the operation's strategy (``APIOperation.as_strategy``) with Hypothesis."""
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from services import projects, tokens
from views import api_openapi

EXAMPLES = 12
OPERATIONS = [(path, method) for path, item in api_openapi.paths().items() for method in item]


@pytest.fixture
def api_schema(app, store):
    """The app's document, loaded as a client loads it, with data to find: the county admin,
    a monthly report and an application with its project."""
    app.config["RATE_LIMIT_API"] = "off"  # hundreds of calls from one token in seconds
    store.add_user("county", "not-a-password-hash", "admin")
    token = tokens.create(store, "county")[0]
    report, _created = store.add_submission("monthly_report", 1, "340828101202",
                                            {"progress": "本月进展"}, uuid.uuid4().hex,
                                            period="2026-11")
    form = store.get_form("apply_development")
    doc, _created = store.add_submission(
        "apply_development", form["version"], "340828101202",
        {"project_name": "冬桃", "steps": [{"month": "2026-03", "task": "流转土地"}]},
        uuid.uuid4().hex, period="2026")
    project = projects.open_for_application(store, form["schema"], doc)
    known = {"form_id": "monthly_report", "receipt": report["receipt"],
             "project_id": project["id"]}
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), token, known


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE,
                                  schemathesis.GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
@pytest.mark.parametrize("path, method", OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_api_conforms_to_its_document(api_schema, path, method, mode):
    schema, token, known = api_schema
    operation = schema[path][method.upper()]
    if mode is schemathesis.GenerationMode.NEGATIVE and not (
            operation.path_parameters or operation.query or operation.body):
        pytest.skip("nothing to make invalid")
    # Valid cases name records that exist (random ids would only ever meet 404); invalid
    # ones are generated whole.
    names = [p.name for p in operation.path_parameters]
    fixed = {n: known[n] for n in names} if mode is schemathesis.GenerationMode.POSITIVE \
        else None
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, response_schema_conformance])
        calls.append(response.status_code)

    run()
    assert calls, "no case was generated"
    if fixed and method == "get":
        assert 200 in calls, calls  # the valid cases did reach the record
