"""Money: integer minor units and ISO 4217 currencies. Never floats.

``CURRENCY_EXPONENTS`` maps each active ISO 4217 code to its number of minor-unit digits;
amounts are validated and rendered with it (₹500.00 is 50000 INR minor units).
"""

from __future__ import annotations

_TWO_DIGIT = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD
MDL MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR
PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG
"""
_ZERO_DIGIT = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DIGIT = "BHD IQD JOD KWD LYD OMR TND"

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DIGIT.split(), 2),
    **dict.fromkeys(_ZERO_DIGIT.split(), 0),
    **dict.fromkeys(_THREE_DIGIT.split(), 3),
    "CLF": 4,
    "UYW": 4,
}

DEFAULT_CURRENCY = "INR"
CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCY_EXPONENTS


def format_amount(amount: int, currency: str) -> str:
    """Render minor units for people: 50000 INR -> '₹500.00' (display only)."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exponent) if exponent else (abs(amount), 0)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    text = f"{whole:,}" if currency != "INR" else _indian_grouping(whole)
    if exponent:
        text += f".{frac:0{exponent}d}"
    return f"{sign}{symbol}{text}"


def _indian_grouping(value: int) -> str:
    """12345678 -> '1,23,45,678' (lakh/crore grouping used for INR)."""
    digits = str(value)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail
