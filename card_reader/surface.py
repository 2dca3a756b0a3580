"""Card-surface attributes (券面事項) as the card-surface helper AP holds them in EF 0002.

BER: a constructed ``FF 20`` wrapping the private tags ``DF 22`` name, ``DF 23`` address,
``DF 24`` birth date (YYYYMMDD) and ``DF 25`` sex ("1" male, "2" female, "3" other), UTF-8 text.
The Individual Number (EF 0001) is never part of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WRAPPER_TAG = 0xFF20
NAME_TAG, ADDRESS_TAG, BIRTH_TAG, SEX_TAG = 0xDF22, 0xDF23, 0xDF24, 0xDF25


@dataclass(frozen=True)
class SurfaceAttributes:
    name: str
    address: str
    birth_date: date
    sex: str


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big") + _length(len(value)) + value


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    """Parse consecutive BER TLVs (multi-byte tags, short or long lengths) into ``{tag: value}``."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        if data[i] == 0x00 or set(data[i:]) == {0xFF}:
            break  # padding after the last TLV
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            while True:
                tag = (tag << 8) | data[i]
                i += 1
                if not data[i - 1] & 0x80:
                    break
        length = data[i]
        i += 1
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i : i + count], "big")
            i += count
        if i + length > len(data):
            raise ValueError("truncated BER value")
        out[tag] = data[i : i + length]
        i += length
    return out


def tlv_size(head: bytes) -> int:
    """Total size of the BER TLV that ``head`` starts with (``head`` holds its tag and length)."""
    i = 1
    if head[0] & 0x1F == 0x1F:
        while head[i] & 0x80:
            i += 1
        i += 1
    first = head[i]
    if first < 0x80:
        return i + 1 + first
    count = first & 0x7F
    return i + 1 + count + int.from_bytes(head[i + 1 : i + 1 + count], "big")


def encode_surface(attrs: SurfaceAttributes) -> bytes:
    inner = b"".join(
        _tlv(tag, text.encode("utf-8"))
        for tag, text in (
            (NAME_TAG, attrs.name),
            (ADDRESS_TAG, attrs.address),
            (BIRTH_TAG, attrs.birth_date.strftime("%Y%m%d")),
            (SEX_TAG, attrs.sex),
        )
    )
    return _tlv(WRAPPER_TAG, inner)


def decode_surface(data: bytes) -> SurfaceAttributes:
    """Decode EF 0002; raises ``ValueError`` when the structure is not the expected one."""
    outer = parse_tlvs(data)
    if WRAPPER_TAG not in outer:
        raise ValueError("no FF 20 attribute template")
    fields = parse_tlvs(outer[WRAPPER_TAG])
    try:
        text = {
            tag: fields[tag].decode("utf-8") for tag in (NAME_TAG, ADDRESS_TAG, BIRTH_TAG, SEX_TAG)
        }
    except KeyError as missing:
        raise ValueError(f"attribute tag {missing.args[0]:04X} missing") from None
    birth = text[BIRTH_TAG]
    return SurfaceAttributes(
        name=text[NAME_TAG],
        address=text[ADDRESS_TAG],
        birth_date=date(int(birth[:4]), int(birth[4:6]), int(birth[6:8])),
        sex=text[SEX_TAG],
    )
