# Sourced after scripts/lib.sh by scripts/test-image and scripts/test-compose.
# -- container engines (scripts/test-image, scripts/test-compose; docs/deployment.md) ----------------
# docker when its daemon answers, else rootful podman configured by a containers.conf written here
# (CONTAINERS_CONF; /etc/containers stays untouched). The base image is pulled when a registry
# answers, else bootstrapped from this machine's own apt sources; it stays in the engine's storage.
if [ "$(id -u)" -eq 0 ]; then
  CONTAINER_CACHE="${ELIGSIM_CONTAINER_CACHE:-/var/cache/eligsim/containers}"
else
  CONTAINER_CACHE="${ELIGSIM_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eligsim/containers}"
fi
BASE_IMAGE="debian:bookworm-slim"
ENGINE=""

# Sets ENGINE to docker or podman, or says why neither can run containers here.
choose_engine() {
  if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    ENGINE=docker
    say "using docker (its daemon answers)"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || command -v podman >/dev/null \
    || die "no container engine: no docker daemon answers and podman is not installed (as root this" \
      "script installs it; else: sudo apt-get install podman runc uidmap)"
  ensure_debian_packages podman runc uidmap
  write_containers_conf
  local problem
  problem="$(podman info 2>&1 >/dev/null)" \
    || die "no container engine works: no docker daemon answers, and podman says: $problem"
  ENGINE=podman
  say "using podman (no docker daemon answers); its settings: $CONTAINERS_CONF"
}

# podman's settings for machines like CI's: crun fails on hybrid cgroups (runc with the cgroupfs
# manager works); a container may not ask for more open files than the hard limit, nor for more
# processes than conmon's (at most 32768 on CI's machines, whatever the shell's), as root here
# cannot raise a hard limit; no journald.
write_containers_conf() {
  local files processes
  files="$(ulimit -Hn)" processes="$(ulimit -Hu)"
  [ "$files" != unlimited ] || files=-1
  [ "$processes" != unlimited ] && [ "$processes" -lt 32768 ] || processes=32768
  local ulimits="default_ulimits = [\"nofile=$files:$files\", \"nproc=$processes:$processes\"]"
  mkdir -p "$CONTAINER_CACHE" 2>/dev/null \
    || die "cannot create $CONTAINER_CACHE for podman's settings (set ELIGSIM_CONTAINER_CACHE)"
  export CONTAINERS_CONF="$CONTAINER_CACHE/containers.conf"
  printf '%s\n' "# written by scripts/lib.sh (write_containers_conf)" "[containers]" "$ulimits" \
    "[engine]" 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' \
    >"$CONTAINERS_CONF"
}

image_exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# Whether Docker Hub answers (401 without a token is an answer).
registry_reachable() {
  [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null)" = 401 ]
}

# debian:bookworm-slim in the engine's storage: kept from an earlier run, pulled, or bootstrapped.
ensure_base_image() {
  image_exists "$BASE_IMAGE" && return 0
  if registry_reachable; then
    say "pulling $BASE_IMAGE"
    "$ENGINE" pull "docker.io/library/$BASE_IMAGE" >&2 && return 0
  fi
  bootstrap_base_image
}

# The Debian entries of this machine's apt sources, as files mmdebstrap pastes into the image.
debian_sources() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] && grep -qsE '^[^#]*(deb|URIs:).*/debian' "$file" && echo "$file"
  done
  return 0
}

# This machine's apt proxies and date checks (a snapshot mirror needs them), as mmdebstrap options.
apt_options() {
  apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' \
    | sed 's/^/--aptopt=/'
}

bootstrap_base_image() {
  ensure_debian_packages mmdebstrap
  local sources options
  mapfile -t sources < <(debian_sources)
  [ ${#sources[@]} -gt 0 ] || die "no registry answers and /etc/apt has no Debian source to bootstrap $BASE_IMAGE from"
  mapfile -t options < <(apt_options)
  local log="$CONTAINER_CACHE/bootstrap.log"
  mkdir -p "$CONTAINER_CACHE"
  say "no image registry answers: bootstrapping $BASE_IMAGE with mmdebstrap from ${sources[*]}"
  if ! mmdebstrap --variant=minbase --format=tar --quiet "${options[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm - "${sources[@]}" 2>"$log" \
    | "$ENGINE" import --change 'CMD ["bash"]' - "$BASE_IMAGE" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "could not bootstrap $BASE_IMAGE (the end of $log is above)"
  fi
}

# The engine, without podman's complaint that no systemd runs its healthcheck timers (the tests run
# the healthcheck themselves).
engine() { "$ENGINE" "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# The CA bundle pip trusts on this machine, given to image builds as the secret "host_ca".
host_ca_bundle() {
  local bundle="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
  [ -f "$bundle" ] || die "no CA bundle at $bundle for pip inside the build (set PIP_CERT)"
  echo "$bundle"
}

# build_image TAG DOCKERFILE [CONTEXT]: built from CONTEXT (the project's folder), with this
# machine's CA bundle for pip and its proxies (podman passes them itself; docker takes them as
# build arguments). A build stage named "build" is tagged too (NAME-build:TAG), so that removing
# the images no tag names, which every build leaves, keeps it as the next build's cache.
build_image() {
  local options=(-f "$2" --secret "id=host_ca,src=$(host_ca_bundle)") name
  [ "$ENGINE" = podman ] && options+=(--format docker)  # OCI images drop HEALTHCHECK
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
    [ -n "${!name:-}" ] && options+=(--build-arg "$name")
  done
  local log="$CONTAINER_CACHE/build-${1//[:\/]/-}.log" began=$SECONDS
  mkdir -p "$CONTAINER_CACHE" && : >"$log"
  say "building $1 from $2 (log: $log)"
  if grep -qE '^FROM .* AS build$' "$2"; then
    build_with_log "$log" "${options[@]}" --target build -t "${1%%:*}-build:${1##*:}" "${3:-$ROOT}"
  fi
  build_with_log "$log" "${options[@]}" -t "$1" "${3:-$ROOT}"
  engine image prune -f >/dev/null
  say "built $1 in $((SECONDS - began)) s"
}

build_with_log() {
  local log="$1"
  shift
  engine build "$@" >>"$log" 2>&1 && return 0
  tail -n 40 "$log" >&2
  die "the build failed (the end of $log is above)"
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_http URL SECONDS: whether URL answers 2xx within SECONDS.
wait_for_http() {
  local deadline=$((SECONDS + $2))
  until curl -sf -m 3 -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}
