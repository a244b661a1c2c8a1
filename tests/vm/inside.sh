#!/bin/bash
# Runs INSIDE the test VM at boot (vm-boot.service), from the 9p share mounted at $S.
# Inputs in $S: virt-hook (the binary under test), virt-hook.deb (optional), config.sh.
# Writes $S/results.txt: INFO/ROUND lines, one "CASE <id> <expected> <got> <ok|MISMATCH|skip>
# <details>" line per case, DONE at the end; evidence under $S/out/<round>/<case>/.
S="$(cd "$(dirname "$0")" && pwd)"
OUT="$S/out"; mkdir -p "$OUT"; : > "$S/results.txt"
ROUNDS="stable backports"
CASES="a local fail moved cargo symlink-old deb"
# shellcheck source=/dev/null
[ -f "$S/config.sh" ] && . "$S/config.sh"
VH_SRC="$S/virt-hook"
DEB="$S/virt-hook.deb"; [ -f "$DEB" ] || DEB=
G=lsmtest
H=/etc/libvirt/hooks
LOG=/var/log/virt-hook-vm-hook.log
BP=/var/cache/virt-hook-vm/backports-debs
BP_PKGS="libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients"
exec 2>&1
# The trace (with times) goes to its own file so that it stays out of the evidence files.
exec 3> "$S/inside-trace.log"; BASH_XTRACEFD=3; PS4='+ ${EPOCHREALTIME} '
set -x
say() { echo "$*" | tee -a "$S/results.txt"; }

env_info() {
  uname -a; cat /proc/cmdline
  cat /sys/module/apparmor/parameters/enabled 2>/dev/null
  cat /sys/kernel/security/lsm 2>/dev/null; echo
  aa-status 2>&1
  dpkg-query -W libvirt-daemon libvirt-daemon-system libvirt-clients qemu-system-x86 apparmor linux-image-amd64 2>&1
  for p in $(pidof libvirtd virtqemud 2>/dev/null); do echo "pid $p $(cat /proc/"$p"/comm): $(cat /proc/"$p"/attr/current)"; done
}

DAEMON=
daemon() { # the daemon that runs qemu guests (asked once per libvirt version: systemctl is slow here)
  if [ -z "$DAEMON" ]; then
    if systemctl is-enabled --quiet virtqemud.socket 2>/dev/null || systemctl is-enabled --quiet virtqemud.service 2>/dev/null; then DAEMON=virtqemud; else DAEMON=libvirtd; fi
  fi
  echo "$DAEMON"
}
# Waits until the daemon answers virsh. Each try is bounded: once, under TCG right after the
# backports upgrade, the first `virsh version` hung for good (no hook installed then), which
# must cost a try and a restart, not the whole VM's timeout. The first answer after a start
# takes up to about 16 s here, hence 60 s a try. Restarts the daemon once when 2 minutes of
# tries get no answer.
wait_daemon() {
  local n t0
  for n in 1 2; do
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt 120 ]; do
      timeout 60 virsh -q version >/dev/null 2>&1 && return 0; sleep 1
    done
    [ $n = 2 ] && break
    echo "INFO daemon $(daemon) did not answer virsh in 2 minutes: restarting it" | tee -a "$S/results.txt"
    systemctl restart "$(daemon)"
  done
  echo "daemon $(daemon) not answering" >&2; return 1
}

# libvirt looks for the main hook when the daemon starts: restart it after (un)installing one.
restart_daemon() {
  systemctl restart "$(daemon)"
  wait_daemon
}

define_guest() { # no disk, small memory: starting it is enough to fire the hooks
  cat > /tmp/$G.xml <<XML
<domain type='qemu'>
  <name>$G</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>
XML
  timeout 60 virsh define /tmp/$G.xml
}

log_script() { # $1 = file: a hook script that logs argv + its AppArmor label
  mkdir -p "$(dirname "$1")"
  cat > "$1" <<'SH'
#!/bin/sh
# builtins only: an exec'd cat would report its own label (/usr/bin/* is PUx in libvirtd's profile)
read -r me < /proc/$$/attr/current; read -r parent < /proc/$PPID/attr/current
echo "$0 [$*] parent=$parent label=$me" >> /var/log/virt-hook-vm-hook.log
while read -r _; do :; done
exit 0
SH
  chmod 755 "$1"
}

fail_script() { # $1 = file: a per-guest script that fails with a message on stderr
  mkdir -p "$(dirname "$1")"
  cat > "$1" <<'SH'
#!/bin/sh
echo "lsm-oracle: deliberate failure of 20-fail" >&2
exit 1
SH
  chmod 755 "$1"
}

per_guest_scripts() { # a prepare/begin and a release/end script for the guest
  log_script "$H/qemu.d/$G/prepare/begin/10-log"
  log_script "$H/qemu.d/$G/release/end/10-log"
}

clean_hooks() {
  dpkg-query -W virt-hook >/dev/null 2>&1 && dpkg -P virt-hook
  rm -rf "$H/qemu" "$H/qemu.d" "$H/virt-hook" "$H"/*.virt-hook-backup /usr/local/bin/virt-hook /usr/bin/virt-hook /root/.cargo /root/elsewhere
  mkdir -p "$H"
}

# check D NAME BIN: runs `BIN check` into D/NAME.txt (as an administrator reads it) and
# `BIN check --json` into D/NAME.json, whose "code" fields the cases look for (has_code);
# CHECK_RC, CHECK_TXT, CHECK_JSON.
check() {
  local d="$1" name="$2" bin="$3"
  "$bin" check > "$d/$name.txt" 2>&1; CHECK_RC=$?
  echo "rc=$CHECK_RC" >> "$d/$name.txt"
  "$bin" check --json > "$d/$name.json" 2>&1
  CHECK_TXT="$d/$name.txt"; CHECK_JSON="$d/$name.json"
}
# has_code CODE: the last check reported a finding with this stable code.
has_code() { grep -q "\"code\": \"$1\"" "$CHECK_JSON"; }

# start_stop D: virsh start, then destroy when it started; evidence into D.
# Sets RC (virsh start), BEGIN / END (prepare/begin, release/end log lines), MAINHOOK (lines
# of a plain main hook), NDENIED, ERR (virsh output on one line), LABELS.
start_stop() {
  local d="$1"; mkdir -p "$d"
  : > "$LOG"
  local n0; n0=$(dmesg | wc -l); local t0; t0=$(date +%s)
  { ls -la "$H" "$H/qemu" "$H/virt-hook"; stat -c '%n inode=%i links=%h mode=%a owner=%U' "$H/qemu" "$H/virt-hook"; readlink -f "$H/qemu"; } > "$d/hooks-ls.txt" 2>&1
  timeout 180 virsh start $G > "$d/virsh-start.txt" 2>&1; RC=$?
  if [ "$RC" = 0 ]; then
    timeout 60 virsh destroy $G > "$d/virsh-destroy.txt" 2>&1
    # release/end runs when libvirt has torn the guest down: give it a moment to be logged.
    local i; for i in $(seq 20); do grep -q 'release end' "$LOG" && break; sleep 0.5; done
  fi
  cp "$LOG" "$d/hook-log.txt"
  journalctl -u "$(daemon)" --since "@$t0" --no-pager > "$d/journal-daemon.txt" 2>&1
  journalctl -t virt-hook --since "@$t0" --no-pager > "$d/journal-virt-hook.txt" 2>&1
  dmesg | tail -n +"$((n0+1))" > "$d/dmesg.txt"
  grep -i apparmor "$d/dmesg.txt" | grep -i denied > "$d/denied.txt"
  NDENIED=$(wc -l < "$d/denied.txt")
  BEGIN=$(grep -c "qemu.d/$G/prepare/begin/10-log \[$G prepare begin" "$d/hook-log.txt")
  END=$(grep -c "qemu.d/$G/release/end/10-log \[$G release end" "$d/hook-log.txt")
  MAINHOOK=$(grep -c "^$H/qemu \[$G " "$d/hook-log.txt")
  ERR=$(grep -v '^$' "$d/virsh-start.txt" | tr '\n' ' ' | cut -c1-400)
  LABELS=$(sed -n 's/.*\] parent=\(.*\) label=\(.*\)/\2 [parent: \1]/p' "$d/hook-log.txt" | sort -u | tr '\n' ';')
}

# started_problems PREFIX: appends to PROBLEMS what keeps the last start_stop from being
# "started, both per-guest scripts ran, nothing denied".
started_problems() {
  local p="$1"
  [ "$RC" = 0 ] || PROBLEMS+=("${p}no-start(rc=$RC)")
  [ "$BEGIN" -gt 0 ] || PROBLEMS+=("${p}begin-not-run")
  [ "$RC" != 0 ] || [ "$END" -gt 0 ] || PROBLEMS+=("${p}end-not-run")
  [ "$NDENIED" = 0 ] || PROBLEMS+=("${p}denied=$NDENIED")
}

# verdict ID EXPECTED WHAT_IT_IS_WHEN_NO_PROBLEMS DETAILS: prints the CASE line from PROBLEMS.
verdict() {
  local id="$1" expected="$2" good="$3" details="$4" got
  if [ ${#PROBLEMS[@]} = 0 ]; then got="$good"; else got=$(IFS=,; echo "${PROBLEMS[*]}"); fi
  local m=MISMATCH; [ "$got" = "$expected" ] && m=ok
  say "CASE $ROUND/$id $expected $got $m $details"
}

details() { echo "t=$(( $(date +%s) - CASE_T0 ))s rc=$RC begin=$BEGIN end=$END denied=$NDENIED labels=[$LABELS] | $ERR"; }

# --- cases ------------------------------------------------------------------------------

case_a() { # baseline: a plain shell script as the main hook
  local d="$OUT/$ROUND/a"; mkdir -p "$d"; PROBLEMS=()
  clean_hooks; log_script "$H/qemu"; restart_daemon
  start_stop "$d"
  [ "$RC" = 0 ] || PROBLEMS+=("no-start(rc=$RC)")
  [ "$MAINHOOK" -gt 0 ] || PROBLEMS+=("hook-not-run")
  [ "$NDENIED" = 0 ] || PROBLEMS+=("denied=$NDENIED")
  verdict a starts starts "main-hook-calls=$MAINHOOK $(details)"
}

case_local() { # README path: /usr/local/bin/virt-hook + virt-hook install qemu
  local d="$OUT/$ROUND/local"; mkdir -p "$d"; PROBLEMS=()
  clean_hooks; install -m 755 "$VH_SRC" /usr/local/bin/virt-hook
  /usr/local/bin/virt-hook install qemu > "$d/install.txt" 2>&1 || PROBLEMS+=("install-failed")
  per_guest_scripts; restart_daemon
  start_stop "$d"; started_problems ""
  check "$d" virt-hook-check /usr/local/bin/virt-hook
  [ "$CHECK_RC" = 0 ] || PROBLEMS+=("check-rc=$CHECK_RC")
  verdict local starts starts "check-rc=$CHECK_RC $(details)"
}

case_fail() { # local's install + a failing per-guest script: virsh shows the dispatcher's line
  local d="$OUT/$ROUND/fail"; mkdir -p "$d"; PROBLEMS=()
  [ -x /usr/local/bin/virt-hook ] || { clean_hooks; install -m 755 "$VH_SRC" /usr/local/bin/virt-hook; /usr/local/bin/virt-hook install qemu > "$d/install.txt" 2>&1; per_guest_scripts; restart_daemon; }
  fail_script "$H/qemu.d/$G/prepare/begin/20-fail"
  start_stop "$d"
  local want="virt-hook: qemu.d/$G/prepare/begin/20-fail: exit 1"
  if [ "$RC" = 0 ]; then PROBLEMS+=("starts")
  elif ! grep -qF "$want" "$d/virsh-start.txt"; then PROBLEMS+=("fails-without-dispatcher-line")
  fi
  [ "$NDENIED" = 0 ] || PROBLEMS+=("denied=$NDENIED")
  rm -f "$H/qemu.d/$G/prepare/begin/20-fail"
  verdict fail fails-with-line fails-with-line "$(details)"
}

case_moved() { # after local's install the original binary is moved away, then deleted
  local d="$OUT/$ROUND/moved"; mkdir -p "$d"; PROBLEMS=()
  [ -x /usr/local/bin/virt-hook ] || { clean_hooks; install -m 755 "$VH_SRC" /usr/local/bin/virt-hook; /usr/local/bin/virt-hook install qemu > "$d/install.txt" 2>&1; per_guest_scripts; restart_daemon; }
  rm -f "$H/qemu.d/$G/prepare/begin/20-fail"
  # moved (a hard link or a copy does not follow), then deleted (a copy does not need it):
  # one start after both is enough to show the installed hook depends on neither.
  mkdir -p /root/elsewhere; mv /usr/local/bin/virt-hook /root/elsewhere/virt-hook
  ls -la /usr/local/bin /root/elsewhere > "$d/moved-ls.txt" 2>&1
  rm -f /root/elsewhere/virt-hook
  start_stop "$d"; started_problems ""
  [ -x "$H/virt-hook" ] && check "$d" virt-hook-check "$H/virt-hook"
  verdict moved starts starts "$(details)"
}

case_cargo() { # where `cargo install` puts it: /root/.cargo/bin/virt-hook
  local d="$OUT/$ROUND/cargo"; mkdir -p "$d"; PROBLEMS=()
  clean_hooks; install -D -m 755 "$VH_SRC" /root/.cargo/bin/virt-hook
  /root/.cargo/bin/virt-hook install qemu > "$d/install.txt" 2>&1 || PROBLEMS+=("install-failed")
  per_guest_scripts; restart_daemon
  start_stop "$d"; started_problems ""
  check "$d" virt-hook-check /root/.cargo/bin/virt-hook
  [ "$CHECK_RC" = 0 ] || PROBLEMS+=("check-rc=$CHECK_RC")
  verdict cargo starts starts "check-rc=$CHECK_RC $(details)"
}

case_symlink_old() { # the old way, by hand: a symlink to /usr/local/bin. Fails; check must say so.
  local d="$OUT/$ROUND/symlink-old"; mkdir -p "$d"; PROBLEMS=()
  clean_hooks; install -m 755 "$VH_SRC" /usr/local/bin/virt-hook
  ln -s /usr/local/bin/virt-hook "$H/qemu"
  per_guest_scripts; restart_daemon
  check "$d" check-before /usr/local/bin/virt-hook; local rc1=$CHECK_RC
  [ "$CHECK_RC" = 1 ] || PROBLEMS+=("check-before-rc=$CHECK_RC")
  has_code apparmor-exec-denied || PROBLEMS+=("check-misses-apparmor-exec-denied")
  start_stop "$d"
  if [ "$RC" = 0 ]; then PROBLEMS+=("starts")
  else
    grep -q 'Permission denied' "$d/virsh-start.txt" || PROBLEMS+=("fails-not-permission-denied")
    [ "$NDENIED" -gt 0 ] || PROBLEMS+=("no-denied-line")
  fi
  check "$d" check-after /usr/local/bin/virt-hook
  has_code recent-denials || PROBLEMS+=("check-misses-recent-denials")
  verdict symlink-old fails+caught fails+caught "check-before-rc=$rc1 check-after-rc=$CHECK_RC $(details)"
}

case_deb() { # the .deb: /usr/bin/virt-hook, install, stale detection, postinst refresh, removal
  local d="$OUT/$ROUND/deb"; mkdir -p "$d"; PROBLEMS=()
  if [ -z "$DEB" ]; then
    say "CASE $ROUND/deb skip skip skip no --deb given: the .deb case was not run"; return
  fi
  clean_hooks
  dpkg -i "$DEB" > "$d/dpkg-i-1.txt" 2>&1 || PROBLEMS+=("dpkg-i-failed")
  if [ ! -x /usr/bin/virt-hook ]; then
    PROBLEMS+=("no-/usr/bin/virt-hook"); verdict deb ok ok "see $d/dpkg-i-1.txt"; return
  fi
  /usr/bin/virt-hook install qemu > "$d/install.txt" 2>&1 || PROBLEMS+=("install-failed")
  per_guest_scripts; restart_daemon
  start_stop "$d/1-installed"; started_problems "installed:"; local d1; d1="installed: $(details)"
  local orig; orig=$(sha256sum < /usr/bin/virt-hook)
  # a different build on PATH: the same ELF with bytes appended (it still runs)
  cp /usr/bin/virt-hook /tmp/virt-hook.other; printf 'virt-hook-vm other build\n' >> /tmp/virt-hook.other
  install -m 755 /tmp/virt-hook.other /usr/bin/virt-hook
  check "$d" check-2-other-build /usr/bin/virt-hook
  has_code dispatcher-stale || PROBLEMS+=("check-misses-dispatcher-stale")
  /usr/bin/virt-hook install --refresh > "$d/refresh.txt" 2>&1 || PROBLEMS+=("refresh-failed")
  [ "$(sha256sum < "$H/virt-hook")" = "$(sha256sum < /tmp/virt-hook.other)" ] || PROBLEMS+=("refresh-did-not-copy")
  check "$d" check-3-refreshed /usr/bin/virt-hook
  has_code dispatcher-stale && PROBLEMS+=("stale-after-refresh")
  # the package again: its postinst refreshes the copy back to the packaged binary
  dpkg -i "$DEB" > "$d/dpkg-i-2.txt" 2>&1 || PROBLEMS+=("dpkg-i-again-failed")
  [ "$(sha256sum < "$H/virt-hook")" = "$orig" ] || PROBLEMS+=("postinst-did-not-refresh")
  check "$d" check-4-reinstalled /usr/bin/virt-hook
  has_code dispatcher-stale && PROBLEMS+=("stale-after-dpkg-i")
  dpkg -r virt-hook > "$d/dpkg-r.txt" 2>&1 || PROBLEMS+=("dpkg-r-failed")
  { stat -c '%n %F links=%h' "$H/qemu"; readlink -f "$H/qemu"; } > "$d/after-remove.txt" 2>&1
  if [ -L "$H/qemu" ]; then PROBLEMS+=("qemu-is-a-symlink-after-remove")
  elif [ ! -x "$H/qemu" ]; then PROBLEMS+=("qemu-gone-after-remove")
  fi
  start_stop "$d/5-removed"; started_problems "removed:"
  verdict deb ok ok "$d1 || removed: $(details)"
}

run_round() {
  say "ROUND $ROUND libvirt-daemon=$(dpkg-query -W -f='${Version}' libvirt-daemon 2>/dev/null) libvirt-daemon-system=$(dpkg-query -W -f='${Version}' libvirt-daemon-system 2>/dev/null) libvirt-clients=$(dpkg-query -W -f='${Version}' libvirt-clients 2>/dev/null) qemu=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) daemon=$(daemon)"
  for p in $(pidof libvirtd virtqemud 2>/dev/null); do say "INFO $ROUND daemon pid $p $(cat /proc/"$p"/comm) label=$(cat /proc/"$p"/attr/current)"; done
  aa-status 2>/dev/null | grep -E 'libvirtd|virtqemud' | sed "s/^/INFO $ROUND aa-status: /" | tee -a "$S/results.txt"
  env_info > "$OUT/$ROUND/env.txt" 2>&1
  local c; for c in $CASES; do CASE_T0=$(date +%s); "case_${c//-/_}"; done
  clean_hooks
}

upgrade_backports() { # offline: the .debs build-image.sh downloaded, resolved by apt from the kept lists
  local d="$OUT/backports"; mkdir -p "$d"; local t0; t0=$(date +%s)
  systemctl stop "$(daemon)"
  # No service (re)starts from the maintainer scripts: the daemon is started once, below.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-download --no-install-recommends \
    -o Dir::Cache::Archives="$BP/" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    -o Dpkg::Options::=--force-unsafe-io \
    -t bookworm-backports $BP_PKGS > "$d/upgrade.txt" 2>&1
  local rc=$?
  rm -f /usr/sbin/policy-rc.d
  cp /var/log/dpkg.log "$d/dpkg.log"; cp /var/log/apt/term.log "$d/apt-term.log"
  DAEMON=; systemctl daemon-reload; systemctl try-restart virtlogd.service virtlockd.service; systemctl start "$(daemon)"
  wait_daemon
  timeout 60 virsh -q define /tmp/$G.xml >> "$d/upgrade.txt" 2>&1
  local v; v=$(dpkg-query -W -f='${Version}' libvirt-daemon 2>/dev/null)
  local got=upgraded; { [ $rc = 0 ] && [[ "$v" == *bpo* ]]; } || got="apt-rc=$rc,libvirt-daemon=$v"
  local m=MISMATCH; [ "$got" = upgraded ] && m=ok
  say "CASE backports/upgrade upgraded $got $m offline apt-get install -t bookworm-backports in $(( $(date +%s) - t0 ))s: libvirt-daemon $v"
  [ "$m" = ok ]
}

mkdir -p "$OUT/stable"
# Speed, not coverage: no per-guest AppArmor profile for the qemu process (virt-aa-helper and
# apparmor_parser at every start and stop cost ~25 s under TCG). Hooks are children of the
# daemon and stay confined by its own profile (usr.sbin.libvirtd), which is what is tested.
sed -i 's/^#* *security_driver *=.*/security_driver = "none"/' /etc/libvirt/qemu.conf
grep -q '^security_driver = "none"' /etc/libvirt/qemu.conf || echo 'security_driver = "none"' >> /etc/libvirt/qemu.conf
restart_daemon
say "INFO qemu.conf security_driver=none (hooks stay under the daemon's profile)"
say "INFO apparmor enabled=$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) lsm=$(cat /sys/kernel/security/lsm 2>/dev/null) kernel=$(uname -r)"
define_guest > "$OUT/define.txt" 2>&1
T0=$(date +%s)
for ROUND in $ROUNDS; do
  mkdir -p "$OUT/$ROUND"
  if [ "$ROUND" = backports ]; then upgrade_backports || continue; fi
  R0=$(date +%s)
  run_round
  say "INFO $ROUND round took $(( $(date +%s) - R0 ))s"
done
say "INFO all rounds took $(( $(date +%s) - T0 ))s (boot to here: $(cut -d' ' -f1 /proc/uptime)s uptime)"
say "DONE"
