"""First-start seeding: built-in form schemas and the demo organization tree.

Idempotent and additive: a form id that already exists is never touched (an admin may have
edited it), and the demo organizations are only loaded into a database that has none.
"""
import os

import orgs as org_tree
from forms.loader import load_builtin_schemas

DEMO_ORGS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed_data",
                             "demo_orgs.csv")


def seed_first_start(store, demo_orgs=True):
    """Install missing built-in forms and, on an empty database, the demo org tree.

    Returns {"forms": [ids added], "orgs": number of orgs added}.
    """
    existing = {f["id"] for f in store.list_forms()}
    added = []
    for schema in load_builtin_schemas():
        if schema["id"] not in existing:
            store.add_form_version(schema, source="builtin")
            added.append(schema["id"])
    org_count = 0
    if demo_orgs and not store.list_orgs():
        with open(DEMO_ORGS_CSV, "rb") as f:
            rows = org_tree.parse_orgs_csv(f.read(), [])
        store.upsert_orgs(rows)
        org_count = len(rows)
    return {"forms": added, "orgs": org_count}
