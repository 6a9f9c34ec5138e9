#!/usr/bin/env python3
"""Generate src/text/unicode_tables.inc: the character classes of Hugging Face's
BERT normalizer and pre-tokenizer, probed from the `tokenizers` library itself.

Why probe instead of reading the Unicode database: `tokenizers` mixes Unicode
versions. Its "control", "punctuation" and "non-spacing mark" tests come from a
Rust crate with old category tables, while lowercasing comes from the Rust
standard library (a newer Unicode than Debian's utf8proc) and NFD from a third
crate. Token ids must match Hugging Face exactly, so the C++ tokenizer uses
utf8proc for NFD and lowercasing plus these probed tables, and the few code
points where utf8proc's answer differs from Hugging Face's are listed as
overrides. tests/text/unicode_parity_test re-probes every code point at test
time, so a change in either library is caught.

Usage: python/gen_unicode_tables.py [--out src/text/unicode_tables.inc]
       python/gen_unicode_tables.py --dump FILE   (the test fixture: every code
       point that tokenizers does not leave alone, with what it does to it)
"""
import argparse
import ctypes
import ctypes.util
import sys
from pathlib import Path

import tokenizers
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer

UTF8PROC_DECOMPOSE = 1 << 4
MAX_CP = 0x110000


def load_utf8proc():
    name = ctypes.util.find_library("utf8proc") or "libutf8proc.so.2"
    lib = ctypes.CDLL(name)
    lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
    lib.utf8proc_tolower.restype = ctypes.c_int32
    lib.utf8proc_decompose_char.argtypes = [
        ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t,
        ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    return lib


def codepoints():
    return (c for c in range(MAX_CP) if not 0xD800 <= c <= 0xDFFF)


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def probe():
    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False,
                           strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False,
                           strip_accents=True, lowercase=False)
    lower = BertNormalizer(clean_text=False, handle_chinese_chars=False,
                           strip_accents=False, lowercase=True)
    pre = BertPreTokenizer()
    removed, whitespace, punct, stripped, lowered = set(), set(), set(), {}, {}
    for c in codepoints():
        ch = chr(c)
        r = clean.normalize_str(ch)
        if r == "":
            removed.add(c)
        elif r == " " and c != 0x20:
            whitespace.add(c)
        words = [w for w, _ in pre.pre_tokenize_str("a" + ch + "a")]
        if words == ["a", ch, "a"]:
            punct.add(c)
        stripped[c] = strip.normalize_str(ch)
        lowered[c] = lower.normalize_str(ch)
    return removed, whitespace, punct, stripped, lowered


def dump(path, removed, whitespace, punct, stripped, lowered) -> int:
    """One line per code point that is not left alone by every step:
    `cp flags strip lower`, hex; flags: 1 removed, 2 whitespace, 4 punctuation;
    strip/lower are the code points of the result joined by '.', '-' if empty."""
    def seq(s):
        return ".".join(f"{ord(x):X}" for x in s) or "-"
    n = 0
    with open(path, "w", encoding="ascii") as f:
        f.write(f"# tokenizers {tokenizers.__version__}\n")
        for c in codepoints():
            flags = (c in removed) | ((c in whitespace or c == 0x20) << 1) | ((c in punct) << 2)
            ch = chr(c)
            if flags or stripped[c] != ch or lowered[c] != ch:
                f.write(f"{c:X} {flags} {seq(stripped[c])} {seq(lowered[c])}\n")
                n += 1
    print(f"{path}: {n} code points")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent.parent / "src/text/unicode_tables.inc")
    ap.add_argument("--dump", type=Path, help="write the per-code-point test fixture instead")
    args = ap.parse_args()
    removed, whitespace, punct, stripped, lowered = probe()
    if args.dump:
        return dump(args.dump, removed, whitespace, punct, stripped, lowered)
    lib = load_utf8proc()

    # Non-spacing marks as tokenizers sees them: characters that strip_accents
    # deletes outright (a mark is its own NFD).
    marks = {c for c, s in stripped.items() if s == ""}

    buf = (ctypes.c_int32 * 32)()
    bound = ctypes.c_int(0)

    def u_nfd(c):
        n = lib.utf8proc_decompose_char(c, buf, 32, UTF8PROC_DECOMPOSE, ctypes.byref(bound))
        if n < 0:
            return [c]
        return [buf[i] for i in range(n)]

    decomp_overrides = {}
    for c, s in stripped.items():
        ours = "".join(chr(x) for x in u_nfd(c) if x not in marks)
        if ours != s:
            decomp_overrides[c] = [ord(x) for x in s]
    lower_overrides = {}
    for c, s in lowered.items():
        if [ord(x) for x in s] != [lib.utf8proc_tolower(c)]:
            lower_overrides[c] = [ord(x) for x in s]

    def emit_ranges(name, cps, doc):
        rs = ranges(cps)
        lines = [f"// {doc}", f"inline constexpr CodepointRange {name}[] = {{"]
        row = []
        for a, b in rs:
            row.append(f"{{0x{a:X}, 0x{b:X}}}")
            if len(row) == 6:
                lines.append("    " + ", ".join(row) + ",")
                row = []
        if row:
            lines.append("    " + ", ".join(row) + ",")
        lines.append("};")
        return "\n".join(lines)

    def emit_map(name, mapping, doc):
        width = max([len(v) for v in mapping.values()] + [1])
        if width > 3:
            raise SystemExit(f"{name}: a mapping of {width} code points does not fit CodepointMapping")
        lines = [f"// {doc}", f"inline constexpr CodepointMapping {name}[] = {{"]
        for c in sorted(mapping):
            v = mapping[c] + [0] * (3 - len(mapping[c]))
            lines.append(f"    {{0x{c:X}, {len(mapping[c])}, {{0x{v[0]:X}, 0x{v[1]:X}, 0x{v[2]:X}}}}},")
        lines.append("};")
        return "\n".join(lines)

    uver = lib.utf8proc_unicode_version().decode()
    parts = [
        "// Generated by python/gen_unicode_tables.py; do not edit by hand.",
        f"// Probed from Hugging Face tokenizers {tokenizers.__version__}; utf8proc Unicode {uver}.",
        "// Included by src/text/normalizer.cc only.",
        "",
        emit_ranges("kBertRemovedRanges", removed,
                    "Code points BertNormalizer(clean_text) deletes: NUL, U+FFFD and 'other' categories except \\t\\n\\r."),
        "",
        emit_ranges("kBertWhitespaceRanges", whitespace | {0x20},
                    "Code points BertNormalizer(clean_text) turns into a space; the pre-tokenizer splits on the same set."),
        "",
        emit_ranges("kBertPunctuationRanges", punct,
                    "Code points BertPreTokenizer isolates as punctuation (ASCII punctuation and the P* categories of its tables)."),
        "",
        emit_ranges("kBertNonspacingMarkRanges", marks,
                    "Code points strip_accents deletes after NFD (the Mn category of tokenizers' tables)."),
        "",
        emit_map("kStripAccentsOverrides", decomp_overrides,
                 "Code points whose NFD + mark removal differs between utf8proc and tokenizers: tokenizers' result."),
        "",
        emit_map("kLowercaseOverrides", lower_overrides,
                 "Code points whose lowercase differs between utf8proc_tolower and Rust's char::to_lowercase: Rust's result."),
        "",
    ]
    args.out.write_text("\n".join(parts))
    print(f"{args.out}: removed {len(removed)} cps, whitespace {len(whitespace) + 1}, punctuation {len(punct)}, "
          f"marks {len(marks)}, strip overrides {len(decomp_overrides)}, lowercase overrides {len(lower_overrides)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
