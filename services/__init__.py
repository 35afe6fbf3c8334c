"""The business rules of Taizhang, one module per area.

    formdefs     form definitions: parse, check, save versions, built-in forms
    orgs         organizations: code/name rules, CSV import/export, the tree, save/delete
    links        QR links: entry URLs, making and revoking links
    submissions  a cadre's submission, the admin list, 催报, exports
    accounts     users, passwords, login sessions, login throttling
    access       which organizations a user may see (the one place that decides it)
    audit        the audit log: who did what, recorded after each action, read by admins

Views (views/), the command line (cli/) and the coming API call these functions; they take a
Store (storage.contract) and plain values, and raise exceptions with Chinese messages. They do
not know about HTTP.
"""
