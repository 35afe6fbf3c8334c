"""The exceptions of the storage contract, shared by every backend.

``str()`` of each is safe to show to a user (Chinese): the web layer turns ``StorageError`` into
a 503 page and ``SubmissionConflict`` into a 409 page, the CLI prints them.
"""


class StorageError(Exception):
    """A read or write of the database failed (disk full, I/O error, database server gone...).

    A write that raised it changed nothing: no partial record is visible, now or after a
    restart. ``str()`` is safe to show to users (Chinese)."""


class SubmissionConflict(Exception):
    """The submission id was already used for different answers (HTTP 409)."""

    def __init__(self, submission_id: str, receipt: str):
        super().__init__(f"提交编号 {submission_id} 已用于另一份不同的内容(回执号 {receipt})")
        self.submission_id = submission_id
        self.receipt = receipt


class DuplicateError(ValueError):
    """A unique key (username, organization code, submission id) is already taken or repeated."""


class RestoreRefused(StorageError):
    """A restore would overwrite a database that holds data, and force was not given."""
