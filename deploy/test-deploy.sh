#!/usr/bin/env bash
# Tests deploy/: runs the systemd service's ExecStart and the cron line, exactly as written there, as a scratch user
# against a store that user owns, with a captured sacct file in place of sacct. Paths under /var/lib/allocations,
# /etc/allocations and /var/log/allocations are moved into a scratch folder; nothing else is changed.
# Checks: each run exits 0; the store and its files stay owned by the user; the user wrote nothing outside the
# folders the service may write (ReadWritePaths, its private /tmp) and the cron line's log.
# Needs root (useradd, runuser) and the .NET SDK.
#   usage: deploy/test-deploy.sh [PATH-TO-allocations]
# Without an argument it packs Allocations.Sample and installs it as a tool in the scratch folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
service="$here/allocations-slurm-sync.service"
cron="$here/allocations.cron"
sacct_capture="$root/Allocations.Core.Tests/TestData/slurm/sacct-requested.txt"

fail() { echo "test-deploy: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (it creates a scratch user)"

work=$(mktemp -d /tmp/allocations-deploy.XXXXXX)
chmod 755 "$work"
user="allocdeploy$$"
version=""
cleanup() {
  userdel "$user" >/dev/null 2>&1 || true
  rm -rf "$work"
  if [ -n "$version" ]; then rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/allocations.sample/$version"; fi
}
trap cleanup EXIT

# The store's folder (the user's home, as `useradd --home-dir /var/lib/allocations` gives the real one), the
# mapping's folder and the log folder, laid out as on a real machine.
state="$work/var/lib/allocations" etc="$work/etc/allocations" log="$work/var/log/allocations" tmp="$work/tmp"
mkdir -p "$state" "$etc" "$log" "$tmp" "$work/bin"
useradd --system --user-group --home-dir "$state" --no-create-home --shell /usr/sbin/nologin "$user"
chown "$user:$user" "$state" "$log" "$tmp"
chmod 750 "$state" "$log"
chmod 700 "$tmp"

# The tool.
bin=${1:-}
if [ -z "$bin" ]; then
  dotnet pack "$root/Allocations.Sample/Allocations.Sample.csproj" -c Release -o "$work/feed" \
    --artifacts-path "$work/artifacts" -p:VersionSuffix="deploy.$$" >"$work/pack.log" 2>&1 \
    || { cat "$work/pack.log"; fail "dotnet pack"; }
  nupkg=$(ls "$work"/feed/Allocations.Sample.*.nupkg)
  version=${nupkg##*/Allocations.Sample.}; version=${version%.nupkg}
  dotnet tool install --tool-path "$work/tools" --add-source "$work/feed" --version "$version" Allocations.Sample \
    >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dotnet tool install"; }
  bin="$work/tools/allocations"
fi
[ -x "$bin" ] || fail "no executable at $bin"
bin=$(readlink -f "$bin")
chmod -R a+rX "$(dirname "$bin")"
ln -s "$bin" "$work/bin/allocations"

# The mapping and the captured sacct output (cluster lab, accounts physics and chem, partitions cpu and gpu).
cat >"$etc/slurm.json" <<'JSON'
{
  "cluster": "lab",
  "timeZone": "UTC",
  "accounts": { "physics": "Physics", "chem": "Chemistry" },
  "partitions": { "cpu": "CPU_HOUR", "gpu": "GPU_HOUR" },
  "skus": { "GPU_HOUR": "gres/gpu" },
  "defaults": { "quantity": "cpu" }
}
JSON
chmod 644 "$etc/slurm.json"
cp "$sacct_capture" "$work/sacct.txt"
chmod 644 "$work/sacct.txt"

# Moves the real machine's paths into the scratch folder.
relocate() {
  sed -e "s#/usr/local/bin/allocations#$work/bin/allocations#g" -e "s#/var/lib/allocations#$state#g" \
      -e "s#/etc/allocations#$etc#g" -e "s#/var/log/allocations#$log#g" <<<"$1"
}

# Runs a command as the user with nothing but the given environment, as systemd and cron do.
as_user() { runuser -u "$user" -- env -i "$@"; }
base_env=(HOME="$state" USER="$user" LOGNAME="$user" TMPDIR="$tmp" PATH="$work/bin:/usr/bin:/bin")

# Set-up with the tool (no C#): an organization, its units, SKUs, rates and the allocations the mapping names.
db="$state/allocations.db"
a() { as_user "${base_env[@]}" allocations "$@" --db "$db" || fail "allocations $* exited $?"; }
a org create Physics --admin "$user"
a unit create core-hours --org Physics --precision 2
a sku create CPU_HOUR --org Physics --unit core-hours --basis per-hour
a sku create GPU_HOUR --org Physics --unit core-hours --basis per-hour
a rate add CPU_HOUR --org Physics --rate 2 --from 2026-01-01T00:00:00Z
a rate add GPU_HOUR --org Physics --rate 4 --from 2026-01-01T00:00:00Z
a alloc create Physics --org Physics --unit core-hours --total 100000
a alloc create Chemistry --org Physics --unit core-hours --total 100000
[ "$(stat -c %U "$db")" = "$user" ] || fail "the store $db is not owned by $user after set-up"

# 0. The unit files parse (systemd-analyze, with the tool's path moved into the scratch folder).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  relocate "$(cat "$service")" >"$work/units/allocations-slurm-sync.service"
  cp "$here/allocations-slurm-sync.timer" "$work/units/"
  systemd-analyze verify "$work/units/allocations-slurm-sync.timer" "$work/units/allocations-slurm-sync.service" \
    || fail "systemd-analyze verify refused the units"
  grep -q '^Persistent=true$' "$here/allocations-slurm-sync.timer" || fail "the timer is not Persistent"
  [ "$(systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$here/allocations-slurm-sync.timer")" \
      | sed -n 's/^Normalized form: //p')" = "*-*-* *:00/5:00" ] || fail "the timer does not fire every 5 minutes"
else
  echo "test-deploy: systemd-analyze not installed: the unit files' syntax is NOT checked"
fi

# 1. The systemd service: ExecStart with systemd's PATH and the unit's Environment= lines.
exec_start=$(sed -n 's/^ExecStart=//p' "$service")
[ -n "$exec_start" ] || fail "no ExecStart in $service"
grep -q '^Type=oneshot$' "$service" || fail "the service is not Type=oneshot"
grep -q '^TimeoutStartSec=' "$service" || fail "the service has no TimeoutStartSec"
mapfile -t unit_env < <(sed -n 's/^Environment=//p' "$service" | while read -r line; do relocate "$line"; done)
service_cmd="$(relocate "$exec_start") --sacct-file $work/sacct.txt"
echo "test-deploy: service: $service_cmd"
set +e
as_user HOME="$state" USER="$user" LOGNAME="$user" TMPDIR="$tmp" \
  PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin" "${unit_env[@]}" /bin/sh -c "$service_cmd"
code=$?
set -e
[ "$code" -eq 0 ] || fail "the service's ExecStart exited $code"

# 2. The cron line: its variable lines, then the command through /bin/sh as cron runs it.
line=$(grep -E '^[^#A-Z].* allocations ' "$cron" | head -n1)
[ -n "$line" ] || fail "no command line in $cron"
schedule=$(awk '{print $1,$2,$3,$4,$5}' <<<"$line")
[ "$schedule" = "*/5 * * * *" ] || fail "the cron line does not run every 5 minutes: $schedule"
command=$(cut -d' ' -f6- <<<"$line")
cron_path=$(sed -n 's/^PATH=//p' "$cron")
cron_cmd=$(relocate "$command")
cron_cmd=${cron_cmd/ >> / --sacct-file $work/sacct.txt >> }
echo "test-deploy: cron: $cron_cmd"
set +e
as_user HOME="$state" USER="$user" LOGNAME="$user" SHELL=/bin/sh TMPDIR="$tmp" PATH="$work/bin:$cron_path" \
  /bin/sh -c "$cron_cmd"
code=$?
set -e
[ "$code" -eq 0 ] || { cat "$log/slurm.log" >&2 || true; fail "the cron line exited $code"; }
[ -s "$log/slurm.log" ] || fail "the cron line wrote nothing to its log"

# 3. Ownership and confinement.
for f in "$db" "$db-wal" "$db-shm"; do
  if [ -e "$f" ]; then [ "$(stat -c %U "$f")" = "$user" ] || fail "$f is not owned by $user"; fi
done
stray=$(find / -xdev -user "$user" -not -path "$state" -not -path "$state/*" -not -path "$log" -not -path "$log/*" \
  -not -path "$tmp" -not -path "$tmp/*" 2>/dev/null | head -n 20)
[ -z "$stray" ] || fail "the user wrote outside the store's folder, its log and its /tmp: $stray"

# The store shows the import.
a report --org Physics
echo "test-deploy: passed"
