"""The lookups the TinyDB Store needs faster than a scan of a table.

Links: by token (every entry page) and the active link of each (form, organization).
Submissions: by submission id (idempotent submit), by receipt, the highest receipt number of
each day (the next receipt), by form (listings newest first, counts) and by (form,
organization) ordered by day (the admin filters: a date range is two bisections, never a scan).

The engine keeps them current (``LogStorage.listener``): ``loaded(tables)`` after every load
of the file, then ``changed()`` for every document put or removed, whichever process wrote it.
The Store reads them under the engine's lock.
"""
from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort

SUBMISSIONS = "submissions"
LINKS = "links"


class Indexes:
    def __init__(self):
        self.loaded({})

    def loaded(self, tables: dict) -> None:
        self._tables = tables
        self._keys: SubmissionKeys | None = None
        self._lists: SubmissionLists | None = None
        self.link_by_token: dict[str, int] = {}
        self.active_link: dict[tuple[str, str], int] = {}
        for doc_id, doc in tables.get(LINKS, {}).items():
            self._add_link(doc_id, doc)

    @property
    def keys(self) -> SubmissionKeys:
        """By submission id and receipt, and each day's last receipt number: what a submit
        needs. Built on first use (~0.1 s per 100k submissions; Store.warm_up builds it when
        a server worker starts), then kept current."""
        if self._keys is None:
            self._keys = self._built(SubmissionKeys())
        return self._keys

    @property
    def lists(self) -> SubmissionLists:
        """By form and by (form, organization, day): what the admin lists, 催报 and exports
        need. Built on the first such query of a process (~0.2 s per 100k submissions): a
        worker that only serves cadres' forms never pays for it."""
        if self._lists is None:
            self._lists = self._built(SubmissionLists())
        return self._lists

    def _built(self, index):
        for doc_id, doc in self._tables.get(SUBMISSIONS, {}).items():
            index.add(doc_id, doc)
        return index

    def changed(self, table: str, doc_id: int, old: dict | None, new: dict | None) -> None:
        if table == SUBMISSIONS:
            for index in (self._keys, self._lists):
                if index is not None:
                    if (index is self._lists and old is not None and new is not None
                            and index.restatus(doc_id, old, new)):
                        continue  # a review or correction: the lists stay as they are
                    if old is not None:
                        index.remove(doc_id, old)
                    if new is not None:
                        index.add(doc_id, new)
        elif table == LINKS:
            if old is not None:
                self._remove_link(doc_id, old)
            if new is not None:
                self._add_link(doc_id, new)

    def _add_link(self, doc_id: int, doc: dict) -> None:
        self.link_by_token[doc.get("token")] = doc_id
        if not doc.get("revoked_at"):
            self.active_link[(doc.get("form_id"), doc.get("org_code"))] = doc_id

    def _remove_link(self, doc_id: int, doc: dict) -> None:
        if self.link_by_token.get(doc.get("token")) == doc_id:
            del self.link_by_token[doc.get("token")]
        key = (doc.get("form_id"), doc.get("org_code"))
        if self.active_link.get(key) == doc_id:
            del self.active_link[key]


class SubmissionKeys:
    def __init__(self):
        self.by_sid: dict[str, int] = {}
        self.by_receipt: dict[str, int] = {}
        self.last_number: dict[str, int] = {}  # "YYMMDD" -> highest receipt number of the day
        # (form, organization, slot) -> the submission holding it (one-per-period forms)
        self.by_slot: dict[tuple, int] = {}

    def add(self, doc_id: int, doc: dict) -> None:
        # .get() throughout: a malformed document must not leave the indexes half-updated.
        receipt = doc.get("receipt")
        if doc.get("submission_id"):
            self.by_sid[doc["submission_id"]] = doc_id
        if receipt:
            self.by_receipt[receipt] = doc_id
            day, _, number = str(receipt).partition("-")
            if number.isdigit() and int(number) > self.last_number.get(day, 0):
                self.last_number[day] = int(number)
        slot = _slot_key(doc)
        if slot is not None:
            self.by_slot[slot] = doc_id

    def remove(self, doc_id: int, doc: dict) -> None:
        for index, key in ((self.by_sid, doc.get("submission_id")),
                           (self.by_receipt, doc.get("receipt")),
                           (self.by_slot, _slot_key(doc))):
            if index.get(key) == doc_id:
                del index[key]


PENDING = "待审核"


class SubmissionLists:
    def __init__(self):
        self.by_form: dict[str, list[int]] = {}  # ids in increasing order
        self.by_form_org: dict[tuple[str, str], Dated] = {}
        # form -> review status -> ids, for every status but 待审核 (what most submissions
        # are): a status filter is a set lookup per id, or nothing at all when the form has
        # no submission of the statuses it leaves out (lists leave out 已作废 by default).
        self.by_status: dict[str, dict[str, set[int]]] = {}

    def restatus(self, doc_id: int, old: dict, new: dict) -> bool:
        """An update that keeps a submission's form, organization and day (a review, a
        correction): only its status may move. False when the lists must be redone."""
        if (old.get("form_id"), old.get("org_code"), day_of(old)) != (
                new.get("form_id"), new.get("org_code"), day_of(new)):
            return False
        self._unstatus(doc_id, old)
        self._status(doc_id, new)
        return True

    def _status(self, doc_id: int, doc: dict) -> None:
        status = doc.get("status", PENDING)
        if status != PENDING:
            self.by_status.setdefault(doc.get("form_id"), {}).setdefault(status, set()).add(
                doc_id)

    def _unstatus(self, doc_id: int, doc: dict) -> None:
        ids = self.by_status.get(doc.get("form_id"), {}).get(doc.get("status", PENDING))
        if ids is not None:
            ids.discard(doc_id)

    def status_filter(self, form_id: str | None, statuses) -> tuple[bool, set[int]]:
        """(keep, ids) for a statuses filter: keep the ids in ``ids`` (keep True) or leave
        them out (keep False); (False, empty set) filters nothing."""
        forms = [self.by_status.get(form_id, {})] if form_id is not None \
            else list(self.by_status.values())
        if PENDING in statuses:
            return False, {i for by in forms for status, ids in by.items()
                           if status not in statuses for i in ids}
        return True, {i for by in forms for status in statuses for i in by.get(status, ())}

    def add(self, doc_id: int, doc: dict) -> None:
        form_id = doc.get("form_id")
        ids = self.by_form.get(form_id)
        if ids is None:
            ids = self.by_form[form_id] = []
        if ids and doc_id < ids[-1]:  # an id below the highest: only after a hand-made log
            insort(ids, doc_id)
        else:
            ids.append(doc_id)
        dated = self.by_form_org.get((form_id, doc.get("org_code")))
        if dated is None:
            dated = self.by_form_org[(form_id, doc.get("org_code"))] = Dated()
        dated.add(day_of(doc), doc_id)
        self._status(doc_id, doc)

    def remove(self, doc_id: int, doc: dict) -> None:
        self._unstatus(doc_id, doc)
        ids = self.by_form.get(doc.get("form_id"), [])
        position = bisect_left(ids, doc_id)
        if position < len(ids) and ids[position] == doc_id:
            del ids[position]
        elif doc_id in ids:  # (ids out of order: only after a hand-made log)
            ids.remove(doc_id)
        dated = self.by_form_org.get((doc.get("form_id"), doc.get("org_code")))
        if dated is not None:
            dated.remove(day_of(doc), doc_id)

    def matching(self, form_id: str | None, org_codes: set | None, low: str | None,
                 high: str | None) -> list[int]:
        """Ids of the submissions of form_id (None: every form) from org_codes (None: every
        organization) on a local day within [low, high] (None: open), newest first."""
        if low is None and high is None and org_codes is None:
            if form_id is None:
                return sorted((i for ids in self.by_form.values() for i in ids), reverse=True)
            return self.by_form.get(form_id, [])[::-1]
        low, high = low or "0000-00-00", high or "9999-99-99"
        ids = [i for _, dated in self._dated(form_id, org_codes) for i in dated.between(low, high)]
        return sorted(ids, reverse=True)

    def counts_by_org(self, form_id: str, org_codes: set | None, low: str | None,
                      high: str | None) -> dict[str, int]:
        """org code -> number of submissions of form_id within the days (as ``matching``)."""
        low, high = low or "0000-00-00", high or "9999-99-99"
        counts = {}
        for code, dated in self._dated(form_id, org_codes):
            count = dated.count_between(low, high)
            if count:
                counts[code] = count
        return counts

    def _dated(self, form_id, org_codes) -> list[tuple[str, Dated]]:
        """(org code, Dated) of form_id (None: every form) and org_codes (None: all)."""
        if form_id is not None and org_codes is not None:
            return [(code, self.by_form_org[(form_id, code)]) for code in org_codes
                    if (form_id, code) in self.by_form_org]
        return [(code, dated) for (fid, code), dated in self.by_form_org.items()
                if (form_id is None or fid == form_id)
                and (org_codes is None or code in org_codes)]


def day_of(doc: dict) -> str:
    """The local day "YYYY-MM-DD" of a submission (submitted_at as written, with its offset);
    one shared copy of each day's string (~6 MB per 100k submissions otherwise)."""
    return sys.intern(str(doc.get("submitted_at"))[:10])


class Dated:
    """The submission ids of one (form, organization) ordered by (day, id): ``days`` and
    ``ids`` are parallel lists, so the ids of a date range are two bisections away."""

    __slots__ = ("days", "ids")

    def __init__(self):
        self.days: list[str] = []
        self.ids: list[int] = []

    def add(self, day: str, doc_id: int) -> None:
        if not self.days or day > self.days[-1] or (day == self.days[-1]
                                                   and doc_id > self.ids[-1]):
            self.days.append(day)  # the usual case: the newest submission
            self.ids.append(doc_id)
            return
        at = bisect_right(self.days, day)
        while at > 0 and self.days[at - 1] == day and self.ids[at - 1] > doc_id:
            at -= 1
        self.days.insert(at, day)
        self.ids.insert(at, doc_id)

    def remove(self, day: str, doc_id: int) -> None:
        for at in range(bisect_left(self.days, day), bisect_right(self.days, day)):
            if self.ids[at] == doc_id:
                del self.days[at], self.ids[at]
                return

    def between(self, low: str, high: str) -> list[int]:
        return self.ids[bisect_left(self.days, low):bisect_right(self.days, high)]

    def count_between(self, low: str, high: str) -> int:
        return bisect_right(self.days, high) - bisect_left(self.days, low)


def _slot_key(doc: dict) -> tuple | None:
    """The (form, organization, slot) a stored submission holds: None without a slot or once
    voided (storage.common.holds_slot, on the stored form of a document)."""
    if doc.get("slot") is None or doc.get("status") == "已作废":
        return None
    return doc.get("form_id"), doc.get("org_code"), doc.get("slot")
