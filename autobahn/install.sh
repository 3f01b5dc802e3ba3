#!/usr/bin/env bash
# Install the Autobahn|Testsuite (`wstest`, Python 2.7 + Twisted) for Switchyard's
# conformance runs (autobahn/run.sh), using package registries only:
#   * PyPI  : autobahntestsuite==25.10.1 and its Python-2.7-compatible dependencies
#   * apt   : build prerequisites and, only if no Python 2.7 is available, python2.7 +
#             python2.7-dev from Debian bullseye (added as a LOW-priority pinned source,
#             removed again afterwards).
# No Docker, no GitHub, no interactive prompts (safe for CI: root, no stdin).
#
# Idempotent: every step checks whether it is already done and prints SKIP or DONE.
#
# Result (PREFIX defaults to /opt/switchyard-autobahn):
#   $PREFIX/venv/bin/wstest        the real wstest (its server modes bind 0.0.0.0)
#   $PREFIX/bin/wstest-loopback    same CLI, but every listening socket binds 127.0.0.1
#
# Environment knobs:
#   AUTOBAHN_PREFIX     install prefix (default /opt/switchyard-autobahn)
#   AUTOBAHN_PY2        auto (default) | /path/to/python2.7
#                       auto = pyenv 2.7.x -> /usr/bin/python2.7 -> apt (bullseye, pinned)
#   AUTOBAHN_SELFTEST   1 = always run the loopback smoke test; 0 = never;
#                       default: only when something was installed in this run.
#   AUTOBAHN_APT_SIMULATE=1  only show what the apt (bullseye) fallback would install
#                       (`apt-get install -s`), remove the temporary source again, and exit.
set -euo pipefail
exec </dev/null                        # never wait for input (CI has no stdin)
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

PREFIX=${AUTOBAHN_PREFIX:-/opt/switchyard-autobahn}
VERSION=25.10.1                        # autobahntestsuite on PyPI (pins a py2.7 dep set)
PY2_CHOICE=${AUTOBAHN_PY2:-auto}
SELFTEST=${AUTOBAHN_SELFTEST:-auto}
APT_SIMULATE=${AUTOBAHN_APT_SIMULATE:-0}
PIP_WHEEL_VERSION=20.3.4               # last pip release that supports Python 2.7
BOOTSTRAP_SPECS=("setuptools==44.1.1 wheel==0.37.1" "virtualenv==20.15.1")  # last py2.7-capable
APT_SRC=/etc/apt/sources.list.d/switchyard-autobahn-bullseye.sources
APT_PIN=/etc/apt/preferences.d/switchyard-autobahn-bullseye

T0=$(date +%s)
CHANGED=0
log()  { echo "[autobahn-install] $*"; }
done_() { echo "[autobahn-install] DONE: $*"; CHANGED=1; }
skip() { echo "[autobahn-install] SKIP: $*"; }
die()  { echo "[autobahn-install] ERROR: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi

CERT_ARGS=()
for c in "${PIP_CERT:-}" /etc/ssl/certs/ca-certificates.crt; do
  if [ -n "$c" ] && [ -f "$c" ]; then CERT_ARGS=(--cert "$c"); break; fi
done

APT_UPDATED=0
apt_install() {  # apt_install PKG... (runs apt-get update once per script run)
  if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  $SUDO apt-get install -y -q --no-install-recommends "$@"
}

# A Python 2.7 is usable if it has ssl + zlib (pip over TLS) and Python.h (wsaccel is
# built from source). distutils, not sysconfig: Debian's sysconfig reports the wrong dir.
py2_ok() {
  "$1" -c 'import sys, ssl, zlib, os
from distutils.sysconfig import get_python_inc
assert sys.version_info[:2] == (2, 7)
assert os.path.exists(os.path.join(get_python_inc(), "Python.h"))' >/dev/null 2>&1
}

find_pyenv_py2() {
  local root=${PYENV_ROOT:-${HOME:-/root}/.pyenv} p
  for p in $(ls -d "$root"/versions/2.7*/bin/python2.7 2>/dev/null | sort -rV); do
    if py2_ok "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

wstest_installed() {
  [ -x "$PREFIX/venv/bin/wstest" ] &&
    [[ $("$PREFIX/venv/bin/wstest" --autobahnversion 2>/dev/null) == *"AutobahnTestSuite $VERSION"* ]]
}

# ------------------------------------------------------------------------------------------
# Python 2.7 from Debian bullseye. Bookworm has no python2.7; bullseye's packages (plus
# libssl1.1/libffi7, absent from bookworm) install cleanly next to it. The source is pinned
# to priority 100 so nothing else is ever upgraded from it, and removed again on exit.
cleanup_apt_source() {
  if [ -f "$APT_SRC" ] || [ -f "$APT_PIN" ]; then
    $SUDO rm -f "$APT_SRC" "$APT_PIN"
    $SUDO apt-get update -qq || true
    log "removed the temporary bullseye apt source + pin (installed packages stay)"
  fi
}

debian_mirror() {  # the Debian mirror this machine already uses (deb822 or one-line format)
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$m" ]; then
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
          awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' |
          grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

install_py2_from_bullseye() {
  command -v apt-get >/dev/null || die "no usable Python 2.7 and no apt-get; set AUTOBAHN_PY2=/path/to/python2.7"
  trap cleanup_apt_source EXIT
  local mirror extra="" try
  mirror=$(debian_mirror)
  for try in "$mirror" http://archive.debian.org/debian; do
    # archive.debian.org serves expired Release files
    [ "$try" = http://archive.debian.org/debian ] && extra="Check-Valid-Until: no"
    printf 'Types: deb\nURIs: %s\nSuites: bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n%s\n' \
      "$try" "$extra" | $SUDO tee "$APT_SRC" >/dev/null
    printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' | $SUDO tee "$APT_PIN" >/dev/null
    $SUDO apt-get update -qq || true
    APT_UPDATED=1
    # (no `| grep -q` under pipefail: grep exiting early would SIGPIPE apt-cache)
    if [[ $(apt-cache policy python2.7-dev 2>/dev/null) == *"Candidate: "[0-9]* ]]; then break; fi
    log "bullseye not available from $try"
  done
  # no "-t bullseye": only what bookworm lacks comes from bullseye (the pin alone is enough)
  if [ "$APT_SIMULATE" = 1 ]; then
    apt-get install -s --no-install-recommends python2.7 python2.7-dev | grep -E '^Inst '
    cleanup_apt_source
    log "AUTOBAHN_APT_SIMULATE=1: simulated only, nothing installed"
    exit 0
  fi
  $SUDO apt-get install -y -q --no-install-recommends python2.7 python2.7-dev
  done_ "apt-get install python2.7 python2.7-dev (Debian bullseye from $try, pinned 100)"
  cleanup_apt_source
  trap - EXIT
}

# ------------------------------------------------------------------------------------------
log "prefix $PREFIX, autobahntestsuite $VERSION"
[ "$APT_SIMULATE" != 1 ] || install_py2_from_bullseye   # (exits after the simulation)

# Step 1. Python 3 (runs autobahn/check.py; also downloads the py2 pip wheel if needed).
if command -v python3 >/dev/null; then
  skip "python3 present ($(command -v python3))"
else
  apt_install python3 ca-certificates
  done_ "apt-get install python3 ca-certificates"
fi

if wstest_installed; then
  skip "steps 2-6: autobahntestsuite $VERSION already installed in $PREFIX/venv"
else
  mkdir -p "$PREFIX/bootstrap" 2>/dev/null ||
    die "cannot create $PREFIX (run as root, or set AUTOBAHN_PREFIX to a writable directory)"

  # Step 2. C compiler + CA certificates (wsaccel builds from source; pip needs TLS roots).
  if command -v gcc >/dev/null && [ -f /usr/include/stdio.h ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    skip "gcc, libc headers, CA certificates present"
  else
    apt_install gcc libc6-dev ca-certificates
    done_ "apt-get install gcc libc6-dev ca-certificates"
    [ ${#CERT_ARGS[@]} -gt 0 ] || CERT_ARGS=(--cert /etc/ssl/certs/ca-certificates.crt)
  fi

  # Step 3. Python 2.7 interpreter.
  PY2=""
  if [ "$PY2_CHOICE" != auto ]; then
    PY2=$PY2_CHOICE
  else
    PY2=$(find_pyenv_py2 || true)
    if [ -z "$PY2" ] && py2_ok /usr/bin/python2.7; then PY2=/usr/bin/python2.7; fi
  fi
  if [ -n "$PY2" ]; then
    skip "Python 2.7 present: $PY2"
  else
    install_py2_from_bullseye
    PY2=/usr/bin/python2.7
  fi
  py2_ok "$PY2" || die "$PY2 is not a usable Python 2.7 (needs ssl, zlib and Python.h)"
  log "Python 2.7: $PY2 ($("$PY2" -c 'import sys, ssl; print(sys.version.split()[0] + ", " + ssl.OPENSSL_VERSION)'))"

  # Step 4. pip for Python 2.7: the pip 20.3.4 wheel from PyPI, run straight from the file.
  PIP_WHL="$PREFIX/bootstrap/pip-$PIP_WHEEL_VERSION-py2.py3-none-any.whl"
  if [ -f "$PIP_WHL" ]; then
    skip "pip $PIP_WHEEL_VERSION wheel"
  else
    if "$PY2" -m pip --version >/dev/null 2>&1; then
      PIP_DL=("$PY2" -m pip download)
    else
      python3 -m pip --version >/dev/null 2>&1 || { apt_install python3-pip; done_ "apt-get install python3-pip"; }
      PIP_DL=(python3 -m pip download --only-binary=:all: --python-version 2.7 --implementation py)
    fi
    "${PIP_DL[@]}" "pip==$PIP_WHEEL_VERSION" --no-deps -q -d "$PREFIX/bootstrap" "${CERT_ARGS[@]}" 2>&1 |
      grep -v DEPRECATION || true
    [ -f "$PIP_WHL" ] || die "download of pip $PIP_WHEEL_VERSION failed"
    done_ "downloaded $(basename "$PIP_WHL") from PyPI"
  fi

  # Step 5. virtualenv 20.15.1 (can still create py2.7 envs) into bootstrap/tools, then the venv.
  TOOLS="$PREFIX/bootstrap/tools"
  if PYTHONPATH="$TOOLS" "$PY2" -m virtualenv --version >/dev/null 2>&1; then
    skip "virtualenv in $TOOLS"
  else
    # setuptools + wheel first: one of virtualenv's py2 deps (scandir) is an sdist.
    for spec in "${BOOTSTRAP_SPECS[@]}"; do
      # shellcheck disable=SC2086  # $spec is a list of requirement specifiers
      PYTHONPATH="$TOOLS" "$PY2" "$PIP_WHL/pip" install -q --no-warn-script-location \
        --target "$TOOLS" "${CERT_ARGS[@]}" $spec 2>&1 |
        grep -v -E 'DEPRECATION|Target directory .* already exists' || true
    done
    PYTHONPATH="$TOOLS" "$PY2" -m virtualenv --version >/dev/null 2>&1 ||
      die "installing virtualenv for $PY2 failed (see pip output above)"
    done_ "installed ${BOOTSTRAP_SPECS[*]} into $TOOLS"
  fi
  if "$PREFIX/venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
    skip "virtualenv $PREFIX/venv"
  else
    PYTHONPATH="$TOOLS" "$PY2" -m virtualenv -q --no-periodic-update "$PREFIX/venv"
    done_ "created Python 2.7 virtualenv $PREFIX/venv"
  fi

  # Step 6. autobahntestsuite with a pinned, known-good Python 2.7 dependency set
  # (resolved on Debian bookworm / CPython 2.7.18).
  cat > "$PREFIX/bootstrap/constraints-py27.txt" <<'EOF'
autobahn==0.10.9
Automat==22.10.0
argparse==1.4.0
attrs==21.4.0
cffi==1.15.1
constantly==15.1.0
cryptography==3.3.2
enum34==1.1.10
hyperlink==21.0.0
idna==2.10
incremental==16.10.1
ipaddress==1.0.23
Jinja2==2.11.3
klein==17.10.0
linecache2==1.0.0
MarkupSafe==1.1.1
pyasn1==0.5.1
pyasn1-modules==0.3.0
pycparser==2.21
PyHamcrest==1.10.1
pyOpenSSL==19.1.0
service-identity==18.1.0
setuptools==44.0.0
six==1.16.0
traceback2==1.4.0
Twisted==19.10.0
txaio==2.1.0
typing==3.10.0.0
ujson==2.0.3
unittest2==1.1.0
Werkzeug==1.0.1
wsaccel==0.6.6
zope.interface==4.6.0
EOF
  "$PREFIX/venv/bin/pip" install -q "${CERT_ARGS[@]}" \
    -c "$PREFIX/bootstrap/constraints-py27.txt" "autobahntestsuite==$VERSION" 2>&1 |
    grep -v DEPRECATION || true
  wstest_installed || die "pip install autobahntestsuite==$VERSION failed (see pip output above)"
  done_ "pip install autobahntestsuite==$VERSION into $PREFIX/venv"
fi

# Step 7. The loopback-only wrapper. Twisted's listenTCP/listenSSL default to all interfaces
# and wstest never passes an interface, so fuzzingserver/echoserver and the web UI (-u)
# would listen on 0.0.0.0. The wrapper forces every listen onto 127.0.0.1.
mkdir -p "$PREFIX/bin"
WRAP="$PREFIX/bin/wstest-loopback"
WRAP_BODY=$(cat <<EOF
#!$PREFIX/venv/bin/python
# wstest with every listening socket bound to 127.0.0.1 (generated by switchyard autobahn/install.sh)
import sys, warnings
warnings.filterwarnings("ignore", message="Python 2 is no longer supported.*")
from twisted.internet import posixbase
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_tcp = posixbase.PosixReactorBase.listenTCP
_ssl = posixbase.PosixReactorBase.listenSSL
def _iface(interface):
    return interface if interface in _LOOPBACK else "127.0.0.1"
def _listenTCP(self, port, factory, backlog=50, interface=""):
    return _tcp(self, port, factory, backlog, _iface(interface))
def _listenSSL(self, port, factory, contextFactory, backlog=50, interface=""):
    return _ssl(self, port, factory, contextFactory, backlog, _iface(interface))
posixbase.PosixReactorBase.listenTCP = _listenTCP
posixbase.PosixReactorBase.listenSSL = _listenSSL
from autobahntestsuite.wstest import run
sys.argv[0] = "wstest"
sys.exit(run())
EOF
)
if [ -f "$WRAP" ] && [ "$(cat "$WRAP")" = "$WRAP_BODY" ] && [ -x "$WRAP" ]; then
  skip "$WRAP"
else
  printf '%s\n' "$WRAP_BODY" > "$WRAP.tmp" && chmod 755 "$WRAP.tmp" && mv "$WRAP.tmp" "$WRAP"
  done_ "wrote $WRAP"
fi

# Step 8. Smoke test (after a fresh install, or AUTOBAHN_SELFTEST=1): echoserver on a free
# loopback port must listen on 127.0.0.1 only, and fuzzingclient 1.1.1 against it must be OK.
if [ "$SELFTEST" = 1 ] || { [ "$SELFTEST" = auto ] && [ "$CHANGED" = 1 ]; }; then
  T=$(mktemp -d)
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$T" && exec timeout 60 "$WRAP" -m echoserver -w "ws://127.0.0.1:$PORT" >"$T/echo.log" 2>&1) &
  EPID=$!
  for _ in $(seq 50); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
    sleep 0.2
  done
  printf '{"outdir": "%s/out", "servers": [{"agent": "echo", "url": "ws://127.0.0.1:%s"}], "cases": ["1.1.1"], "exclude-cases": [], "exclude-agent-cases": {}}\n' \
    "$T" "$PORT" > "$T/spec.json"
  ok=1
  (cd "$T" && timeout 60 "$WRAP" -m fuzzingclient -s "$T/spec.json" >"$T/client.log" 2>&1) || ok=0
  if command -v ss >/dev/null && [ -n "$(ss -Hltn "sport = :$PORT" | grep -v '127.0.0.1:' || true)" ]; then
    log "echoserver listens beyond loopback: $(ss -Hltn "sport = :$PORT")"; ok=0
  fi
  kill "$EPID" 2>/dev/null || true; wait "$EPID" 2>/dev/null || true
  grep -q '"behavior": "OK"' "$T/out/index.json" 2>/dev/null || ok=0
  if [ "$ok" = 1 ]; then rm -rf "$T"; done_ "smoke test (echoserver on 127.0.0.1:$PORT, case 1.1.1 OK)"
  else die "smoke test failed; logs in $T"; fi
else
  skip "smoke test (nothing changed; AUTOBAHN_SELFTEST=1 forces it)"
fi

log "$("$WRAP" --autobahnversion 2>/dev/null | tr '\n' ' ')ready: $WRAP ($(( $(date +%s) - T0 ))s)"
