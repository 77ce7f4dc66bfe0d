#!/usr/bin/env python3
"""National language tables (TS 23.038 §6.2.1.2.4/5) against an independent
encoder and decoder: PyPI gsmcodecs (pip install gsmcodecs), which carries
the tables of TS 23.038 V18.

  national_crosscheck.py make    prints SMS-DELIVER PDUs, one a line:
                                 <pdu_hex> TAB <locking id> TAB <single id> TAB <text>
                                 for random texts of every table pair, the
                                 septets from gsmcodecs, packed and headed here
  national_crosscheck.py check   reads <pdu_hex> TAB <text> lines (SMS-SUBMIT
                                 PDUs, SMSC field first), decodes each with the
                                 tables its header names; exits 1 on any
                                 difference

Texts are escaped: \\\\ \\n \\r \\f. Three positions where gsmcodecs' copy
of the tables differs from the one smss uses (see src/gsm/national.rs) are
left out of the generated texts: 0x2C of the Indian locking tables, 0x24 of
the Kannada locking table, 0x65 of the Telugu single shift table.
"""

import random
import sys

import gsmcodecs  # noqa: F401  (registers the codecs)
from gsmcodecs.charmaps import GSMCHARMAPS

ESC = 0x1B
DISPUTED = {("locking", lang, 0x2C) for lang in range(4, 14)} | {
    ("locking", 7, 0x24),
    ("singleShift", 12, 0x65),
}


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\f", "\\f")


def unescape(s):
    out, it = [], iter(s)
    for c in it:
        out.append({"\\": "\\", "n": "\n", "r": "\r", "f": "\f"}[next(it)] if c == "\\" else c)
    return "".join(out)


def pack(septets, fill):
    out, acc, bits = [], 0, fill
    for s in septets:
        acc |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack(data, fill, count):
    acc = int.from_bytes(data, "little")
    return [(acc >> (fill + 7 * i)) & 0x7F for i in range(count)]


def chars(lock, single):
    """The characters a table pair writes, as (char, septets)."""
    out = {}
    locking = GSMCHARMAPS[lock]["locking"]["decode"] if lock else GSMCHARMAPS[0]["locking"]["decode"]
    for s, cp in GSMCHARMAPS[single]["singleShift"]["decode"].items():
        if s != ESC and ("singleShift", single, s) not in DISPUTED:
            out.setdefault(chr(cp), [ESC, s])
    for s, cp in locking.items():
        if s != ESC and ("locking", lock, s) not in DISPUTED:
            out[chr(cp)] = [s]
    return out


def disputed(septets, lock, single):
    if len(septets) == 2:
        return ("singleShift", single, septets[1]) in DISPUTED
    return ("locking", lock, septets[0]) in DISPUTED


def make():
    rng = random.Random(16)
    locks = [0] + [l for l in range(1, 14) if "locking" in GSMCHARMAPS[l]]
    for lock in locks:
        for single in range(14):
            codec = "gsm23.038-%d-%d" % (lock, single)
            # Only characters the codec writes at an undisputed position.
            table = [c for c in chars(lock, single) if not disputed(c.encode(codec), lock, single)]
            for _ in range(6):
                text = "".join(rng.choice(sorted(table)) for _ in range(rng.randrange(1, 120)))
                text = text.rstrip("\r") or "x"
                septets = list(text.encode(codec))
                ies = b""
                if lock:
                    ies += bytes([0x25, 1, lock])
                if single:
                    ies += bytes([0x24, 1, single])
                udh = bytes([len(ies)]) + ies if ies else b""
                fill = (7 - len(udh) * 8 % 7) % 7
                udl = (len(udh) * 8 + fill) // 7 + len(septets)
                if udl > 160:
                    continue
                first = 0x44 if udh else 0x04
                tpdu = bytes([first]) + bytes.fromhex("0C91246080337762" "0000" "62110301020340")
                tpdu += bytes([udl]) + udh + pack(septets, fill)
                print("00" + tpdu.hex().upper(), lock, single, escape(text), sep="\t")


def check():
    checked, failed = 0, 0
    for line in sys.stdin:
        pdu, text = line.rstrip("\n").split("\t")
        text = unescape(text)
        b = bytes.fromhex(pdu)
        i = 1 + b[0]
        first = b[i]
        i += 2
        i += 2 + (b[i] + 1) // 2
        i += 2
        i += {0: 0, 2: 1}.get((first >> 3) & 3, 7)
        udl, ud = b[i], b[i + 1:]
        lock = single = 0
        hs = 0
        if first & 0x40:
            udhl = ud[0]
            j = 1
            while j < 1 + udhl:
                iei, n = ud[j], ud[j + 1]
                if iei == 0x25:
                    lock = ud[j + 2]
                elif iei == 0x24:
                    single = ud[j + 2]
                j += 2 + n
            hs = ((1 + udhl) * 8 + 6) // 7
        septets = unpack(ud, 0, udl)[hs:]
        got = bytes(septets).decode("gsm23.038-%d-%d" % (lock, single))
        checked += 1
        if got != text:
            failed += 1
            print(f"{pdu}: {got!r}, expected {text!r}", file=sys.stderr)
    print(f"checked {checked} PDUs, {failed} failed")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(make() if sys.argv[1:] == ["make"] else check())
