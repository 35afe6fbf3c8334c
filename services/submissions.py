"""Submissions: a cadre's fill stored with its photos, the admin list and its filters, the
"not yet submitted" list (催报), and exports.

The public page, the admin pages and the CLI's ``export`` call these; the HTTP layer only
parses the request and renders what comes back.
"""
import errno
import os
import tempfile

from xlsxwriter.exceptions import FileCreateError

import exports
from forms.builder import collect_answers
from services import periods, photos, projects
from services.formdefs import export_schema
from storage import StorageError, common
from storage.errors import os_failure

# Who is expected to fill a form, for 催报 (the lifecycle issue lets a form state its audience).
REPORTING_KINDS = ("village", "unit")


def submit(store, schema, org_code, token, form):
    """Store a validated public form (a class from forms.builder) for ``org_code``:
    its uploaded photos and their thumbnails first (each durable before the submission refers
    to it; photos sent as references were stored when they were picked), then the submission,
    idempotently on the form's submission id, with the period it reports on and the project
    it names; then what it does to projects (an application opens one, a report starts one,
    an acceptance request asks for acceptance: services.projects). Returns (doc, created) as
    Store.add_submission; SubmissionConflict / PeriodTaken / StorageError as it;
    ProjectError for a project that is not the organization's."""
    answers, uploads = collect_answers(form, schema)
    project_id = projects.check_named(store, schema, org_code, answers)
    for name, upload in uploads.items():
        upload.stream.seek(0)
        answers[name] = photos.store_photo(store, upload.stream.read(), answers[name])
    period = periods.period_of(schema, answers, common.now())
    doc, created = store.add_submission(
        form_id=schema["id"], form_version=schema["version"], org_code=org_code,
        answers=answers, submission_id=form.submission_id.data, token=token,
        files=photos.files_of(schema, answers), period=period,
        slot=periods.slot_of(schema, period, project_id), project_id=project_id)
    # Also on a retry: a crash between the two writes is repaired by the cadre's retry.
    projects.open_for_application(store, schema, doc)
    projects.after_report(store, schema, doc)
    return doc, created


def keep_photos(store, form, schema):
    """After a failed validation of a page sent without JavaScript: store every photo that
    passed its own check and put its reference in the form, so the page shown again keeps it
    (the cadre does not send it again). Photos are content-addressed: keeping one twice stores
    it once."""
    for spec in schema["fields"]:
        field = form[spec["name"]] if spec["type"] == "image" else None
        if field is not None and getattr(field, "image_info", None) and not field.errors \
                and not isinstance(field.data, str):
            field.image_info = photos.store_field(store, field)
            field.data = photos.make_ref(field.image_info, form.photo_scope)


def org_scope(index, township=None, org=None):
    """The organization codes a filter selects: one organization, a township's subtree, or None
    for every organization. An unknown code selects nothing (an empty set)."""
    if org:
        return {org} if org in index else set()
    if township:
        return index.below(township) if township in index else set()
    return None


def reporting_status(store, index, form_id, org_codes=None, date_from=None, date_to=None):
    """(expected, missing) for the 催报 line of the submissions page: the organizations of the
    form's audience (within org_codes when given) and, of those, the ones that have not
    reported — for a form with a period, in the period its 催报 page opens on
    (services.reporting.default_period; the dates do not apply); for a form without one, with
    no submission that is not 已作废 in the dates. Organization dicts, sorted by code."""
    from services import reporting

    form = store.get_form(form_id)
    schema = form["schema"] if form else {"id": form_id}
    status = reporting.form_status(store, index, schema, None, org_codes, date_from=date_from,
                                   date_to=date_to)
    expected = [index.get(o["code"]) for o in status["orgs"]]
    missing = [index.get(o["code"]) for o in status["orgs"] if o["state"] in reporting.MISSING]
    return expected, missing


def export_statuses(statuses=None, include_void=False):
    """The review statuses an export takes: those asked for, else every one but 已作废 (a
    voided submission is a duplicate or a mistake: left out unless asked for)."""
    if statuses:
        return tuple(statuses)
    return common.REVIEW_STATUSES if include_void else tuple(
        s for s in common.REVIEW_STATUSES if s != common.VOID)


def _with_project_titles(store, schema, docs):
    """Submissions as exported: a project field shows the project's title, not its id."""
    field = projects.project_field(schema)
    if field is None:
        yield from docs
        return
    titles = {str(p["id"]): p["title"] for p in store.list_projects()}
    for doc in docs:
        value = doc["answers"].get(field)
        if value not in (None, ""):
            doc["answers"][field] = titles.get(str(value), str(value))
        yield doc


def export_format(store, form_id, fmt):
    """The file an export asked for as ``fmt`` ("xlsx", "csv" or "zip") is written as: a form
    with repeat fields (in any version that has submissions) exports "csv" as "zip", one CSV
    per sheet, so that no detail row is dropped (exports.file_format)."""
    return exports.file_format(export_schema(store, form_id), fmt)


def export_submissions(store, index, form_id, fmt, out, org_codes=None, date_from=None,
                       date_to=None, statuses=None, include_void=False):
    """Write the (filtered) submissions of a form to ``out`` (a path) as "xlsx", "csv" (the
    main sheet only) or "zip" (one CSV per sheet), oldest first, in constant memory; the
    number written. Voided submissions are left out unless ``include_void`` (or ``statuses``
    names 已作废). A file that cannot be written (disk full...) raises StorageError, which
    the pages answer with 503."""
    schema = export_schema(store, form_id)
    count, docs = store.iter_submissions(form_id, org_codes=org_codes, date_from=date_from,
                                         date_to=date_to,
                                         statuses=export_statuses(statuses, include_void))
    docs = _Closing(_with_project_titles(store, schema, docs), docs)
    paths = {code: index.path(code) for code in index.by_code}
    kinds = {code: org["kind"] for code, org in index.by_code.items()}
    writer = {"xlsx": exports.submissions_to_xlsx, "csv": exports.submissions_to_csv,
              "zip": exports.submissions_to_zip}[fmt]
    try:
        writer(schema, docs, paths, out, org_kinds=kinds)
    except OSError as exc:
        raise os_failure("导出文件写入失败", exc) from exc
    except FileCreateError as exc:  # XlsxWriter's wrapper of the OSError of its zip file
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
        raise os_failure("导出文件写入失败", cause or OSError(errno.EIO, str(exc))) from exc
    finally:
        docs.close()  # a half-read iterator may hold a database connection
    return count


class _Closing:
    """An iterator over ``mapped`` that closes ``source`` (a Store iterator) when closed."""

    def __init__(self, mapped, source):
        self._mapped, self._source = mapped, source

    def __iter__(self):
        return self._mapped

    def __next__(self):
        return next(self._mapped)

    def close(self):
        self._mapped.close()
        if hasattr(self._source, "close"):
            self._source.close()


def export_to_temp_file(store, index, form_id, fmt, directory, **query):
    """export_submissions into a temporary file in ``directory``; (count, the file opened for
    reading). The file has no name left on disk (it is gone when closed), so a client that
    goes away mid-download leaves nothing behind. StorageError when it cannot be written."""
    try:
        fd, path = tempfile.mkstemp(suffix="." + fmt, dir=directory, prefix=".export-")
        os.close(fd)
    except OSError as exc:
        raise os_failure("导出文件写入失败", exc) from exc
    try:
        count = export_submissions(store, index, form_id, fmt, path, **query)
        return count, open(path, "rb")
    finally:
        os.unlink(path)  # an open stream keeps the data until it is closed


__all__ = ["submit", "org_scope", "reporting_status", "export_format", "export_submissions",
           "export_to_temp_file", "StorageError"]
