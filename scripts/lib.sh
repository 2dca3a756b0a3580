# Shared steps of the scripts in this folder: sourced, never run on its own.
# Each step says what it does, does nothing when the work is already done, and explains what to
# install when it cannot do it itself (not root).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
cd "$ROOT" || exit 1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages that must be present; installed with apt-get when running as root.
ensure_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
    || die "apt-get could not install ${missing[*]}"
}

# The virtual environment with the project installed (editable) and the given extras.
ensure_venv() {
  local extras="$1" stamp="$VENV/.eligsim-installed"
  local want
  want="$(sha256sum pyproject.toml | cut -c1-16):$extras"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in .venv"
    "$PYTHON" -m venv "$VENV" || die "could not create .venv with $PYTHON (need Python >= 3.11 with venv)"
  fi
  local have
  have="$(cat "$stamp" 2>/dev/null || true)"
  # an environment with the test extra also serves the plain one
  if [ "$have" != "$want" ] && [ "$have" != "${want}test" ]; then
    say "installing the project into .venv${extras:+ with [$extras]}"
    # (grep drops the machine-level notes about absent local package mirrors, nothing else)
    if ! "$VENV/bin/pip" install -q --disable-pip-version-check -e ".${extras:+[$extras]}" 2>&1 \
      | { grep -v "^WARNING: Location '" || true; } >&2; then
      die "pip install failed (see above)"
    fi
    echo "$want" > "$stamp"
  fi
}

# The packages pyscard needs to build (it ships no wheel) and pcscd with the virtual reader driver.
ensure_smartcard_packages() {
  ensure_debian_packages pcscd vsmartcard-vpcd libpcsclite-dev swig gcc
}

postgres_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

# A PostgreSQL server on 127.0.0.1:5432 with trust authentication and a database "test".
ensure_postgres() {
  if ! postgres_ready; then
    ensure_debian_packages postgresql
    say "starting PostgreSQL"
    local version
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
      pg_createcluster "$version" main >&2 || die "could not create a PostgreSQL cluster"
    fi
    local conf="/etc/postgresql/$version/main/pg_hba.conf"
    [ -f "$conf" ] && sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$conf"
    pg_ctlcluster "$version" main start >&2 || die "could not start PostgreSQL"
    for _ in $(seq 30); do postgres_ready && break; sleep 1; done
    postgres_ready || die "PostgreSQL did not come up on 127.0.0.1:5432"
  fi
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE test" >&2 \
    || die "cannot reach PostgreSQL as user postgres on 127.0.0.1:5432 with trust auth"
}

redis_ready() {
  local reply
  { exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3; } 2>/dev/null || return 1
  exec 3>&-
  [[ "$reply" == "+PONG"* ]]
}

# A Redis server on 127.0.0.1:6379 (started here, on loopback only, when none is running).
ensure_redis() {
  redis_ready && return 0
  ensure_debian_packages redis-server
  say "starting Redis on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >&2 \
    || die "could not start redis-server"
  for _ in $(seq 20); do redis_ready && return 0; sleep 0.5; done
  die "Redis did not come up on 127.0.0.1:6379"
}

# -- pcscd with the vpcd virtual reader, its card ports on loopback only -----------------------------
# vpcd binds its card ports (35963, 35964) on every interface, so any host could insert a card into
# "Virtual PCD 00 00". The scripts start pcscd with the project's reader list (scripts/pcscd/
# reader.conf.d, read with -c instead of /etc/reader.conf.d, which stays untouched) and with
# scripts/pcscd/vpcd_loopback.c preloaded, which binds those ports on 127.0.0.1 (why not vpcd's
# connecting mode: that file's comment).
PCSCD_CONF="$ROOT/scripts/pcscd/reader.conf.d"
VPCD_LOOPBACK_SOURCE="$ROOT/scripts/pcscd/vpcd_loopback.c"
VPCD_LOOPBACK_DIR="/usr/local/lib/eligsim"  # root-owned: a root daemon loads it
PCSCD_LOG="$ROOT/var/pcscd.log"
OLD_PCSCD_LOG="${TMPDIR:-/tmp}/eligsim-pcscd.log"  # where earlier scripts left theirs
PCSCD_STARTED=""

# The virtual reader's card ports open beyond loopback, as "address:port" words (none: empty).
exposed_card_ports() {
  "$VENV/bin/python" - <<'PY'
from card_reader.vpcd import DEFAULT_PORT, exposed_addresses
ports = (DEFAULT_PORT, DEFAULT_PORT + 1)
print(" ".join(f"{address}:{port}" for port in ports for address in exposed_addresses(port)))
PY
}

# Whether something listens on the virtual reader's first card port (35963 is 8C7B in /proc/net).
card_port_listening() { grep -qsE ':8C7B [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6; }

# The preload, built when missing or when its source changed.
build_vpcd_loopback() {
  local built="$VPCD_LOOPBACK_DIR/vpcd_loopback.so" copy="$VPCD_LOOPBACK_DIR/vpcd_loopback.c"
  [ -f "$built" ] && cmp -s "$VPCD_LOOPBACK_SOURCE" "$copy" && return 0
  say "building $built (binds the virtual reader's card ports on 127.0.0.1)"
  mkdir -p "$VPCD_LOOPBACK_DIR" \
    && gcc -shared -fPIC -O2 -o "$built.new" "$VPCD_LOOPBACK_SOURCE" -ldl \
    && mv "$built.new" "$built" && cp "$VPCD_LOOPBACK_SOURCE" "$copy" \
    || die "could not build $built with gcc"
}

# Starts pcscd in the background, its card ports on loopback; its pid in PCSCD_STARTED.
# The caller stops it (stop_started_pcscd); ensure_pcscd arranges that.
start_pcscd() {
  [ "$(id -u)" -eq 0 ] || die "pcscd is not running and only root can start it: run this script as root"
  build_vpcd_loopback
  mkdir -p "$(dirname "$PCSCD_LOG")"
  say "starting pcscd for this run, the virtual reader's card ports on 127.0.0.1 only (log: $PCSCD_LOG)"
  LD_PRELOAD="$VPCD_LOOPBACK_DIR/vpcd_loopback.so" setsid pcscd -f -c "$PCSCD_CONF" >"$PCSCD_LOG" 2>&1 &
  PCSCD_STARTED=$!
  for _ in $(seq 50); do card_port_listening && break; sleep 0.1; done
  card_port_listening || { stop_started_pcscd; die "pcscd's virtual reader did not start (see $PCSCD_LOG)"; }
  local exposed
  exposed="$(exposed_card_ports)"
  [ -z "$exposed" ] || { stop_started_pcscd; die "pcscd's card ports are still open on $exposed"; }
}

stop_started_pcscd() {
  [ -n "$PCSCD_STARTED" ] || return 0
  say "stopping the pcscd started for this run (pid $PCSCD_STARTED)"
  { kill "$PCSCD_STARTED" && wait "$PCSCD_STARTED"; } 2>/dev/null || true
  PCSCD_STARTED=""
}

# Whether pcscd $1 is one that earlier versions of these scripts started and left running, on
# Debian's reader list, its card ports open on every interface.
left_by_earlier_scripts() {
  [ "$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" = "pcscd -f " ] \
    && [ "$(readlink "/proc/$1/fd/1" 2>/dev/null)" = "$OLD_PCSCD_LOG" ]
}

# pcscd with the virtual reader's card ports on loopback: the running one when it is so, else one
# started here and stopped when the calling script exits.
ensure_pcscd() {
  local pid exposed
  pid="$(pgrep -xo pcscd || true)"
  if [ -n "$pid" ]; then
    exposed="$(exposed_card_ports)"
    if [ -z "$exposed" ]; then
      say "using the running pcscd (pid $pid): no card port of its virtual reader is open beyond loopback"
      return 0
    fi
    left_by_earlier_scripts "$pid" || die "pcscd (pid $pid) takes virtual cards from other hosts" \
      "on $exposed: stop it (kill $pid, or systemctl stop pcscd.socket pcscd) and run again"
    say "stopping pcscd $pid, left running by an earlier eligsim script with its card ports open on $exposed"
    kill "$pid" && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  trap stop_started_pcscd EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_pcscd
}
