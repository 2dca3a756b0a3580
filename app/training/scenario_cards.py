"""Virtual cards (PIN 1234) of the training scenarios (``app.training.scenarios``), each in the state
its scenario needs, and the manifest the front-desk page lists them from.

Cards go to ``<var>/scenarios/cards/<slug>.card`` and the manifest to ``<var>/scenarios/
scenarios.json``. Issuing again replaces every card with a fresh one (new keys and serials), so used-up
PINs and spent states come back; the registry side drops the old links when it re-seeds the people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection

from app.service import audit
from app.service.cards import link_issued_card, renew_linked_card, revoke_linked_card
from app.settings import Settings
from app.training.scenarios import PIN, CardSetup, Scenario, ScenarioSetupError, write_manifest
from card_reader.authority import GENERATIONS, Authority
from card_reader.card_file import CardState, save_card
from card_reader.errors import CardError
from card_reader.issuance import issue_card
from card_reader.surface import SurfaceAttributes
from payer_registry.card_links import CardLinkError
from payer_registry.db import Registry

EXPIRED_ISSUE_AGO = dt.timedelta(
    days=6 * 366
)  # a certificate lasts to the 5th birthday after issue
EXPIRED_GENERATION = GENERATIONS[0]  # the 2015 root: valid when the expired card was issued
_TRIES_LEFT = {CardSetup.ONE_TRY_LEFT: 1, CardSetup.LOCKED: 0}


def issue_scenario_cards(settings: Settings, defined: Sequence[Scenario]) -> Path:
    """Issue every scenario's card in its state, link it where the scenario says, write the manifest
    and return its path; one-line ``ScenarioSetupError`` on failure."""
    authority = Authority(settings.jpki_dir)
    registry = Registry(settings.database_url)
    audit.use_trail(registry.engine, settings)  # the links are audited under these settings' key
    try:
        with registry.begin() as conn:
            for scenario in defined:
                if scenario.card is not None:
                    _issue(conn, authority, settings.var_dir, scenario)
        return write_manifest(settings.var_dir, defined)
    except (CardError, CardLinkError, OSError) as error:
        raise ScenarioSetupError(f"scenario cards: {error}") from None
    finally:
        registry.dispose()


def _issue(conn: Connection, authority: Authority, var_dir: Path, scenario: Scenario) -> None:
    setup = scenario.card
    state = _new_card(authority, scenario.records[0], expired=setup is CardSetup.EXPIRED)
    if setup is not CardSetup.NOT_LINKED:
        link_issued_card(conn, scenario.holder_number, state)
    if setup in _TRIES_LEFT:
        state.auth_pin.tries_left = _TRIES_LEFT[setup]
    elif setup is CardSetup.REVOKED:
        revoke_linked_card(conn, authority, state)
    elif setup is CardSetup.RENEWED:
        save_card(var_dir / str(scenario.old_card_file), state)
        state = renew_linked_card(conn, authority, state, scenario.holder_number)
    save_card(var_dir / str(scenario.card_file), state)


def _new_card(authority: Authority, record: dict, expired: bool) -> CardState:
    """A card for the person of ``record``; ``expired``: issued long enough ago to have expired."""
    birth = dt.date.fromisoformat(record["birth_date"])
    holder = SurfaceAttributes(record["name"], record["address"], birth, record["sex"])
    if not expired:
        return issue_card(authority, holder, PIN)
    issued = dt.datetime.now(dt.UTC) - EXPIRED_ISSUE_AGO
    return issue_card(authority, holder, PIN, generation=EXPIRED_GENERATION, now=issued)
