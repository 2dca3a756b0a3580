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

# pcscd in the foreground mode, in the background, so the vpcd virtual reader listens on loopback.
ensure_pcscd() {
  if ! pgrep -x pcscd >/dev/null; then
    say "starting pcscd with the vpcd virtual reader"
    (setsid pcscd -f >"${TMPDIR:-/tmp}/eligsim-pcscd.log" 2>&1 &)
    for _ in $(seq 20); do pgrep -x pcscd >/dev/null && break; sleep 0.2; done
  fi
  pgrep -x pcscd >/dev/null || die "pcscd did not start (see ${TMPDIR:-/tmp}/eligsim-pcscd.log)"
}
