"""What the hosts of one deployment must agree on, settled by `flask --app app init`.

Several hosts behind a load balancer serve one PostgreSQL database. A session cookie or a CSRF
token signed by one host must verify on the others, so they need one SECRET_KEY. The first
host's `init` stores its key in the database (Store.setting); every other host's `init`
adopts it into its own DATA_DIR/secret_key, which `make serve` then starts with. A key set
explicitly in TAIZHANG_SECRET_KEY is never replaced: if it differs, init says so and stops.
"""
import secrets

import config

SECRET_SETTING = "secret_key"


class SecretKeyMismatch(Exception):
    def __str__(self):
        return ("本机 TAIZHANG_SECRET_KEY 与数据库中其他主机共用的密钥不同:各主机必须使用同一个密钥"
                "(去掉该环境变量即可自动使用共用密钥)")


def share_secret_key(store, app_config):
    """Make this host use the deployment's shared secret key. Returns "same" (it already
    does), "stored" (the shared key was made now: DATA_DIR/secret_key holds it) or "adopted"
    (DATA_DIR/secret_key now holds the key the other hosts use; a server started afterwards
    uses it). SecretKeyMismatch when the operator set a key (TAIZHANG_SECRET_KEY or the
    instance config) that differs from the shared one: it is never overwritten."""
    current = app_config["SECRET_KEY"]
    candidate = secrets.token_hex(32) if current == config.DEFAULT_SECRET_KEY else current
    shared = store.setting(SECRET_SETTING, candidate)
    if shared == current:
        return "same"
    if app_config.get("SECRET_KEY_SOURCE") == "config":
        raise SecretKeyMismatch()
    config.write_secret_key(app_config["DATA_DIR"], replace_with=shared)
    return "stored" if shared == candidate else "adopted"


