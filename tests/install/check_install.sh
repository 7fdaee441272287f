#!/usr/bin/env bash
# check_install.sh BUILD_DIR UNIT_BINDIR UNIT_SYSCONFDIR VERSION [SYSCONFDIR]
#
# Installs BUILD_DIR into a temporary prefix with `cmake --install` (under a
# temporary DESTDIR too, so that an absolute CMAKE_INSTALL_SYSCONFDIR such as
# /etc lands in the temporary folder as well) and checks:
# every file is there; each man page renders with `man -l` without a warning
# (skipped when man is missing, unless CI=true); the systemd units name
# UNIT_BINDIR and UNIT_SYSCONFDIR and pass `systemd-analyze verify` (skipped
# when it is missing); the installed programs print their versions.
set -euo pipefail

build=$1 unit_bindir=$2 unit_sysconfdir=$3 version=$4 sysconfdir=${5:-etc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/foreshock-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
destdir=$tmp/root
prefix=$destdir$tmp/prefix # where the files land: DESTDIR + --prefix
if [[ "$sysconfdir" == /* ]]; then etc=$destdir$sysconfdir; else etc=$prefix/$sysconfdir; fi
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

DESTDIR=$destdir cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 \
  || { cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }

programs=(foreshock foreshock-alertmanager foreshock-bench)
units=(foreshock.service foreshock-alertmanager.service)
for p in "${programs[@]}"; do
  [[ -f "$prefix/bin/$p" && -x "$prefix/bin/$p" ]] || fail "bin/$p missing or not executable"
  [[ -f "$prefix/share/man/man1/$p.1" ]] || fail "share/man/man1/$p.1 missing"
done
[[ -f "$etc/foreshock/foreshock.conf" ]] || fail "$sysconfdir/foreshock/foreshock.conf missing"
for u in "${units[@]}"; do
  [[ -f "$prefix/lib/systemd/system/$u" ]] || fail "lib/systemd/system/$u missing"
done
((failures == 0)) || exit 1

# The installed reference configuration is valid as it is.
"$prefix/bin/foreshock" -c "$etc/foreshock/foreshock.conf" --check-config >/dev/null \
  || fail "foreshock --check-config rejects the installed foreshock.conf"

# Versions.
out=$("$prefix/bin/foreshock" --version) || fail "foreshock --version exited $?"
grep -qx "foreshock $version" <<<"$out" || fail "foreshock --version: no 'foreshock $version' in: $out"
grep -q '^librdkafka [0-9]' <<<"$out" || fail "foreshock --version: no librdkafka version in: $out"
grep -q '^hiredis [0-9]' <<<"$out" || fail "foreshock --version: no hiredis version in: $out"
out=$("$prefix/bin/foreshock-alertmanager" --version) || fail "foreshock-alertmanager --version exited $?"
grep -qx "foreshock-alertmanager $version" <<<"$out" \
  || fail "foreshock-alertmanager --version: no 'foreshock-alertmanager $version' in: $out"
grep -q '^libcurl/[0-9]' <<<"$out" || fail "foreshock-alertmanager --version: no libcurl in: $out"
"$prefix/bin/foreshock-bench" --help >/dev/null || fail "foreshock-bench --help exited $?"

# Man pages: render at 80 columns with every groff warning on; any output on
# stderr is a failure.
if command -v man >/dev/null 2>&1; then
  for p in "${programs[@]}"; do
    page=$prefix/share/man/man1/$p.1
    if ! MANWIDTH=80 man --warnings -l -Tutf8 "$page" >"$tmp/man.out" 2>"$tmp/man.err"; then
      fail "man -l $p.1 exited non-zero: $(cat "$tmp/man.err")"
    elif [[ -s "$tmp/man.err" ]]; then
      fail "man -l $p.1 warns: $(cat "$tmp/man.err")"
    elif ! grep -q "$p" "$tmp/man.out"; then
      fail "man -l $p.1 rendered nothing useful"
    fi
  done
elif [[ "${CI:-}" == true ]]; then
  fail "man is missing (install man-db: tests/stack/deps.sh)"
else
  echo "note: man is missing; the man pages were not rendered" >&2
fi

# systemd units: they name the configured paths; verify a copy that points at
# the programs installed here (systemd-analyze checks that ExecStart exists).
for u in "${units[@]}"; do
  f=$prefix/lib/systemd/system/$u
  bin=${u%.service}
  grep -qx "ExecStart=$unit_bindir/$bin -c $unit_sysconfdir/foreshock/foreshock.conf" "$f" \
    || fail "$u: ExecStart does not name $unit_bindir/$bin -c $unit_sysconfdir/foreshock/foreshock.conf"
  for line in Type=simple Restart=on-failure KillSignal=SIGTERM TimeoutStopSec=30 \
    DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict; do
    grep -qx "$line" "$f" || fail "$u: no $line"
  done
  if grep -q '@' "$f"; then fail "$u: unsubstituted @VARIABLE@"; fi
done
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$tmp/units"
  for u in "${units[@]}"; do
    sed -e "s#$unit_bindir/#$prefix/bin/#g" "$prefix/lib/systemd/system/$u" >"$tmp/units/$u"
  done
  # man:foreshock(1) references are looked up in MANPATH.
  if ! (cd "$tmp/units" && MANPATH="$prefix/share/man:" SYSTEMD_LOG_LEVEL=warning \
        systemd-analyze verify --man=no "${units[@]}") >"$tmp/verify.out" 2>&1; then
    fail "systemd-analyze verify: $(cat "$tmp/verify.out")"
  elif [[ -s "$tmp/verify.out" ]]; then
    fail "systemd-analyze verify warns: $(cat "$tmp/verify.out")"
  fi
else
  echo "note: systemd-analyze is missing; the units were not verified" >&2
fi

((failures == 0)) || exit 1
echo "install_layout: all files installed and checked under $prefix"
