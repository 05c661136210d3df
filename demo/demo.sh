#!/usr/bin/env bash
# gitrot demo: everything that works today, offline, on the embedded default.
# Run through `make demo` (it puts .venv/bin first on PATH).
set -euo pipefail

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# a private home: the demo never reads or writes your real keys
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS SOPS_CONFIG || true

step "1. A new age identity (written 0600 where sops and gitrot look by default)"
recipient=$(gitrot keygen)
echo "recipient: $recipient"
ls -l "$XDG_CONFIG_HOME/sops/age/keys.txt" | awk '{print $1, $NF}'

step "2. .sops.yaml: encrypt only where the secret lives; anyone may bump the version"
cat > .sops.yaml <<YAML
creation_rules:
  - path_regex: ^secrets/.*\.yaml$
    encrypted_regex: ^(ref|value)$
    mac_only_encrypted: true
    age: $recipient
YAML
cat .sops.yaml

step "3. A rotation intent, encrypted in place"
mkdir -p secrets/payments
cat > secrets/payments/db-password.yaml <<'YAML'
apiVersion: gitrot/v1
kind: RotationIntent
metadata:
  name: payments/db-password
  owner: team-payments
  class: database-password
spec:
  version: 7
  reason: "Quarterly rotation CHG-2291"
  # where the secret lives stays encrypted
  target:
    backend: local
    ref: payments/db-password
  value:
    generate: {length: 32, alphabet: "A-Za-z0-9-_!#%"}
  consumers: [payments-api, ledger-worker]
YAML
show gitrot encrypt -i secrets/payments/db-password.yaml
cat secrets/payments/db-password.yaml

step "4. Decrypted by gitrot ..."
show gitrot decrypt secrets/payments/db-password.yaml
show gitrot decrypt secrets/payments/db-password.yaml --extract '["spec"]["target"]["ref"]'; echo

step "... and by the real sops, from the same file"
show sops -d secrets/payments/db-password.yaml

step "5. Re-encrypting unchanged values changes nothing: minimal PR diffs"
gitrot decrypt secrets/payments/db-password.yaml -o plain.yaml
cp secrets/payments/db-password.yaml before.yaml
show gitrot encrypt plain.yaml -o secrets/payments/db-password.yaml --filename-override secrets/payments/db-password.yaml
diff before.yaml secrets/payments/db-password.yaml && echo "identical: no diff"
sed -i 's/ledger-worker/ledger-api/' plain.yaml
gitrot encrypt plain.yaml -o secrets/payments/db-password.yaml --filename-override secrets/payments/db-password.yaml
echo "after renaming one consumer, the diff is:"
diff before.yaml secrets/payments/db-password.yaml | grep '^[<>]' | cut -c1-90 || true
rm -f plain.yaml

step "6. Tampering is refused (exit 1), and so is a file that is not SOPS (exit 2)"
sed 's/ref: ENC\[AES256_GCM,data:./ref: ENC[AES256_GCM,data:X/' secrets/payments/db-password.yaml > tampered.yaml
set +e
show gitrot decrypt tampered.yaml; echo "exit code: $?"
printf 'a: 1\n' > plain.yaml
show gitrot decrypt plain.yaml; echo "exit code: $?"
set -e

step "7. Many files in one process (a CI job rendering a folder)"
for n in 1 2 3; do
  printf 'spec:\n  target:\n    ref: path/%s\n' "$n" > "secrets/payments/svc-$n.yaml"
  gitrot encrypt -i "secrets/payments/svc-$n.yaml"
done
show gitrot decrypt secrets/payments/svc-*.yaml --output-dir rendered
find rendered -type f | sort

step "8. Keys: add a recipient (updatekeys), then a fresh data key (rekey)"
second=$(gitrot keygen -o second.txt 2>/dev/null)
sed -i "s|age: $recipient|age: $recipient, $second|" .sops.yaml
show gitrot updatekeys secrets/payments/db-password.yaml
SOPS_AGE_KEY_FILE=second.txt gitrot decrypt secrets/payments/db-password.yaml --extract '["spec"]["target"]["ref"]'; echo "  <- read with the second identity"
show gitrot rekey secrets/payments/db-password.yaml
SOPS_AGE_KEY_FILE=second.txt sops -d secrets/payments/db-password.yaml | grep -A2 target

step "9. JSON and dotenv files too, readable by sops"
printf 'DB_USER=app\n# rotated quarterly\nDB_PASSWORD=s3cr3t\n' > app.env
show gitrot encrypt app.env --age "$recipient" -o app.enc.env
cut -c1-80 app.enc.env | head -3
show sops -d app.enc.env
printf '{"api": {"token": "t0k3n", "ttl": 3600}}' > api.json
gitrot encrypt api.json --age "$recipient" -o api.enc.json
show gitrot decrypt api.enc.json --extract '["api"]["ttl"]'; echo

step "done"
