"""Reading untrusted request files and writing result files: UTF-8 or Shift_JIS, the XML declaration
and ``CharacterCodeIdentifier`` agreeing.

Requests are parsed with defusedxml: a DTD, an entity or an external reference is refused, so an XML
bomb or an external entity never expands. Python's XML parser cannot decode multi-byte encodings
itself, so a Shift_JIS file is decoded first (as Windows' Shift_JIS, CP932, which front-desk software
on Windows writes) and parsed as text.

Results in Shift_JIS are encoded as JIS X 0208 Shift_JIS; a character outside it (a rare kanji of a
name, say) is written as an XML character reference (``&#x9DD7;``), which every XML parser turns back
into the character: nothing is lost or replaced."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_BYTES = 16 << 20  # a bulk pre-check of 20,000 lines is about 8 MiB
ENCODINGS = {"utf-8": ("UTF-8", "0"), "shift_jis": ("Shift_JIS", "1")}
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.\-]+)[\"'][^>]*\?>")
_SHIFT_JIS_NAMES = {"shift_jis", "shift-jis", "sjis", "x-sjis", "cp932", "ms932", "windows-31j"}


class RequestFileError(ValueError):
    """A request file that cannot be read as XML; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ParsedFile:
    root: ET.Element
    encoding: str  # "utf-8" or "shift_jis": the result is written the same way


def parse_request(data: bytes) -> ParsedFile:
    """The request's root element and encoding, or RequestFileError naming the problem."""
    if len(data) > MAX_BYTES:
        raise RequestFileError("FILE_TOO_LARGE", f"the file is over {MAX_BYTES >> 20} MiB")
    encoding = _declared_encoding(data)
    try:
        text = data.decode("cp932" if encoding == "shift_jis" else "utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestFileError(
            "ENCODING_INVALID", f"not valid {encoding}: {error.reason}"
        ) from None
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException as error:
        raise RequestFileError(
            "XML_FORBIDDEN", f"DTDs and entities are refused ({error})"
        ) from None
    except ET.ParseError as error:
        raise RequestFileError("XML_MALFORMED", f"not well-formed XML: {error}") from None
    return ParsedFile(root, encoding)


def _declared_encoding(data: bytes) -> str:
    found = _DECLARATION.match(data)
    name = found.group(1).decode("ascii").lower() if found else "utf-8"
    if name in _SHIFT_JIS_NAMES:
        return "shift_jis"
    if name in ("utf-8", "utf8"):
        return "utf-8"
    raise RequestFileError("ENCODING_UNSUPPORTED", f"encoding {name!r}: use UTF-8 or Shift_JIS")


def character_code(encoding: str) -> str:
    """The ``CharacterCodeIdentifier`` of an encoding: 0 UTF-8, 1 Shift_JIS."""
    return ENCODINGS[encoding][1]


def serialize(root: ET.Element, encoding: str) -> bytes:
    """The result file's bytes, with a declaration naming its encoding."""
    name, _ = ENCODINGS[encoding]
    ET.indent(root)  # one element a line: readable for the people who look at these files
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    text = f'<?xml version="1.0" encoding="{name}"?>\n{body}\n'
    return text.encode("shift_jis" if encoding == "shift_jis" else "utf-8", "xmlcharrefreplace")
