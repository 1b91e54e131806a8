#!/bin/sh
# Start the shoplake API in its Fargate task. ECS injects the secrets as variables; this
# writes the API keys file (mode 0600), builds the pgvector URL, drops the raw variables
# and starts the API (bound to the task's interface, behind the load balancer).
set -eu
umask 077
if [ -n "${SHOPLAKE_API_KEYS_JSON:-}" ]; then
    printf '%s\n' "$SHOPLAKE_API_KEYS_JSON" > "$SHOPLAKE_DATA_DIR/api_keys.json"
fi
if [ -n "${DB_PASSWORD:-}" ]; then
    SHOPLAKE_VECTORS__URL="$(python - <<'PY'
import os
from urllib.parse import quote

e = os.environ
user, password = quote(e["DB_USERNAME"], safe=""), quote(e["DB_PASSWORD"], safe="")
print(f"postgresql://{user}:{password}@{e['DB_HOST']}:{e['DB_PORT']}/{e['DB_DBNAME']}?sslmode=require")
PY
)"
    export SHOPLAKE_VECTORS__URL
fi
unset SHOPLAKE_API_KEYS_JSON DB_PASSWORD DB_USERNAME DB_HOST DB_PORT DB_DBNAME
exec shoplake serve --host "${SHOPLAKE_SERVE__HOST:-0.0.0.0}"
