"""``eligsim card ...``: issue, renew and revoke virtual cards; read and bench cards in any reader."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import click
from cryptography import x509

from app.cli.common import open_registry
from app.service.cards import (
    certificate_of,
    issue_linked_card,
    renew_linked_card,
    revoke_linked_card,
)
from app.settings import load_settings
from card_reader.authority import CURRENT_GENERATION, GENERATIONS, Authority
from card_reader.bench import run_bench
from card_reader.card_file import load_card, save_card
from card_reader.face_reader import FaceReader
from card_reader.issuance import auth_certificate, check_pins
from card_reader.jpki import JpkiClient
from card_reader.transport import open_transport
from card_reader.virtual_card import Faults, VirtualCard
from card_reader.vpcd import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    VirtualCardServer,
    exposure_warning,
    reader_name,
)

CARD_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def card() -> None:
    """My Number Cards (マイナンバーカード): virtual cards, PC/SC readers, bench."""


def _describe(cert: x509.Certificate) -> list[str]:
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    uses = [name for name in ("digital_signature", "content_commitment") if getattr(usage, name)]
    return [
        f"serial:      {cert.serial_number:X}",
        f"issuer:      {cert.issuer.rfc4514_string()}",
        f"subject:     {cert.subject.rfc4514_string()}",
        f"valid:       {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
        f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        f"key usage:   {', '.join(uses) or 'none'}",
    ]


def _echo_certificate(cert: x509.Certificate) -> None:
    for line in _describe(cert):
        click.echo(line)


@card.command()
@click.argument("number")
@click.option("--pin", required=True, help="4-digit PIN (authentication and card-surface AP).")
@click.option(
    "--signature-pin",
    help="6-16 characters A-Z 0-9; without it the card holds no signature certificate.",
)
@click.option(
    "--generation", type=click.Choice(GENERATIONS), default=CURRENT_GENERATION, show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Card file to write [default: <var>/cards/<number>.card].",
)
@click.option("--force", is_flag=True, help="Overwrite an existing card file.")
def issue(
    number: str,
    pin: str,
    signature_pin: str | None,
    generation: str,
    out: Path | None,
    force: bool,
) -> None:
    """Issue a virtual card to the person with individualized insured number NUMBER and link its
    certificate to them (the Individual Number is never used)."""
    settings = load_settings()
    out = out or settings.default_card_dir / (re.sub(r"[^0-9A-Za-z-]", "_", number) + ".card")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists (use --force to overwrite it)")
    check_pins(pin, signature_pin)
    authority = Authority(settings.jpki_dir)
    with open_registry().begin() as conn:
        cert = issue_linked_card(conn, authority, number, out, pin, signature_pin, generation)
    click.echo(f"card:        {out}")
    _echo_certificate(cert)


@card.command()
@click.argument("card_file", type=CARD_FILE)
@click.option(
    "--generation", type=click.Choice(GENERATIONS), default=CURRENT_GENERATION, show_default=True
)
def renew(card_file: Path, generation: str) -> None:
    """Renew CARD_FILE's certificates: new keys and serials, re-linked; the old ones are revoked."""
    settings = load_settings()
    state = load_card(card_file)
    with open_registry().begin() as conn:
        renewed = renew_linked_card(
            conn, Authority(settings.jpki_dir), state, generation=generation
        )
        save_card(card_file, renewed)
    click.echo(f"renewed {card_file}; old serial {certificate_of(state)[1]:X} revoked")
    _echo_certificate(auth_certificate(renewed))


@card.command()
@click.argument("card_file", type=CARD_FILE)
def revoke(card_file: Path) -> None:
    """Revoke CARD_FILE's certificates (CRL and OCSP say so) and end its registry link."""
    settings = load_settings()
    state = load_card(card_file)
    with open_registry().begin() as conn:
        linked = revoke_linked_card(conn, Authority(settings.jpki_dir), state)
    serial = certificate_of(state)[1]
    click.echo(f"revoked serial {serial:X}" + ("; link ended" if linked else "; it was not linked"))


@card.command("list-readers")
def list_readers() -> None:
    """List the PC/SC readers pcscd sees; warn about a virtual reader whose card port other hosts
    can reach."""
    from card_reader import pcsc

    names = pcsc.list_readers()
    for name in names:
        click.echo(name)
    if not names:
        click.echo("no card reader connected", err=True)
    for warning in filter(None, map(exposure_warning, names)):
        click.echo(warning, err=True)


_READER = click.option("--reader", help="Reader name or prefix [default: first with a card].")
_VIRTUAL = click.option(
    "--virtual",
    type=CARD_FILE,
    help="Use this virtual card file in-process instead of a PC/SC reader.",
)


@card.command()
@_READER
@_VIRTUAL
def read(reader: str | None, virtual: Path | None) -> None:
    """Read the card: token, authentication certificate summary, PIN tries left (no PIN needed)."""
    transport = open_transport(reader, virtual)
    try:
        client = JpkiClient(transport)
        token = client.read_token()
        cert = x509.load_der_x509_certificate(client.read_auth_certificate())
        tries = client.auth_pin_tries_left()
    finally:
        transport.close()
    click.echo(f"reader:      {transport.reader_name}")
    click.echo(f"ATR:         {transport.atr.hex(' ').upper()}")
    click.echo(f"token:       {token}")
    _echo_certificate(cert)
    click.echo(f"tries left:  {tries}" + (" (locked)" if tries == 0 else ""))


@card.command()
@_READER
@_VIRTUAL
@click.option("--pin", required=True, help="The card's 4-digit authentication PIN.")
@click.option("--rounds", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(reader: str | None, virtual: Path | None, pin: str, rounds: int, as_json: bool) -> None:
    """Run select → read certificate → tries → verify PIN → sign ROUNDS times; print per-step median
    and p95 (ms), error counts, ATR and reader."""
    transport = open_transport(reader, virtual)
    try:
        with click.progressbar(length=rounds, label="bench", file=sys.stderr) as bar:
            report = run_bench(transport, pin, rounds, on_round=lambda: bar.update(1))
    finally:
        transport.close()
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"reader: {summary['reader']}\nATR:    {summary['atr']}")
        click.echo(
            f"rounds: {summary['completed']}/{rounds}  errors: {summary['errors'] or 'none'}"
        )
        click.echo(f"{'step':<18}{'median ms':>10}{'p95 ms':>10}")
        for name, stats in [*summary["steps_ms"].items(), ("total", summary["total_ms"])]:
            median, p95 = (f"{v:.2f}" if v is not None else "-" for v in stats.values())
            click.echo(f"{name:<18}{median:>10}{p95:>10}")
    if report.stopped_by:
        raise click.ClickException(f"bench stopped: {report.stopped_by}")


@card.command("serve-virtual")
@click.argument("card_file", type=CARD_FILE)
@click.option(
    "--listen",
    is_flag=True,
    help="Wait for pcscd to connect (vpcd's DEVICENAME names this host, e.g. localhost:0x8C7B) "
    "instead of connecting to pcscd's vpcd port.",
)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Where pcscd's vpcd port is; with --listen, the address to listen on.",
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--latency-ms", default=0.0, type=click.FloatRange(0), help="Delay every APDU.")
@click.option("--remove-after", type=click.IntRange(0), help="Pull the card after N APDUs.")
@click.option("--wrong-sw-at", type=click.IntRange(1), help="Answer APDU number N with --wrong-sw.")
@click.option("--wrong-sw", default="6F00", show_default=True, help="Status word (hex).")
def serve_virtual(
    card_file: Path,
    listen: bool,
    host: str,
    port: int,
    latency_ms: float,
    remove_after: int | None,
    wrong_sw_at: int | None,
    wrong_sw: str,
) -> None:
    """Serve CARD_FILE to pcscd through the vpcd driver until Ctrl-C: by connecting to pcscd's vpcd
    port (the default), or with --listen by waiting for pcscd to connect, again after each restart
    of pcscd."""
    try:
        sw = int(wrong_sw, 16)
    except ValueError:
        raise click.BadParameter(
            "a hex status word such as 6F00", param_hint="--wrong-sw"
        ) from None
    faults = Faults(latency_ms / 1000, remove_after, wrong_sw_at, sw)
    server = VirtualCardServer(VirtualCard.load(card_file, faults), host, port, listen)
    try:
        server.start()
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    _serve_until_interrupted(server, card_file)


def _serve_until_interrupted(server: VirtualCardServer, card_file: Path) -> None:
    """Report each change between "in the reader" and "waiting for pcscd" until Ctrl-C."""
    where = f"{server.host}:{server.port}"
    waiting = (
        f"listening on {where} for pcscd" if server.listen else f"waiting for pcscd on {where}"
    )
    click.echo(f"serving {card_file} as {reader_name(server.port)!r}; Ctrl-C to stop", err=True)
    warning = exposure_warning(reader_name(server.port))
    if warning:
        click.echo(warning, err=True)
    server.wait_connected(1.0)
    connected = None
    try:
        while True:
            if server.connected != connected:
                connected = server.connected
                click.echo("card in the reader" if connected else waiting, err=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@card.command("face-reader-key")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the public key (PEM) to this file [default: print it].",
)
def face_reader_key(out: Path | None) -> None:
    """The simulated face-recognition reader's public key, to register with `eligsim institution
    add-reader`; its key pair is made on first use in <var>/face-reader/ (mode 0600)."""
    pem = FaceReader.load_or_create(load_settings().var_dir).public_key_pem()
    if out is None:
        click.echo(pem, nl=False)
        return
    out.write_text(pem, encoding="ascii")
    click.echo(
        f"reader public key written to {out}; register it with: eligsim institution add-reader "
        f"--code CODE --name NAME --public-key {out}",
        err=True,
    )
