"""The exceptions of the storage contract, shared by every backend.

``str()`` of each is safe to show to a user (Chinese): the web layer turns ``StorageError`` into
a 503 page and ``SubmissionConflict`` into a 409 page, the CLI prints them.
"""
import errno


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


class DraftConflict(ValueError):
    """A draft was saved by someone else since the revision the caller started from."""


class RestoreRefused(StorageError):
    """A restore would overwrite a database that holds data, and force was not given."""


_ERRNO_HINTS = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已满",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "文件系统为只读",
    errno.EIO: "磁盘读写错误",
}


def os_failure(message: str, exc: OSError | None = None) -> StorageError:
    """A StorageError for a failed file operation: ``message`` plus what the error number
    means for the operator ("磁盘空间不足"...)."""
    hint = _ERRNO_HINTS.get(exc.errno) if exc is not None else None
    if hint:
        message = f"{message.rstrip('。')}({hint})"
    return StorageError(message)


class RecordChanged(ValueError):
    """A submission or project was changed by someone else since the revision the caller read
    (optimistic concurrency: read, decide, write with the revision read)."""

    def __str__(self):
        return "这条记录刚被其他人修改过，请刷新后再操作"


class PeriodTaken(ValueError):
    """The form takes one submission per organization and period (and project), and a
    submission that is not voided already holds that slot: ``receipt`` is its receipt."""

    def __init__(self, receipt: str):
        super().__init__(receipt)
        self.receipt = receipt

    def __str__(self):
        return f"本期已经提交过(回执号 {self.receipt})，如需修改请通过回执链接更正"
