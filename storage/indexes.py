"""Secondary indexes over the in-memory tables, for the hot paths of the Store.

The engine calls ``reset(tables)`` when it starts a (re)load, then ``added(...)`` for every run of
new documents and ``changed(...)`` for every other applied operation, whether it was written by
this process or replayed from another one, so the indexes are never staler than the tables they
index.

The submission indexes are built on first use, each from the whole table in one pass (~30 ms
per 100k submissions), then kept current: opening the database does not pay for indexes that
a process may never need (a worker that only serves entry pages needs none of them), and a
first submission pays only for the two it needs. The engine and the Store call everything here
under the storage lock.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict, deque
from itertools import chain, islice, repeat
from operator import gt, methodcaller

SUBMISSIONS = "submissions"
LINKS = "links"


def _ordered_add(ids: list, doc_id: int) -> None:
    """Add to a list of ids kept in increasing order (ids only grow, so this is an append
    except after an unusual replay order)."""
    if ids and doc_id < ids[-1]:
        insort(ids, doc_id)
    else:
        ids.append(doc_id)


def _unique(keys, ids) -> dict:
    """{key: id}, later ids winning; documents without the key (None, "") are left out."""
    index = dict(zip(keys, ids))
    for missing in (None, "", 0):
        index.pop(missing, None)
    return index


def _groups(keys, ids) -> defaultdict:
    """{key: [ids in the given order]}."""
    groups = defaultdict(list)
    deque(map(list.append, map(groups.__getitem__, keys), ids), 0)
    return groups


class Indexes:
    def __init__(self):
        self.reset({})

    def reset(self, tables) -> None:
        self._tables = tables  # the engine's live tables (filled by the replay that follows)
        # submissions, each None until first used
        self._by_sid: dict[str, int] | None = None
        self._by_receipt: dict[str, int] | None = None
        self._by_form: defaultdict[str, list[int]] | None = None  # ids in increasing order
        self._by_form_org: defaultdict[tuple[str, str], list[int]] | None = None
        # (form, org) -> _Dated: ids ordered by local day of submitted_at, for date filters
        self._dated: dict[tuple[str, str], _Dated] | None = None
        self._day_seq: dict[str, int] = {}  # "YYMMDD" -> highest receipt sequence, by need
        self._all_days = False  # whether _day_seq holds every day
        # links (few: always built)
        self.link_by_token: dict[str, int] = {}
        self.active_link: dict[tuple[str, str], int] = {}
        links = tables.get(LINKS, {})
        for doc_id in sorted(links):
            self._link(doc_id, None, links[doc_id])

    # ---- submission indexes, built on first use ------------------------------------------------

    def _submissions(self) -> tuple[list[int], list[dict]]:
        table = self._tables.get(SUBMISSIONS, {})
        ids = list(table)
        if any(map(gt, ids, islice(ids, 1, None))):
            ids.sort()
            return ids, list(map(table.__getitem__, ids))
        return ids, list(table.values())

    def _field(self, docs, key: str) -> map:
        return map(dict.get, docs, repeat(key))

    @property
    def sub_by_sid(self) -> dict[str, int]:
        if self._by_sid is None:
            ids, docs = self._submissions()
            self._by_sid = _unique(self._field(docs, "submission_id"), ids)
        return self._by_sid

    @property
    def sub_by_receipt(self) -> dict[str, int]:
        if self._by_receipt is None:
            ids, docs = self._submissions()
            self._by_receipt = _unique(self._field(docs, "receipt"), ids)
        return self._by_receipt

    @property
    def sub_by_form(self) -> defaultdict[str, list[int]]:
        if self._by_form is None:
            ids, docs = self._submissions()
            self._by_form = _groups(self._field(docs, "form_id"), ids)
        return self._by_form

    @property
    def sub_by_form_org(self) -> defaultdict[tuple[str, str], list[int]]:
        if self._by_form_org is None:
            ids, docs = self._submissions()
            keys = zip(self._field(docs, "form_id"), self._field(docs, "org_code"))
            self._by_form_org = _groups(keys, ids)
        return self._by_form_org

    @property
    def dated(self) -> dict[tuple[str, str], "_Dated"]:
        if self._dated is None:
            ids, docs = self._submissions()
            days = [str(d.get("submitted_at"))[:10] for d in docs]
            self._dated = {}
            for key, day, doc_id in sorted(zip(
                    zip(self._field(docs, "form_id"), self._field(docs, "org_code")), days, ids),
                    key=lambda t: (str(t[0]), t[1], t[2])):
                self._dated.setdefault(key, _Dated()).append(day, doc_id)
        return self._dated

    def matching(self, form_id, org_codes: set | None, low: str | None, high: str | None
                 ) -> list[int]:
        """Ids of the submissions of form_id (None: every form) from org_codes (None: every
        organization) submitted on a local day within [low, high] (None: open), newest first.
        Without dates the per-form lists are already in id order; with dates the day-ordered
        index gives each (form, organization)'s ids of those days by bisection."""
        if low is None and high is None:
            if org_codes is None and form_id is None:
                return sorted(self._tables.get(SUBMISSIONS, {}), reverse=True)
            if org_codes is None:
                return list(reversed(self.sub_by_form.get(form_id, ())))
            groups = self._groups_of(self.sub_by_form_org, form_id, org_codes)
            return sorted(chain.from_iterable(groups), reverse=True)
        low, high = low or "0000-00-00", high or "9999-99-99"
        groups = self._groups_of(self.dated, form_id, org_codes)
        return sorted(chain.from_iterable(g.between(low, high) for g in groups), reverse=True)

    def counts_by_org(self, form_id, org_codes: set | None, low: str | None,
                      high: str | None) -> dict[str, int]:
        """org code -> number of submissions of form_id within the days (as ``matching``)."""
        counts = {}
        if low is None and high is None:
            for (fid, code), ids in self.sub_by_form_org.items():
                if fid == form_id and ids and (org_codes is None or code in org_codes):
                    counts[code] = len(ids)
            return counts
        low, high = low or "0000-00-00", high or "9999-99-99"
        for (fid, code), group in self.dated.items():
            if fid == form_id and (org_codes is None or code in org_codes):
                n = group.count_between(low, high)
                if n:
                    counts[code] = n
        return counts

    @staticmethod
    def _groups_of(index: dict, form_id, org_codes):
        if org_codes is None:
            return [group for (fid, _), group in index.items() if fid == form_id or form_id is None]
        if form_id is None:
            return [group for (_, code), group in index.items() if code in org_codes]
        return [index[(form_id, code)] for code in org_codes if (form_id, code) in index]

    def last_seq(self, day: str) -> int:
        """The highest receipt sequence of day ("YYMMDD"), 0 if none. Looked up per day among
        the receipts (a few ms per 100k), for every day at once when many are asked for (an
        import), then kept current."""
        seq = self._day_seq.get(day)
        if seq is not None or self._all_days:
            return seq or 0
        receipts = self.sub_by_receipt
        if len(self._day_seq) < 16:
            try:
                receipts = list(filter(methodcaller("startswith", day + "-"), receipts))
            except (AttributeError, TypeError):  # a receipt that is not a string: look at all
                pass
        else:
            self._all_days = True
        self._day_seq[day] = 0
        for receipt in receipts:
            self._seen_receipt(receipt)
        return self._day_seq[day]

    def _seen_receipt(self, receipt) -> None:
        if type(receipt) is not str:
            return
        day, _, seq = receipt.partition("-")
        if not (self._all_days or day in self._day_seq):
            return  # a day not looked up yet: it will be found among the receipts when it is
        if seq.isdecimal() and int(seq) > self._day_seq.get(day, 0):
            self._day_seq[day] = int(seq)

    # ---- kept current by the engine ------------------------------------------------------------

    def added(self, table: str, ids: list[int], docs: list[dict]) -> None:
        """New documents, ids increasing and above every id already in the table."""
        if table == SUBMISSIONS:
            self._add_submissions(ids, docs)
        elif table == LINKS:
            for doc_id, doc in zip(ids, docs):
                self._link(doc_id, None, doc)

    def _add_submissions(self, ids: list[int], docs: list[dict]) -> None:
        if len(ids) < 8:  # a write or a catch-up: the plain way is quicker
            for doc_id, doc in zip(ids, docs):
                self._new_submission(doc_id, doc)
            return
        # The same, one pass in C per index built so far (none while loading).
        if self._by_sid is not None:
            self._by_sid.update(_unique(self._field(docs, "submission_id"), ids))
        if self._by_receipt is not None:
            receipts = _unique(self._field(docs, "receipt"), ids)
            self._by_receipt.update(receipts)
            if self._day_seq:
                for receipt in receipts:
                    self._seen_receipt(receipt)
        if self._dated is not None:
            for doc_id, doc in zip(ids, docs):
                self._dated_add(doc_id, doc)
        if self._by_form is not None or self._by_form_org is not None:
            forms = list(self._field(docs, "form_id"))
            if self._by_form is not None:
                deque(map(list.append, map(self._by_form.__getitem__, forms), ids), 0)
            if self._by_form_org is not None:
                keys = zip(forms, self._field(docs, "org_code"))
                deque(map(list.append, map(self._by_form_org.__getitem__, keys), ids), 0)

    def changed(self, table: str, doc_id: int, old, new) -> None:
        if table == SUBMISSIONS:
            self._submission(doc_id, old, new)
        elif table == LINKS:
            self._link(doc_id, old, new)

    def _new_submission(self, doc_id: int, new: dict) -> None:
        """_submission(doc_id, None, new), shorter (the path of every write)."""
        get = new.get
        if self._by_sid is not None:
            sid = get("submission_id")
            if sid:
                self._by_sid[sid] = doc_id
        if self._by_receipt is not None:
            receipt = get("receipt")
            if receipt:
                self._by_receipt[receipt] = doc_id
                self._seen_receipt(receipt)
        if self._by_form is not None:
            _ordered_add(self._by_form[get("form_id")], doc_id)
        if self._by_form_org is not None:
            _ordered_add(self._by_form_org[(get("form_id"), get("org_code"))], doc_id)
        if self._dated is not None:
            self._dated_add(doc_id, new)

    def _dated_add(self, doc_id: int, doc: dict) -> None:
        key = (doc.get("form_id"), doc.get("org_code"))
        self._dated.setdefault(key, _Dated()).add(str(doc.get("submitted_at"))[:10], doc_id)

    def _submission(self, doc_id, old, new) -> None:
        # .get() throughout: an exception here would leave memory half-updated.
        old_key = (old.get("form_id"), old.get("org_code")) if old is not None else None
        new_key = (new.get("form_id"), new.get("org_code")) if new is not None else None
        if old is not None:
            for index, key in ((self._by_sid, old.get("submission_id")),
                               (self._by_receipt, old.get("receipt"))):
                if index is not None and index.get(key) == doc_id:
                    del index[key]
            if self._dated is not None and old_key in self._dated:
                self._dated[old_key].remove(str(old.get("submitted_at"))[:10], doc_id)
            if old_key != new_key:
                for groups, key in ((self._by_form, old_key[0]), (self._by_form_org, old_key)):
                    ids = groups.get(key) if groups is not None else None
                    if ids and doc_id in ids:
                        ids.remove(doc_id)
        if new is None:
            return
        if self._dated is not None:
            self._dated_add(doc_id, new)
        sid, receipt = new.get("submission_id"), new.get("receipt")
        if sid and self._by_sid is not None:
            self._by_sid[sid] = doc_id
        if receipt and self._by_receipt is not None:
            self._by_receipt[receipt] = doc_id
            self._seen_receipt(receipt)
        if old_key != new_key:
            if self._by_form is not None:
                _ordered_add(self._by_form[new_key[0]], doc_id)
            if self._by_form_org is not None:
                _ordered_add(self._by_form_org[new_key], doc_id)

    def _link(self, doc_id, old, new) -> None:
        if old is not None:
            if self.link_by_token.get(old.get("token")) == doc_id:
                del self.link_by_token[old.get("token")]
            key = (old.get("form_id"), old.get("org_code"))
            if self.active_link.get(key) == doc_id:
                del self.active_link[key]
        if new is not None:
            self.link_by_token[new.get("token")] = doc_id
            if not new.get("revoked_at"):
                self.active_link[(new.get("form_id"), new.get("org_code"))] = doc_id


class _Dated:
    """Ids ordered by (local day, id): ``days`` and ``ids`` are parallel lists, so a date range
    is two bisections. New submissions are almost always of the latest day (an append)."""

    __slots__ = ("days", "ids")

    def __init__(self):
        self.days: list[str] = []
        self.ids: list[int] = []

    def append(self, day: str, doc_id: int) -> None:
        """Add at the end (the caller gives them in (day, id) order)."""
        self.days.append(day)
        self.ids.append(doc_id)

    def add(self, day: str, doc_id: int) -> None:
        days = self.days
        if not days or (days[-1], self.ids[-1]) <= (day, doc_id):
            self.append(day, doc_id)
            return
        at = bisect_right(days, day)
        while at > 0 and days[at - 1] == day and self.ids[at - 1] > doc_id:
            at -= 1
        days.insert(at, day)
        self.ids.insert(at, doc_id)

    def remove(self, day: str, doc_id: int) -> None:
        start, stop = bisect_left(self.days, day), bisect_right(self.days, day)
        for at in range(start, stop):
            if self.ids[at] == doc_id:
                del self.days[at], self.ids[at]
                return

    def between(self, low: str, high: str) -> list[int]:
        return self.ids[bisect_left(self.days, low):bisect_right(self.days, high)]

    def count_between(self, low: str, high: str) -> int:
        return bisect_right(self.days, high) - bisect_left(self.days, low)
