"""Photos as files in one folder (the TinyDB backend's DATA_DIR/uploads), named by content.

Each photo is complete on disk (temp file, fsync, rename, directory fsync) before ``put``
returns, so a submission is never acknowledged with a photo that a crash could lose. Files are
never changed or deleted: a name always means the same bytes.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from .common import content_type_of, is_photo_name, photo_name
from .errors import StorageError, os_failure
from .logdb import fsync_dir

MSG_PHOTO_WRITE_FAILED = "照片保存失败,请稍后重试"


class FilePhotos:
    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)

    def path(self, name: str) -> str | None:
        """The file of a photo name put() makes, or None for any other name."""
        if not is_photo_name(name):
            return None
        return os.path.join(self.directory, *name.split("/"))

    def put(self, data: bytes, content_type: str) -> str:
        name = photo_name(data, content_type)
        path = self.path(name)
        try:
            os.utime(path)  # stored already: now counts as its last put (see prune)
            return name
        except FileNotFoundError:
            pass  # not stored, or just pruned: written below
        except OSError as exc:
            raise os_failure(MSG_PHOTO_WRITE_FAILED, exc) from exc
        folder = os.path.dirname(path)
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
            fsync_dir(folder)
        except OSError as exc:
            raise os_failure(MSG_PHOTO_WRITE_FAILED, exc) from exc
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        return name

    def get(self, name: str) -> dict | None:
        path = self.path(name)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError("照片读取失败,请稍后重试") from exc
        return {"name": name, "content_type": content_type_of(name), "size": len(data),
                "data": data}

    def prune(self, keep, before: float) -> int:
        """Delete the photos not in ``keep`` whose last put (the file's mtime) is older than
        ``before`` (a POSIX time); how many. A photo is first renamed away, then its time is
        read again: a put that raced the prune either touched it first (it is put back) or
        finds no file and writes it anew."""
        count = 0
        for name in list(self.names()):
            if name in keep:
                continue
            path = self.path(name)
            doomed = path + ".prune"
            try:
                if os.stat(path).st_mtime >= before:
                    continue
                os.rename(path, doomed)
                if os.stat(doomed).st_mtime >= before:
                    os.replace(doomed, path)
                    continue
                os.unlink(doomed)
                count += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise os_failure(MSG_PHOTO_WRITE_FAILED, exc) from exc
        return count

    def exists(self, name: str) -> bool:
        path = self.path(name)
        return path is not None and os.path.isfile(path)

    def names(self) -> Iterator[str]:
        """Every stored photo's name, sorted."""
        try:
            folders = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return
        for folder in folders:
            full = os.path.join(self.directory, folder)
            if not os.path.isdir(full):
                continue
            for entry in sorted(os.listdir(full)):
                name = f"{folder}/{entry}"
                if is_photo_name(name):
                    yield name
