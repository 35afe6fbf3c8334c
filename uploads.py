"""Photo files under DATA_DIR/uploads: written durably, named by content hash.

Naming a photo by the SHA-256 of its bytes makes a retried submission (same photo uploaded
again on a flaky network) produce exactly the same answers, so idempotent submit can recognise
it; and a photo shared by two submissions is stored once.
"""
import hashlib
import os
import tempfile

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
_SNIFF = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def sniff_content_type(data):
    for magic, content_type in _SNIFF:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def save_photo(directory, file_storage):
    """Store an uploaded (already validated) photo; return its answer dict.

    The file is complete on disk (temp file, fsync, rename, directory fsync) before this returns,
    so a submission is never acknowledged with a photo that a crash could lose.
    """
    file_storage.stream.seek(0)
    data = file_storage.stream.read()
    content_type = sniff_content_type(data) or "application/octet-stream"
    digest = hashlib.sha256(data).hexdigest()
    name = f"{digest[:2]}/{digest[:32]}.{EXTENSIONS.get(content_type, 'bin')}"
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    original = os.path.basename(file_storage.filename or "") or "photo"
    return {"file": name, "name": original[:120], "size": len(data), "content_type": content_type}


def content_type_of(name):
    extension = name.rsplit(".", 1)[-1]
    return next((t for t, e in EXTENSIONS.items() if e == extension), "application/octet-stream")


def photo_path(directory, name):
    """Absolute path of a stored photo, or None if the name is not one save_photo makes."""
    parts = name.split("/")
    if len(parts) != 2 or len(parts[0]) != 2 or not all(
            p and all(c.isalnum() or c == "." for c in p) and not p.startswith(".") for p in parts):
        return None
    path = os.path.join(directory, *parts)
    return path if os.path.isfile(path) else None
