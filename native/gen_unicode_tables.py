#!/usr/bin/env python3
"""Generate native/src/unicode_tables.h (character properties of the BERT pipeline).

Run at build time (by native/build_ffi.py and native/Makefile); the output is
gitignored.  Usage: gen_unicode_tables.py OUT_HEADER

Base data: Python's ``unicodedata`` (whatever Unicode version this Python
ships), through the rules Hugging Face ``tokenizers`` applies:

  remove   clean_text drops U+0000, U+FFFD and "other" chars: Cc (except
           \\t \\n \\r), Cf, Co (unassigned Cn code points are KEPT by HF)
  space    clean_text maps White_Space (+ \\t \\n \\r) to ' '
  ws       BertPreTokenizer splits on Rust char::is_whitespace = White_Space
           (Python's str.isspace() minus U+001C..U+001F, which Python counts
           as bidi separators but White_Space does not list)
  punct    ASCII 33-47, 58-64, 91-96, 123-126 and general category P*
  cjk      the fixed code point ranges of BertNormalizer::is_chinese_char
  mn       general category Mn (removed after NFD when strip_accents)
  nfd      full canonical decomposition (Hangul is done algorithmically in C)
  ccc      canonical combining class (for canonical reordering; HF's alignments
           stay positional when marks are reordered)
  lower    per-character full lowercase mapping (Rust char::to_lowercase, no
           Final_Sigma context), e.g. U+0130 -> "i" U+0307

HF's Rust crates carry their own (different) Unicode versions.  The measured
differences live in native/hf_unicode_delta.json, written by
native/survey_hf_unicode.py from an exhaustive run of every code point
through ``tokenizers``; they are applied on top of the base data here.
"""
from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DELTA = HERE / "hf_unicode_delta.json"

F_REMOVE, F_SPACE, F_WS, F_PUNCT, F_CJK, F_MN = 1, 2, 4, 8, 16, 32
CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
ASCII_PUNCT = set(range(33, 48)) | set(range(58, 65)) | set(range(91, 97)) | set(range(123, 127))
MAX_CP = 0x110000


def is_white_space(c: int) -> bool:
    return chr(c).isspace() and not 0x1C <= c <= 0x1F


def base_remove(c: int) -> bool:
    if c in (9, 10, 13):
        return False
    return c in (0, 0xFFFD) or unicodedata.category(chr(c)) in ("Cc", "Cf", "Co")


def base_punct(c: int) -> bool:
    return c in ASCII_PUNCT or unicodedata.category(chr(c)).startswith("P")


def base_mn(c: int) -> bool:
    return unicodedata.category(chr(c)) == "Mn"


def is_hangul_syllable(c: int) -> bool:
    return 0xAC00 <= c < 0xAC00 + 11172


def base_nfd(c: int) -> list[int]:
    if is_hangul_syllable(c) or 0xD800 <= c <= 0xDFFF:
        return [c]
    return [ord(x) for x in unicodedata.normalize("NFD", chr(c))]


def base_lower(c: int) -> list[int]:
    if 0xD800 <= c <= 0xDFFF:
        return [c]
    return [ord(x) for x in chr(c).lower()]


def load_delta() -> dict:
    if not DELTA.is_file():
        raise SystemExit(f"missing {DELTA}: run native/survey_hf_unicode.py")
    delta = json.loads(DELTA.read_text())
    if delta.get("unidata_version") != unicodedata.unidata_version:
        raise SystemExit(
            f"{DELTA.name} was measured against unicodedata {delta.get('unidata_version')} but this Python "
            f"({sys.version.split()[0]}) has {unicodedata.unidata_version}: generate the tables with the project "
            "venv's Python (3.10), or rerun native/survey_hf_unicode.py with this Python")
    return delta


def compute(delta: dict):
    def cps(key):
        return {int(x, 16) for x in delta.get(key, [])}

    def seqs(key):
        return {int(k, 16): [int(x, 16) for x in v] for k, v in delta.get(key, {}).items()}

    remove_add, remove_del = cps("remove_add"), cps("remove_del")
    punct_add, punct_del = cps("punct_add"), cps("punct_del")
    mn_add, mn_del = cps("mn_add"), cps("mn_del")
    ccc_zero = cps("ccc_zero")
    nfd_over, lower_over = seqs("nfd_override"), seqs("lower_override")
    cjk = set()
    for a, b in CJK_RANGES:
        cjk.update(range(a, b + 1))
    props = []
    for c in range(MAX_CP):
        f = 0
        ws = is_white_space(c)
        if (base_remove(c) or c in remove_add) and c not in remove_del:
            f |= F_REMOVE
        if ws or c in (9, 10, 13):
            f |= F_SPACE
        if ws:
            f |= F_WS
        if (base_punct(c) or c in punct_add) and c not in punct_del:
            f |= F_PUNCT
        if c in cjk:
            f |= F_CJK
        if (base_mn(c) or c in mn_add) and c not in mn_del:
            f |= F_MN
        nfd = nfd_over.get(c) or base_nfd(c)
        # pretokenize.c (general path) sizes its buffer as 4 normalized chars per input byte (incl. the CJK spaces)
        assert len(nfd) + (2 if c in cjk else 0) <= 4 * len(chr(c).encode("utf-8", "surrogatepass")), hex(c)
        low = lower_over.get(c) or base_lower(c)
        ccc = unicodedata.combining(chr(c)) if not (0xD800 <= c <= 0xDFFF or c in ccc_zero) else 0
        props.append((f, ccc, tuple(low) if low != [c] else (), tuple(nfd) if nfd != [c] else ()))
    return props


def emit(props, out: Path) -> None:
    pool: list[int] = []
    pool_index: dict[tuple, int] = {}

    def intern(seq):
        if not seq:
            return 0
        if seq not in pool_index:
            pool_index[seq] = len(pool)
            pool.extend(seq)
        return pool_index[seq]

    records: list[tuple] = []
    rec_index: dict[tuple, int] = {}
    per_cp = []
    for f, ccc, low, nfd in props:
        rec = (f, ccc, len(low), len(nfd), intern(low), intern(nfd))
        if rec not in rec_index:
            rec_index[rec] = len(records)
            records.append(rec)
        per_cp.append(rec_index[rec])
    assert len(records) < 65536 and len(pool) < 65536
    blocks: list[tuple] = []
    block_index: dict[tuple, int] = {}
    stage1 = []
    for b in range(0, MAX_CP, 256):
        blk = tuple(per_cp[b:b + 256])
        if blk not in block_index:
            block_index[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(block_index[blk])
    lines = [
        "/* GENERATED by native/gen_unicode_tables.py from Python unicodedata "
        f"{unicodedata.unidata_version} + native/hf_unicode_delta.json. Do not edit. */",
        "#ifndef EDGETEXT_UNICODE_TABLES_H", "#define EDGETEXT_UNICODE_TABLES_H", "#include <stdint.h>",
        f"#define ET_UNICODE_VERSION \"{unicodedata.unidata_version}\"",
        f"#define ET_UF_REMOVE {F_REMOVE}", f"#define ET_UF_SPACE {F_SPACE}", f"#define ET_UF_WS {F_WS}",
        f"#define ET_UF_PUNCT {F_PUNCT}", f"#define ET_UF_CJK {F_CJK}", f"#define ET_UF_MN {F_MN}",
        "typedef struct { uint8_t flags, ccc, lower_len, nfd_len; uint16_t lower_off, nfd_off; } et_uprop;",
    ]

    def arr(decl, values, per_line=16):
        lines.append(decl + " = {")
        for i in range(0, len(values), per_line):
            lines.append("  " + ",".join(str(v) for v in values[i:i + per_line]) + ",")
        lines.append("};")

    arr(f"static const uint16_t et_ustage1[{len(stage1)}]", stage1)
    arr(f"static const uint16_t et_ustage2[{len(blocks) * 256}]", [x for blk in blocks for x in blk], 32)
    lines.append(f"static const et_uprop et_uprops[{len(records)}] = {{")
    for r in records:
        lines.append("  {%d,%d,%d,%d,%d,%d}," % r)
    lines.append("};")
    arr(f"static const uint32_t et_useq[{max(1, len(pool))}]", pool or [0], 12)
    lines += [
        "static inline const et_uprop *et_uprop_of(uint32_t c) {",
        "  return &et_uprops[et_ustage2[(uint32_t)et_ustage1[c >> 8] * 256u + (c & 255u)]];",
        "}",
        "#endif",
    ]
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else HERE / "src" / "unicode_tables.h"
    emit(compute(load_delta()), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
