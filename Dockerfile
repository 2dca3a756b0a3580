# eligsim as one container: the service (gunicorn), pcscd with the vpcd virtual reader, the state in
# a volume. scripts/test-image builds and smoke-tests it (docker, else podman); docs/deployment.md
# says more, and deploy/ runs it as several processes with PostgreSQL and Redis.
#
#   docker build --secret id=host_ca,src=/etc/ssl/certs/ca-certificates.crt -t eligsim .
#   docker run -d --name eligsim -p 127.0.0.1:8000:8000 -v eligsim-var:/var/lib/eligsim eligsim
#
# (podman: add --format docker to the build, or the HEALTHCHECK is dropped.) The secret is only for
# machines whose TLS goes through their own authority. The service binds HOST=0.0.0.0 inside the
# container and the engine publishes it where -p says: keep 127.0.0.1 there. The pages' reader
# station answers only requests from the service's own machine, i.e. from inside the container
# (`docker exec eligsim eligsim demo`); with --network host the service binds HOST on the host, so
# pass -e HOST=127.0.0.1 then. The volume keeps the registry, the demo clinic and its key, the JPKI
# authority, the cards and the audit key across restarts; every start only adds what is missing.
#
# The supervisor: tini is PID 1 (it reaps orphans and passes SIGTERM on), and
# deploy/image/eligsim-start runs pcscd and gunicorn side by side: when either ends it stops the
# other and the container exits, so the engine's restart policy restarts the pair as one; SIGTERM
# stops both, well within `docker stop`'s 10 s. A second container for pcscd cannot work: pcscd's
# clients reach it through a Unix socket and its card ports listen on loopback only. supervisord or
# runit would restart pcscd alone, at the cost of a daemon and a configuration for two processes.

FROM debian:bookworm-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc libc6-dev python3-dev python3-venv swig libpcsclite-dev \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/eligsim
WORKDIR /src
# a PyPI mirror the building machine uses (scripts/test-image passes PIP_INDEX_URL when set)
ARG PIP_INDEX_URL=""
COPY deploy/image/pip-install deploy/image/requirements.py /usr/local/bin/
COPY pyproject.toml README.md ./
# the dependencies (pyscard built from source) in a layer of their own: a change to the code alone
# builds no wheel again
RUN --mount=type=secret,id=host_ca \
    requirements.py pyproject.toml >/tmp/requirements.txt && pip-install -r /tmp/requirements.txt
COPY app app
COPY card_reader card_reader
COPY payer_registry payer_registry
RUN --mount=type=secret,id=host_ca pip-install --no-deps .
# the preload that binds the virtual reader's card ports on 127.0.0.1 (scripts/lib.sh says why)
COPY scripts/pcscd/vpcd_loopback.c /src/
RUN gcc -shared -fPIC -O2 -o /src/vpcd_loopback.so /src/vpcd_loopback.c -ldl

FROM debian:bookworm-slim
# run-time packages only; postgresql-client has pg_dump and pg_restore for `eligsim backup` and
# `restore` on PostgreSQL; /srv/oqs holds the folders of `eligsim terminal` (deploy/compose.yaml)
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 libpcsclite1 pcscd vsmartcard-vpcd tini postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && rm /etc/reader.conf.d/vpcd \
    && useradd --system --home-dir /var/lib/eligsim --create-home eligsim \
    && install -d -o eligsim /run/pcscd /srv/oqs/req /srv/oqs/res
COPY --from=build /opt/eligsim /opt/eligsim
COPY --from=build /src/vpcd_loopback.so /usr/local/lib/eligsim/
# the project's reader list instead of Debian's (the rm above takes vpcd out of that one)
COPY scripts/pcscd/reader.conf.d /etc/eligsim/reader.conf.d
COPY deploy/image/eligsim-start /usr/local/bin/

ENV PATH=/opt/eligsim/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    ELIGSIM_VAR_DIR=/var/lib/eligsim \
    HOST=0.0.0.0 \
    PORT=8000
USER eligsim
WORKDIR /var/lib/eligsim
VOLUME /var/lib/eligsim
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/api/v1/health\", timeout=4)"]
ENTRYPOINT ["tini", "--", "eligsim-start"]
