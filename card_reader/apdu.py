"""The JPKI command set shared by the client and the virtual card (docs/rules.md §6, OpenSC ``card-jpki.c``)."""

from __future__ import annotations

JPKI_AID = bytes.fromhex("D392F000260100000001")
SURFACE_AID = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP, card-surface helper
ATR = bytes.fromhex("3BE000FF8131FE4514")

TOKEN_EF = 0x0006
AUTH_CERT_EF = 0x000A
AUTH_CA_EF = 0x000B
AUTH_KEY_EF = 0x0017
AUTH_PIN_EF = 0x0018
SIGN_CERT_EF = 0x0001
SIGN_CA_EF = 0x0002
SIGN_KEY_EF = 0x001A
SIGN_PIN_EF = 0x001B
SURFACE_PIN_EF = 0x0011
SURFACE_ATTRIBUTES_EF = 0x0002

TOKEN_PREFIX = b"JPKIAPICCTOKEN"
TOKEN_LENGTH = 0x20
MAX_LE = 0xFF

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_INCOMPATIBLE_FILE = 0x6981
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_REFERENCE_DATA_UNUSABLE = 0x6984
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_TRIES_LEFT = 0x63C0  # | tries left in the low nibble

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_SIGN = 0x2A

SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def select_aid(aid: bytes) -> bytes:
    return bytes([0x00, INS_SELECT, 0x04, 0x0C, len(aid)]) + aid


def select_ef(fid: int) -> bytes:
    return bytes([0x00, INS_SELECT, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big")


def read_binary(offset: int, length: int) -> bytes:
    return bytes([0x00, INS_READ_BINARY]) + offset.to_bytes(2, "big") + bytes([length])


def verify(pin: bytes = b"") -> bytes:
    """VERIFY on the selected PIN EF; without a PIN it asks for the tries left and uses none."""
    head = bytes([0x00, INS_VERIFY, 0x00, 0x80])
    return head + bytes([len(pin)]) + pin if pin else head


def sign(digest_info: bytes) -> bytes:
    return bytes([0x80, INS_SIGN, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def sha256_digest_info(digest: bytes) -> bytes:
    return SHA256_DIGEST_INFO_PREFIX + digest
