"""Validators the recognizers use: checksums (Luhn, IBAN mod-97, Korean RRN/BRN),
IP parsing and Shannon entropy. Pure functions on strings, standard library only."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter

# IBAN length per country (ISO 13616 registry, the countries users meet most).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}


def digits_of(text: str) -> str:
    """The decimal digits of ``text`` in order (separators dropped)."""
    return "".join(c for c in text if c.isdigit())


def luhn_ok(number: str) -> bool:
    """True when the digit string passes the Luhn (mod-10) check."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` Luhn-valid (for generating test data)."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def card_brand_ok(number: str) -> bool:
    """Length and issuer prefix of a payment card (Visa, Mastercard, Amex, Discover, JCB,
    Diners, UnionPay, Korean local BC cards share these ranges)."""
    n = len(number)
    if number[0] == "4":
        return n in (13, 16, 19)
    if number[:2] in ("51", "52", "53", "54", "55") or "2221" <= number[:4] <= "2720":
        return n == 16
    if number[:2] in ("34", "37"):
        return n == 15
    if number[:4] == "6011" or number[:2] == "65" or "644" <= number[:3] <= "649":
        return n in (16, 19)
    if "3528" <= number[:4] <= "3589":
        return n in (16, 19)
    if number[:2] == "36":
        return n == 14
    if number[:2] in ("38", "39") or "300" <= number[:3] <= "305":
        return n in (14, 16)
    if number[:2] == "62":
        return 16 <= n <= 19
    return False


def iban_ok(compact: str) -> bool:
    """ISO 13616: known country length and ``int(rearranged) % 97 == 1``."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    return iban_remainder(compact[4:] + compact[:4]) == 1


def iban_remainder(text: str) -> int:
    """Letters become 10..35, then mod 97 (streamed, so no huge ints)."""
    rem = 0
    for ch in text:
        value = int(ch, 36)
        rem = (rem * (100 if value > 9 else 10) + value) % 97
    return rem


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits of an IBAN (for generating test data)."""
    return f"{98 - iban_remainder(bban + country + '00'):02d}"


_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def rrn_date_ok(rrn: str) -> bool:
    """The first 7 digits of a Korean resident registration number encode a real birth date
    (YYMMDD + a century/sex digit 1–8)."""
    month, day, gender = int(rrn[2:4]), int(rrn[4:6]), rrn[6]
    return gender in "12345678" and 1 <= month <= 12 and 1 <= day <= _days_in(month)


def _days_in(month: int) -> int:
    return 29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31


def rrn_checksum_ok(rrn: str) -> bool:
    """The pre-2020 RRN check digit: ``(11 - Σ wᵢdᵢ mod 11) mod 10``."""
    total = sum(w * int(d) for w, d in zip(_RRN_WEIGHTS, rrn))
    return (11 - total % 11) % 10 == int(rrn[12])


def rrn_check_digit(first12: str) -> str:
    """The check digit for 12 RRN digits (for generating test data)."""
    total = sum(w * int(d) for w, d in zip(_RRN_WEIGHTS, first12))
    return str((11 - total % 11) % 10)


_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def brn_check_digit(first9: str) -> str:
    """The check digit of a Korean business registration number (사업자등록번호)."""
    d = [int(c) for c in first9]
    total = sum(w * x for w, x in zip(_BRN_WEIGHTS, d)) + (d[8] * 5) // 10
    return str((10 - total % 10) % 10)


def brn_ok(number: str) -> bool:
    """10 digits whose last is the BRN check digit."""
    return len(number) == 10 and brn_check_digit(number[:9]) == number[9]


def ip_ok(text: str) -> bool:
    """A parseable IPv4/IPv6 address that names a host (not 0.0.0.0, ::, or loopback)."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_loopback)


def entropy_bits(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())
