"""The portable backup file: everything of a deployment in one zip, from either backend, for
either backend.

``write_backup(store, dest)`` takes a consistent snapshot (Store.snapshot) while the service
keeps serving; ``open_backup(path)`` checks a file and returns it as a ``Snapshot`` that
``Store.load`` restores from. A county that outgrows its machine moves to PostgreSQL with a
backup of its TinyDB file and a restore into the new database, receipts included.

Layout (a plain zip: any archive tool can open it)::

    forms.jsonl        every version of every form, one JSON document per line
    orgs.jsonl         organizations, in their order
    users.jsonl        accounts (password hashes, never passwords)
    links.jsonl        QR links, revoked ones included
    submissions.jsonl  submissions with their receipts, times and submission ids
    audit.jsonl        the audit log (who did what, when, from where), oldest first
    drafts.jsonl       the builder's drafts of form definitions, by form id
    form_states.jsonl  which forms are closed, by form id
    photos/<name>      each stored photo, by its content name ("ab/…32 hex….jpg")
    manifest.json      written last: format, version, when, from where, the counts and the
                       SHA-256 of every other member

The JSON members are deflated, photos stored as they are. The file is written to a temporary
name, fsync'd and renamed, so a crash never leaves a half backup under the final name.
Backups of the log format of earlier versions (a TinyDB ``taizhang-….db`` file) are still
read, checked and restored; they hold no photos. Zip backups made before the audit log (or
the drafts, the form states) existed have no such member: they restore with none.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import zipfile
from contextlib import contextmanager
from datetime import datetime

from .common import content_type_of, is_photo_name, json_text, photo_name
from .contract import KINDS
from .errors import StorageError, os_failure
from .logdb import fsync_dir

FORMAT = "taizhang-backup"
VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


def backup_name(moment: datetime | None = None) -> str:
    return (moment or datetime.now()).strftime("taizhang-%Y%m%d-%H%M%S.zip")


class _HashingWriter:
    """A zip member being written, with its SHA-256 and size."""

    def __init__(self, archive: zipfile.ZipFile, name: str, compress: bool):
        info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._file = archive.open(info, "w", force_zip64=True)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._file.write(data)

    def close(self) -> dict:
        self._file.close()
        return {"sha256": self._hash.hexdigest(), "bytes": self.size}


def write_backup(store, dest, source: str | None = None) -> dict:
    """Write everything in ``store`` to the backup file ``dest`` (a file path, or a folder for
    a dated taizhang-YYYYmmdd-HHMMSS.zip inside it). Returns {"path", "bytes", "counts"}.
    StorageError when it cannot be written; nothing is left under the final name then."""
    dest = os.path.abspath(os.fspath(dest))
    if os.path.isdir(dest):
        dest = os.path.join(dest, backup_name())
    folder = os.path.dirname(dest)
    tmp = os.path.join(folder, f".{os.path.basename(dest)}.{secrets.token_hex(4)}.tmp")
    counts, members = {}, {}
    try:
        with store.snapshot() as snap, open(tmp, "xb") as raw:
            with zipfile.ZipFile(raw, "w", allowZip64=True) as archive:
                for kind in KINDS:
                    member = _HashingWriter(archive, f"{kind}.jsonl", compress=True)
                    counts[kind] = 0
                    for doc in snap.records(kind):
                        member.write(json_text(doc).encode("utf-8") + b"\n")
                        counts[kind] += 1
                    members[f"{kind}.jsonl"] = member.close()
                counts["photos"] = 0
                for name in snap.photo_names():
                    photo = snap.photo(name)
                    if photo is None:
                        continue  # listed, then gone: never happens to content-named files
                    member = _HashingWriter(archive, f"photos/{name}", compress=False)
                    member.write(photo["data"])
                    members[f"photos/{name}"] = member.close()
                    counts["photos"] += 1
                manifest = {"format": FORMAT, "version": VERSION,
                            "created_at": datetime.now().astimezone().isoformat(
                                timespec="seconds"),
                            "backend": store.backend, "source": source or store.location,
                            "counts": counts, "members": members}
                archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
        tmp = None
        fsync_dir(folder)
    except OSError as exc:
        raise os_failure(f"备份写入失败:{dest}", exc) from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return {"path": dest, "bytes": os.path.getsize(dest), "counts": counts}


class BackupFile:
    """A checked backup file as a storage.contract.Snapshot (what Store.load restores)."""

    def __init__(self, path: str, manifest: dict):
        self.path = path
        self.manifest = manifest
        self._archive = zipfile.ZipFile(path)

    def close(self) -> None:
        self._archive.close()

    def records(self, kind: str):
        if f"{kind}.jsonl" not in self.manifest["members"]:
            return  # a kind added since this backup was made (audit, drafts...): none
        with self._archive.open(f"{kind}.jsonl") as member:
            for line in io.TextIOWrapper(member, encoding="utf-8"):
                if line.strip():
                    yield json.loads(line)

    def photo_names(self):
        for name in self.manifest["members"]:
            if name.startswith("photos/"):
                yield name[len("photos/"):]

    def photo(self, name: str):
        try:
            data = self._archive.read(f"photos/{name}")
        except KeyError:
            return None
        return {"name": name, "content_type": content_type_of(name), "size": len(data),
                "data": data}

    def counts(self) -> dict[str, int]:
        return {**{kind: 0 for kind in KINDS}, **self.manifest["counts"]}


def check_backup(path) -> dict:
    """Read a backup file through and check it: the manifest, every member's SHA-256 and size,
    every line's JSON, the counts, every photo's name against its content. Also reads backups
    of the earlier log format. Returns {"ok", "path", "format", "counts", "problems",
    "bytes"}; never raises for a damaged file (StorageError only when it cannot be read)."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise StorageError(f"备份文件不存在:{path}")
    if not zipfile.is_zipfile(path):
        return _check_log_backup(path)
    problems, counts = [], {}
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _manifest(archive)
            names = set(archive.namelist()) - {MANIFEST}
            for name in sorted(names - set(manifest["members"])):
                problems.append(f"清单中没有记录的文件:{name}")
            for name, expected in manifest["members"].items():
                if name not in names:
                    problems.append(f"缺少文件:{name}")
                    continue
                digest, size, lines, bad = _read_member(archive, name)
                if digest != expected["sha256"] or size != expected["bytes"]:
                    problems.append(f"文件已损坏(校验值不符):{name}")
                elif name.endswith(".jsonl"):
                    counts[name[:-len(".jsonl")]] = lines
                    if bad:
                        problems.append(f"{name} 第 {bad} 行无法解析")
                elif name.startswith("photos/"):
                    problems += _photo_problem(archive, name)
            counts["photos"] = sum(1 for n in manifest["members"] if n.startswith("photos/"))
            for kind, number in manifest["counts"].items():
                if counts.get(kind) != number and not problems:
                    problems.append(f"{kind} 的数量({counts.get(kind)})与清单({number})不符")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        problems.append(f"文件无法读取:{exc}")
        manifest = {}
    except _BadManifest as exc:
        problems.append(str(exc))
        manifest = {}
    return {"ok": not problems, "path": path, "format": "zip", "counts": counts,
            "problems": problems, "bytes": os.path.getsize(path),
            "created_at": manifest.get("created_at"), "backend": manifest.get("backend")}


def _photo_problem(archive, name):
    photo = name[len("photos/"):]
    if not is_photo_name(photo):
        return [f"照片文件名无效:{name}"]
    data = archive.read(name)
    if photo_name(data, content_type_of(photo)) != photo:
        return [f"照片内容与名称不符:{name}"]
    return []


class _BadManifest(Exception):
    pass


def _manifest(archive) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise _BadManifest("不是台账备份文件(缺少 manifest.json)") from None
    except ValueError:
        raise _BadManifest("manifest.json 已损坏") from None
    if manifest.get("format") != FORMAT:
        raise _BadManifest("不是台账备份文件")
    if manifest.get("version") != VERSION:
        raise _BadManifest(f"备份格式版本 {manifest.get('version')} 不受支持(本程序读取版本 "
                           f"{VERSION})")
    return manifest


def _read_member(archive, name):
    """(sha256 hex, size, number of lines, first unparsable line number or 0)."""
    digest, size, lines, bad = hashlib.sha256(), 0, 0, 0
    is_json = name.endswith(".jsonl")
    with archive.open(name) as member:
        if not is_json:
            while chunk := member.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
            return digest.hexdigest(), size, 0, 0
        for line in member:
            digest.update(line)
            size += len(line)
            if not line.strip():
                continue
            lines += 1
            if not bad:
                try:
                    json.loads(line)
                except ValueError:
                    bad = lines
    return digest.hexdigest(), size, lines, bad


@contextmanager
def open_backup(path):
    """A backup file as a Snapshot, after check_backup found it sound (StorageError with the
    problems otherwise). Also opens backups of the earlier log format."""
    report = check_backup(path)
    if not report["ok"]:
        raise StorageError("备份文件有问题,拒绝恢复:" + ";".join(report["problems"][:5]))
    if report["format"] == "log":
        from .tiny import open_log_backup

        with open_log_backup(report["path"]) as snap:
            yield snap
        return
    with zipfile.ZipFile(report["path"]) as archive:
        manifest = _manifest(archive)
    backup = BackupFile(report["path"], manifest)
    try:
        yield backup
    finally:
        backup.close()


def _check_log_backup(path) -> dict:
    """check_backup for a file of the earlier log format (a TinyDB taizhang-….db)."""
    from .logdb import check as check_log

    with open(path, "rb") as f:
        head = f.read(16)
    if head and not head.startswith(b'{"crc":'):
        return {"ok": False, "path": path, "format": "unknown", "counts": {},
                "problems": ["不是台账备份文件"], "bytes": os.path.getsize(path)}
    report = check_log(path)
    problems = [f"第 {c['offset']} 字节处的记录已损坏:{c['reason']}" for c in report["corrupt"]]
    if report["bad_raw_values"]:
        problems.append(f"{report['bad_raw_values']} 份提交的答案无法解析")
    counts = {kind: report["tables"].get(kind, 0) for kind in KINDS}
    counts["photos"] = 0
    return {"ok": not problems, "path": path, "format": "log", "counts": counts,
            "problems": problems, "bytes": report["bytes"],
            "torn_tail_bytes": report["torn_tail_bytes"]}
