#!/usr/bin/env bash
# gitrot demo: everything that works today, offline, on the embedded default.
# Run through `make demo` (it puts .venv/bin first on PATH).
set -euo pipefail

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

project=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# a private home: the demo never reads or writes your real keys
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS SOPS_CONFIG || true

step "1. A policy repository: gitrot init"
show gitrot init policy --owner lead --waiver-approver alice
cd policy
ls -A
sed -n '1,14p' gitrot.yaml
echo "..."
cat .sops.yaml
git add -A && git -c user.name=Platform -c user.email=platform@example.com commit -qm "gitrot init" && echo "(committed)"
# a trigger so that secrets can name their consumers; a command trigger runs in a private
# folder outside the repository, so it names its program by absolute path
sed -i "s|^triggers: {}\$|triggers:\\n  payments-api: {type: command, argv: [sh, $work/deploy/rebuild.sh, payments-api]}|" gitrot.yaml
# the "rebuild" of a consumer (on its deploy machine, not in the policy repository): it
# pulls the new secret from the backend at build time
mkdir -p "$work/deploy"
cat > "$work/deploy/rebuild.sh" <<'SH'
#!/bin/sh
# called by the reconciler with GITROT_SECRET_NAME/VERSION, GITROT_DELIVERY_ID (never the value)
work=$(cd "$(dirname "$0")/.." && pwd)
cd "$work/policy" && gitrot exec --secret "$GITROT_SECRET_NAME=SECRET" -- sh -c \
  'echo "rebuilt $0 with $GITROT_SECRET_NAME v$GITROT_SECRET_VERSION (a ${#SECRET}-character secret; delivery $GITROT_DELIVERY_ID)"' "$1" >> "$work/rebuilds.log"
SH

step "2. Three secrets, version 1; only where each lives is encrypted"
show gitrot new payments/db-password --backend local --ref payments/db --owner team-payments --class database-password --consumer payments-api
show gitrot new payments/stripe-key --backend local --ref payments/stripe --owner team-payments --class api-key
show gitrot new platform/signing-key --backend local --ref platform/signing --owner team-platform --class signing-key
cat secrets/payments/db-password.yaml | cut -c1-100
# committed a month ago, so that the rotations below respect each class's min_interval
month_ago=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)
git add -A && GIT_AUTHOR_DATE=$month_ago GIT_COMMITTER_DATE=$month_ago git -c user.name=Platform -c user.email=platform@example.com commit -qm "Three secrets" && echo "(committed, 30 days ago)"

step "3. A developer rotates one on a branch, holding no private key at all"
git checkout -qb rotate-db-password
mv .gitrot/reconciler.key /tmp/gitrot-demo-reconciler.key.$$
show gitrot rotate payments/db-password --reason "Quarterly rotation CHG-2291"
show git --no-pager diff --stat
git --no-pager diff
mv /tmp/gitrot-demo-reconciler.key.$$ .gitrot/reconciler.key
git -c user.name=Dev -c user.email=dev@example.com commit -qam "Rotate payments/db-password (CHG-2291)" && echo "(committed on branch rotate-db-password)"
echo "the reconciler's key still opens it (the MAC covers only encrypted values):"
SOPS_AGE_KEY_FILE=.gitrot/reconciler.key sops -d secrets/payments/db-password.yaml | sed -n '/^spec:/,/consumers/p'

step "4. A value someone else issued, sealed for the repository's recipients"
printf 'api-key-from-the-vendor\n' | gitrot rotate payments/stripe-key --reason "Vendor reissued key TKT-9" --value-stdin
git --no-pager diff -- secrets/payments/stripe-key.yaml | grep '^[-+] '
sed -n '1,12p' secrets/payments/stripe-key.v2.sealed.yaml | cut -c1-100
git add -A && git -c user.name=Dev -c user.email=dev@example.com commit -qm "Rotate payments/stripe-key with a sealed value (TKT-9)"
git checkout -q main

step "4b. The pre-commit hook refuses a bad hand edit, and accepts the good rotation"
cp secrets/payments/db-password.yaml /tmp/gitrot-demo-intent.$$
sed -i 's/^        ref: ENC\[.*$/        ref: payments\/db/; s/^    version: 2$/    version: 0/' secrets/payments/db-password.yaml
set +e
show gitrot validate secrets/payments/db-password.yaml; echo "exit code: $?"
set -e
cp /tmp/gitrot-demo-intent.$$ secrets/payments/db-password.yaml; rm -f /tmp/gitrot-demo-intent.$$
show gitrot validate && echo "valid (exit 0)"

step "4c. Policy as code: a good rotation is accepted, a second one a minute later is not"
git checkout -qb rotate-signing-key
show gitrot rotate platform/signing-key --reason "Yearly rotation CHG-3001"
show gitrot validate && echo "accepted (exit 0)"
git -c user.name=Dev -c user.email=dev@example.com commit -qam "Rotate platform/signing-key (CHG-3001)"
show gitrot rotate platform/signing-key --reason "Rotate it again CHG-3002"
set +e
show gitrot validate secrets/platform/signing-key.yaml; echo "exit code: $?"
set -e
git checkout -q -- secrets
echo "a leak is an emergency: it passes min-interval (and freezes) with a reason of 30+ characters"
show gitrot rotate platform/signing-key --emergency --reason "INC-4711: signing key printed in CI logs"
show gitrot validate secrets/platform/signing-key.yaml && echo "accepted (exit 0)"
git checkout -q -- secrets && git checkout -q main && git branch -qD rotate-signing-key
echo "a change freeze covering today stops the scheduled rotation of payments/db-password:"
today=$(date -u +%Y-%m-%d)
sed -i "s/^freezes: \[\]$/freezes:\n  - {from: \"$today\", to: \"$today\", reason: year-end close}/" gitrot.yaml
gitrot rotate payments/db-password --reason "Quarterly rotation CHG-2291" >/dev/null
set +e
show gitrot validate --format github secrets/payments/db-password.yaml; echo "exit code: $?"
set -e
git checkout -q -- gitrot.yaml secrets

step "4d. The PR check: the whole branch against main, from git objects (no checkout)"
echo "CI gives the pull request's author and approvals (docs/ci); without them the check fails closed"
show env GITROT_PR_AUTHOR=dev GITROT_PR_APPROVALS=lead gitrot check --base main --head rotate-db-password && echo "passes (exit 0)"
show env GITROT_PR_AUTHOR=dev GITROT_PR_APPROVALS=lead gitrot check --base main --head rotate-db-password --format sarif --output check.sarif
python3 -c "import json; r=json.load(open('check.sarif'))['runs'][0]; print('SARIF', json.load(open('check.sarif'))['version'], '-', len(r['results']), 'results,', len(r['tool']['driver']['rules']), 'rules described')"
echo "a careless branch: a skipped version, and a password pasted into the README"
git checkout -qb careless main
sed -i 's/^    version: 1$/    version: 3/' secrets/platform/signing-key.yaml
printf '# Payments\nConnect with:\n  db_password: "Zq8v!rT2#kLm9pXw"\n' > README.md # gitrot: allow a made-up password the demo shows being refused
git add -A && git -c user.name=Dev -c user.email=dev@example.com commit -qm "Rotate signing key, document the db"
set +e
show env GITROT_PR_AUTHOR=dev GITROT_PR_APPROVALS=lead gitrot check --base main --format markdown; echo "exit code: $?"
set -e
git checkout -q main && git branch -qD careless && rm -f check.sarif

step "4e. A pull request cannot rewrite the policy that judges it"
echo "a branch adds a command trigger, waives version-step itself until 9999, and skips a version:"
git checkout -qb loosen main
sed -i "s|^triggers:\$|triggers:\\n  audit-log: {type: command, argv: [sh, -c, 'env > /tmp/creds']}|" gitrot.yaml
cat > waivers.yaml <<'YAML'
apiVersion: gitrot/v1
kind: Waivers
waivers:
  - rule: version-step
    secrets: platform/*
    reason: "skip a version, nobody will notice"
    approver: dev
    expires: "9999-12-31"
YAML
sed -i 's/^    version: 1$/    version: 3/' secrets/platform/signing-key.yaml
git add -A && git -c user.name=Dev -c user.email=dev@example.com commit -qm "Small cleanup"
set +e
show env GITROT_PR_AUTHOR=dev GITROT_PR_APPROVALS=dev gitrot check --base main; echo "exit code: $?"
echo "without the pull request's facts the check fails closed:"
env -u GITROT_PR_AUTHOR -u GITROT_PR_APPROVALS gitrot check --base main >/dev/null 2>&1; echo "exit code: $?"
set -e
git checkout -q main && git branch -qD loosen

step "4f. The secret scanner, for any repository: connection strings, encoded Kubernetes Secrets, passwords in code"
mkdir -p ../app && cat > ../app/deploy.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: payments}
data:
  password: SzhxIXZSMnRMbTlwWHdaNA==
YAML
printf 'DATABASE_URL=postgres://app:Hq7vR2xLm9pWz4tK@db.internal:5432/payments\n' > ../app/.env # gitrot: allow a made-up value the demo shows being found
printf 'if (apiKey == "c2f9a8e4d1b7f3a6e0c5d9b2a7f4e1c8") { connect(); }\n' > ../app/client.js # gitrot: allow a made-up value the demo shows being found
set +e
show gitrot scan ../app/deploy.yaml ../app/.env ../app/client.js; echo "exit code: $?"
set -e

step "5. Merge, then the reconciler applies what main says: write once, rebuild, record in git"
git -c user.name=Lead -c user.email=lead@example.com merge -q --no-ff -m "Merge rotate-db-password" rotate-db-password
show gitrot plan
show gitrot reconcile
echo "the consumer's rebuild log:"; cat ../rebuilds.log
show gitrot status
echo "the note on the merge commit (refs/notes/gitrot), never a value or a ref:"
git notes --ref gitrot show HEAD | python3 -c "import json,sys; n=json.load(sys.stdin); print(json.dumps({'commit': n['commit'], 'applied': n['applied'][:1], 'deliveries': n['deliveries']}, indent=1))"
show gitrot reconcile
echo "killed or run twice, it converges: a second run has nothing to do"
echo "its state (refs/gitrot/state: one small file per secret) is a commit signed like 'git commit -S'"
echo "with the reconciler's key; git verifies it with the public key gitrot.yaml names:"
printf 'gitrot@localhost %s\n' "$(sed -n 's/^  signing_key: \(ssh-ed25519 [^ ]*\).*/\1/p' gitrot.yaml)" > ../allowed_signers
show git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=../allowed_signers verify-commit refs/gitrot/state
echo "state that does not verify (a forged note or ref) is ignored: every secret is compared with the backend"

step "5c. Rotation at the source: pending, set, test, promote (the command rotator)"
echo "a stand-in for a credential's source (an LDAP server, a vendor's API): it accepts the"
echo "passwords whose SHA-256 it keeps; gitrot hands the new one on standard input only"
cat > rotate-source.sh <<'SH'
#!/bin/sh
# rotate-source.sh set|test FOLDER: the new password arrives on stdin, never in argv or env
IFS= read -r value
digest=$(printf '%s' "$value" | sha256sum | cut -c1-64)
case "$1" in
  set) echo "$digest" >> "$2/accepted" ;;
  test) [ ! -e "$2/down" ] || { echo "the directory does not answer" >&2; exit 1; }
        grep -qx "$digest" "$2/accepted" || { echo "the new password is refused" >&2; exit 1; } ;;
esac
SH
chmod +x rotate-source.sh && mkdir -p "$work/ldap"
cat >> gitrot.yaml <<YAML
rotators:
  ldap-app:
    type: command
    set: [./rotate-source.sh, set, $work/ldap]
    test: [./rotate-source.sh, test, $work/ldap]
    timeout: 10s
YAML
git add -A && git -c user.name=Platform -c user.email=platform@example.com commit -qm "A rotator for LDAP" && gitrot reconcile >/dev/null
echo "(the rotator is committed and reconciled first: the reconciler judges a change by the policy before it)"
show gitrot new ldap/app-password --backend local --ref ldap/app --owner team-identity --class api-key --consumer payments-api --rotator ldap-app
git add -A && GIT_AUTHOR_DATE=$month_ago GIT_COMMITTER_DATE=$month_ago git -c user.name=Platform -c user.email=platform@example.com commit -qm "ldap/app-password, rotated at its source" && echo "(committed, dated 30 days ago)"
show gitrot reconcile
echo "the directory stops answering: the rotation's test fails, the new version stays pending and"
echo "the current password is untouched (exit 3):"
echo "(gitrot rotate --commit writes the commit itself, with trailers an auditor can list with plain git)"
show env GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com \
  gitrot rotate ldap/app-password --reason "Quarterly rotation CHG-4100" --commit
git --no-pager log -1 --format='%s%n%n%b' | sed 's/^/    /'
touch "$work/ldap/down"
set +e
show gitrot reconcile; echo "exit code: $?"
show gitrot plan
show gitrot status
set -e
echo "the source is fixed; the next run resumes at the step that failed, with the same pending value:"
rm "$work/ldap/down"
show gitrot reconcile
show gitrot status
echo "the source accepted $(wc -l < "$work/ldap/accepted") passwords, one per version; the note records each step:"
git notes --ref gitrot show HEAD | python3 -c "import json,sys; n=json.load(sys.stdin); print(json.dumps([{k: a[k] for k in a if k in ('name', 'version', 'stage', 'step', 'steps', 'rotator')} for a in n['applied']], indent=1))"

step "5b. What is due (from git history: the last commit that changed each version)"
show gitrot due --within 400d
cd ..

step "6. SOPS codec: a new age identity (written 0600 where sops and gitrot look by default)"
recipient=$(gitrot keygen)
echo "recipient: $recipient"
ls -l "$XDG_CONFIG_HOME/sops/age/keys.txt" | awk '{print $1, $NF}'

step "7. Any SOPS file: .sops.yaml chooses recipients and what is encrypted"
cat > .sops.yaml <<YAML
creation_rules:
  - path_regex: ^config/.*\.yaml$
    encrypted_regex: ^(password|token)$
    age: $recipient
YAML
cat .sops.yaml

step "8. A file encrypted in place"
mkdir -p config
cat > config/payments-db.yaml <<'YAML'
# connection settings for the payments database
database:
  host: db.payments.internal
  port: 5432
  user: payments_app
  password: "correct horse battery staple"   # rotated by gitrot
replicas: [db-r1, db-r2]
YAML
show gitrot encrypt -i config/payments-db.yaml
cat config/payments-db.yaml | cut -c1-110

step "9. Decrypted by gitrot ..."
show gitrot decrypt config/payments-db.yaml
show gitrot decrypt config/payments-db.yaml --extract '["database"]["password"]'; echo

step "... and by the real sops, from the same file"
show sops -d config/payments-db.yaml

step "10. Re-encrypting unchanged values changes nothing: minimal PR diffs"
gitrot decrypt config/payments-db.yaml -o plain.yaml
cp config/payments-db.yaml before.yaml
show gitrot encrypt plain.yaml -o config/payments-db.yaml --filename-override config/payments-db.yaml
diff before.yaml config/payments-db.yaml && echo "identical: no diff"
sed -i 's/db-r2/db-r3/' plain.yaml
gitrot encrypt plain.yaml -o config/payments-db.yaml --filename-override config/payments-db.yaml
echo "after renaming one replica, the diff is:"
diff before.yaml config/payments-db.yaml | grep '^[<>]' | cut -c1-90 || true
rm -f plain.yaml

step "11. Tampering is refused (exit 1), and so is a file that is not SOPS (exit 2)"
sed 's/password: ENC\[AES256_GCM,data:./password: ENC[AES256_GCM,data:X/' config/payments-db.yaml > tampered.yaml
set +e
show gitrot decrypt tampered.yaml; echo "exit code: $?"
printf 'a: 1\n' > plain.yaml
show gitrot decrypt plain.yaml; echo "exit code: $?"
set -e

step "12. Many files in one process (a CI job rendering a folder)"
for n in 1 2 3; do
  printf 'service: svc-%s\ntoken: t0k3n-%s\n' "$n" "$n" > "config/svc-$n.yaml"
  gitrot encrypt -i "config/svc-$n.yaml"
done
show gitrot decrypt config/svc-*.yaml --output-dir rendered
find rendered -type f | sort

step "13. Keys: add a recipient (updatekeys), then a fresh data key (rekey)"
second=$(gitrot keygen -o second.txt 2>/dev/null)
sed -i "s|age: $recipient|age: $recipient, $second|" .sops.yaml
show gitrot updatekeys config/payments-db.yaml
SOPS_AGE_KEY_FILE=second.txt gitrot decrypt config/payments-db.yaml --extract '["database"]["password"]'; echo "  <- read with the second identity"
show gitrot rekey config/payments-db.yaml
SOPS_AGE_KEY_FILE=second.txt sops -d config/payments-db.yaml | grep -B1 -A1 password

step "14. JSON and dotenv files too, readable by sops"
printf 'DB_USER=app\n# rotated quarterly\nDB_PASSWORD=s3cr3t\n' > app.env # gitrot: allow a made-up value the demo encrypts
show gitrot encrypt app.env --age "$recipient" -o app.enc.env
cut -c1-80 app.enc.env | head -3
show sops -d app.enc.env
printf '{"api": {"token": "t0k3n", "ttl": 3600}}' > api.json
gitrot encrypt api.json --age "$recipient" -o api.enc.json
show gitrot decrypt api.enc.json --extract '["api"]["ttl"]'; echo

step "15. The audit: git history is the ledger"
cd "$work/policy"
echo "with plain git: the rotations gitrot rotate --commit wrote, and the reconciler's notes"
show git --no-pager log --format='%h %(trailers:key=Gitrot-Secret,valueonly,separator=%x2C) %(trailers:key=Gitrot-Version,valueonly)' --grep=Gitrot-Secret
git --no-pager log --notes=gitrot -1 --format='%h %s%n%N' | cut -c1-120 | head -4
echo "with gitrot: who rotated what, when, why, approved by whom, applied when, signed by whom"
show gitrot audit
mkdir -p "$project/build/demo"
show gitrot audit --format html --output "$project/build/demo/audit.html"
echo "the html report (one self-contained file, a timeline chart per secret): $project/build/demo/audit.html"

step "done"
