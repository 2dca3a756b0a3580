# The simulator as a service: Debian's Python and PC/SC packages, the project from PyPI's packages.
#   docker build -t eligsim .
#   docker run --rm -p 127.0.0.1:8000:8000 -v eligsim-var:/var/lib/eligsim eligsim
# State (registry, CA keys, cards) lives in the volume. The front-desk page's reader station answers
# only loopback requests, so for the pages run with --network host (the service then binds 127.0.0.1).
FROM debian:bookworm-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev gcc swig libpcsclite-dev pcscd vsmartcard-vpcd \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/eligsim
COPY pyproject.toml README.md ./
COPY app app
COPY card_reader card_reader
COPY payer_registry payer_registry
RUN python3 -m venv /opt/eligsim && /opt/eligsim/bin/pip install --no-cache-dir . \
    && useradd --system --home-dir /var/lib/eligsim --create-home eligsim
# The virtual reader's card ports on loopback only (docs: README, "Cards and readers"): the project's
# reader list instead of Debian's, and the preload that binds vpcd's ports on 127.0.0.1.
COPY scripts/pcscd/reader.conf.d /etc/eligsim/reader.conf.d
COPY scripts/pcscd/vpcd_loopback.c /usr/local/lib/eligsim/vpcd_loopback.c
RUN gcc -shared -fPIC -O2 -o /usr/local/lib/eligsim/vpcd_loopback.so \
        /usr/local/lib/eligsim/vpcd_loopback.c -ldl \
    && rm /etc/reader.conf.d/vpcd \
    && install -d -o eligsim /run/pcscd

ENV PATH=/opt/eligsim/bin:$PATH \
    ELIGSIM_VAR_DIR=/var/lib/eligsim \
    HOST=0.0.0.0 \
    PORT=8000
USER eligsim
WORKDIR /var/lib/eligsim
EXPOSE 8000
CMD ["sh", "-c", "LD_PRELOAD=/usr/local/lib/eligsim/vpcd_loopback.so pcscd -f -c /etc/eligsim/reader.conf.d & eligsim registry seed --persons 10000 --if-empty --scenarios && eligsim demo setup --url http://127.0.0.1:$PORT && exec eligsim serve --host $HOST --port $PORT"]
