"""The error codes the front-desk and patient pages know are the API's own.

The pages' JavaScript is read as text: the keys of the code → next-step table in messages.js, and
every place a script compares or makes an error code. A misspelt or retired code would never match
an answer, so its message would silently never show."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from app.web.errors import ERROR_CODES

JS = Path(__file__).resolve().parents[2] / "app" / "frontdesk" / "static" / "js"
MESSAGES = JS / "messages.js"

# Codes api.js makes up itself when no error document comes back from the service (the fetch
# failed, or the answer was not JSON): the API never sends them, so they are not in ERROR_CODES.
CLIENT_SIDE = {"NETWORK", "BAD_RESPONSE"}

# Refusals a front desk can meet at the reader station: each needs its own next step on the page.
STATION_REFUSALS = {
    "CERT_EXPIRED",
    "CERT_REVOKED",
    "CARD_NOT_LINKED",
    "WRONG_PIN",
    "PIN_LAST_TRY",
    "PIN_LOCKED",
    "NO_CARD",
    "CONSENT_REQUIRED",
    "CONSENT_EXPIRED",
    "STATION_NOT_READY",
    "STATION_LOCAL_ONLY",
    "STATION_FORBIDDEN_ORIGIN",
    "STATION_TOKEN_INVALID",
}

CODE = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*"
# JavaScript comments and string literals, matched left to right so that a "//" inside a string
# or a quote inside a comment is read as what it is.
TOKENS = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?\*/)"""
    r"""|(?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)""",
    re.DOTALL,
)
# Where a script tests or makes an error code.
USES = [
    re.compile(rf"""\.code\s*[!=]==?\s*["']({CODE})["']"""),  # error.code === "X"
    re.compile(rf"""["']({CODE})["']\s*[!=]==?\s*[\w.?]*\.code\b"""),  # "X" === error.code
    re.compile(rf"""\bcode\s*:\s*["']({CODE})["']"""),  # { code: "X" }
    re.compile(rf"""\bnew\s+ApiError\(\s*["']({CODE})["']"""),  # new ApiError("X", ...)
    re.compile(rf"""\bcase\s+["']({CODE})["']\s*:"""),  # switch (error.code) { case "X": }
]
# ["X", "Y"].includes(error.code)
CODE_LIST = re.compile(r"\[([^\[\]]*)\]\s*\.includes\(\s*[\w.?]*\.code\s*\)")
LITERAL = re.compile(rf"""["']({CODE})["']""")


def _blank(source: str, keep_codes: bool) -> str:
    """The source without comments; strings emptied (or, with keep_codes, kept when they are a code)."""

    def replace(match: re.Match[str]) -> str:
        if match.group("comment"):
            return " "
        text = match.group("string")
        if keep_codes and re.fullmatch(rf"""["']{CODE}["']""", text):
            return text
        return '""'

    return TOKENS.sub(replace, source)


def _object_keys(source: str, name: str) -> set[str]:
    """The code-like keys of the object literal assigned to ``const name`` (its top level only)."""
    code = _blank(source, keep_codes=True)
    start = re.search(rf"\bconst\s+{name}\s*=\s*\{{", code)
    assert start, f"no `const {name} = {{` in the page's script"
    depth, top = 1, []
    for char in code[start.end() :]:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            top.append(char)
    assert depth == 0, f"the object {name} is not closed"
    keys = re.findall(rf"""(?:^|,)\s*["']?({CODE})["']?\s*:""", "".join(top))
    return set(keys)


@cache
def refusal_table() -> frozenset[str]:
    return frozenset(_object_keys(MESSAGES.read_text(encoding="utf-8"), "REFUSALS"))


@cache
def codes_used() -> dict[str, frozenset[str]]:
    """Script name → the codes it compares an error with or makes."""
    found = {}
    for path in sorted(JS.glob("*.js")):
        code = _blank(path.read_text(encoding="utf-8"), keep_codes=True)
        codes = {match for pattern in USES for match in pattern.findall(code)}
        for listed in CODE_LIST.findall(code):
            codes.update(LITERAL.findall(listed))
        found[path.name] = frozenset(codes)
    return found


def test_the_scripts_are_read():
    """Guards the regular expressions: finding nothing must not pass as "every code is known"."""
    assert len(refusal_table()) >= 20
    assert refusal_table() >= {"WRONG_PIN", "CERT_REVOKED", "NETWORK"}
    assert codes_used()["frontdesk.js"] >= {"WRONG_PIN", "PIN_LAST_TRY"}
    assert codes_used()["api.js"] >= CLIENT_SIDE


def test_every_code_the_pages_know_is_an_api_code():
    known = {("messages.js REFUSALS", code) for code in refusal_table()}
    known |= {(script, code) for script, codes in codes_used().items() for code in codes}
    unknown = sorted(
        (where, code) for where, code in known if code not in ERROR_CODES.keys() | CLIENT_SIDE
    )
    assert not unknown, f"codes the API never answers (misspelt or retired?): {unknown}"


def test_the_client_side_codes_are_the_pages_own():
    """Each exemption is still made by api.js and still not an API code (else drop it here)."""
    assert not CLIENT_SIDE & ERROR_CODES.keys()
    assert codes_used()["api.js"] >= CLIENT_SIDE


def test_every_station_refusal_says_what_to_do_next():
    assert ERROR_CODES.keys() >= STATION_REFUSALS
    missing = sorted(STATION_REFUSALS - refusal_table())
    assert not missing, f"messages.js has no next step for {missing}"
