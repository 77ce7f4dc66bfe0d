#!/usr/bin/env python3
"""Checks SMS-SUBMIT PDUs with an independent decoder, python-gsmmodem-new
(pip install python-gsmmodem-new; module gsmmodem.pdu).

Reads lines from stdin, tab separated:
    <pdu_hex> <expected_number> <expected_text> [<tpdu_len> [<ref>:<seq>:<total>]]
The PDU starts with the SMSC field. In the text, backslash escapes \\\\ \\t \\n
\\r \\f stand for the characters. Exits 1, showing the differences, when any
line disagrees.

Where python-gsmmodem disagrees with 3GPP TS 23.038/23.040, the standard
decides; those cases are listed in known_bug() and counted, not failed.
"""

import difflib
import sys

from gsmmodem.pdu import decodeSmsPdu

ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def unescape(s):
    out, chars = [], iter(s)
    for c in chars:
        out.append(ESCAPES[next(chars)] if c == "\\" else c)
    return "".join(out)


def join_surrogates(s):
    # gsmmodem decodes UCS-2 one 16-bit unit at a time, so an emoji comes
    # out as two lone surrogates; rejoin them into the real character.
    return s.encode("utf-16-be", "surrogatepass").decode("utf-16-be")


def user_data_length(pdu):
    """TP-UDL of an SMS-SUBMIT given with its SMSC field."""
    b = bytes.fromhex(pdu)
    i = 1 + b[0]  # SMSC field
    first = b[i]
    i += 2  # first octet, TP-MR
    i += 2 + (b[i] + 1) // 2  # TP-DA
    i += 2  # TP-PID, TP-DCS
    i += {0: 0, 2: 1}.get((first >> 3) & 3, 7)  # TP-VP
    return b[i]


def known_bug(pdu, expected, got):
    """Names the python-gsmmodem bug that explains got != expected, if any."""
    fixes = []
    # GSM 7-bit 0x5F is '§' (TS 23.038 §6.2.1); gsmmodem's table has '`'.
    if "§" in expected:
        fixes.append(("0x5F decoded as '`' instead of '§'", lambda t: t.replace("§", "`")))
    # Extension 0x0A is FORM FEED; gsmmodem's table stores it as an int
    # where the others are str, so ESC 0x0A never matches and is dropped.
    if "\f" in expected:
        fixes.append(("ESC 0x0A (form feed) dropped", lambda t: t.replace("\f", "")))
    # unpackSeptets keeps a final septet that fills the top 7 bits of the
    # last octet (TP-UDL a multiple of 8) only when it is non-zero, so a
    # trailing '@' (0x00) is lost although TP-UDL counts it.
    if expected.endswith("@") and user_data_length(pdu) % 8 == 0:
        fixes.append(("trailing '@' dropped at TP-UDL 8n", lambda t: t[:-1]))
    # The same unpacking reads the CR that fills 7 spare bits of the last
    # octet (TS 23.038 §6.1.2.3.1 padding, which smss sends there instead
    # of zeros so that such decoders show no '@') as a character, although
    # TP-UDL does not count it.
    if user_data_length(pdu) % 8 == 7 and got == expected + "\r":
        fixes.append(("CR padding of 7 spare bits read as a character", lambda t: t + "\r"))
    names = []
    for name, fix in fixes:
        expected = fix(expected)
        names.append(name)
    return " + ".join(names) if names and expected == got else None


def main():
    checked, failures, excused = 0, [], {}
    for lineno, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if not line:
            continue
        fields = line.split("\t")
        pdu, number, text = fields[0], fields[1], unescape(fields[2])
        problems = []
        try:
            result = decodeSmsPdu(pdu)
        except Exception as e:  # the decoder raises several kinds
            failures.append((lineno, pdu, [f"decodeSmsPdu raised {e!r}"]))
            continue
        checked += 1
        if result.get("type") != "SMS-SUBMIT":
            problems.append(f"type {result.get('type')!r}, expected 'SMS-SUBMIT'")
        if result.get("number") != number:
            problems.append(f"number {result.get('number')!r}, expected {number!r}")
        got = join_surrogates(result.get("text", ""))
        if got != text:
            bug = known_bug(pdu, text, got)
            if bug:
                excused[bug] = excused.get(bug, 0) + 1
            else:
                diff = difflib.ndiff([repr(text)], [repr(got)])
                problems.append("text differs (- expected, + decoded):\n" + "\n".join(diff))
        if len(fields) > 3 and fields[3]:
            if result.get("tpdu_length") != int(fields[3]):
                problems.append(f"tpdu_length {result.get('tpdu_length')}, expected {fields[3]}")
        if len(fields) > 4:
            concat = [ie for ie in result.get("udh", []) if ie.id in (0x00, 0x08)]
            got_concat = (
                f"{concat[0].reference}:{concat[0].number}:{concat[0].parts}" if concat else ""
            )
            if got_concat != fields[4]:
                problems.append(f"concatenation {got_concat!r}, expected {fields[4]!r}")
        if problems:
            failures.append((lineno, pdu, problems))

    for lineno, pdu, problems in failures:
        print(f"line {lineno}: {pdu}", file=sys.stderr)
        for p in problems:
            print("  " + p.replace("\n", "\n  "), file=sys.stderr)
    for bug, n in sorted(excused.items()):
        print(f"excused (python-gsmmodem bug): {bug}: {n}")
    print(f"checked {checked} PDUs, {len(failures)} failed")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
