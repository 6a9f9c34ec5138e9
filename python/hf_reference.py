#!/usr/bin/env python3
"""Hugging Face reference outputs for edgeroute's parity tests.

Subcommands
  tokenize   token ids of every input row, one JSON line {"ids": [...]} per row,
             from BertTokenizerFast (the `tokenizers` library), in input order.
  forward    token ids, attention mask, hidden states of every layer, pooler
             output, and logits for a sequence-classification checkpoint
             (`logits`, [B,L]) or a masked-LM checkpoint (`mlm_logits`,
             [B,T,V]) for a list of texts, written to one safetensors file.
  variants   writes tokenizer directories that exercise every normalizer
             setting (cased vocabulary, strip_accents on/off, no CJK split).

Inputs are read exactly as edgeroute reads them: CSV with a header (Python's
csv module), JSON Lines, or plain text lines; bytes that are not UTF-8 are an
error unless --invalid-utf8 replace, which substitutes U+FFFD the way
bytes.decode(errors="replace") does. This script is a test oracle only: the
product never runs Python.
"""
import argparse
import csv
import io
import json
import shutil
import sys
from pathlib import Path

TEXT_COLUMNS = ("text", "transcript", "utterance", "message", "sentence", "query")
# The same names, in the same order, as text::kLabelColumnCandidates.
LABEL_COLUMNS = ("label", "category", "sentiment", "intent", "class")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "lines")


def pick_column(columns, requested, candidates=TEXT_COLUMNS, what="text", source=None):
    where = f"{source}: " if source else ""
    if requested:
        if requested in columns:
            return requested
        for c in columns:
            if c.lower() == requested.lower():
                return c
        raise SystemExit(f"{where}column {requested!r} not in {columns}")
    for cand in candidates:
        for c in columns:
            if c.lower() == cand:
                return c
    raise SystemExit(f"{where}no {what} column among {columns}")


def read_texts(path: Path, fmt: str, column, errors: str):
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "lines":
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [ln[:-1].decode("utf-8", errors) if ln.endswith(b"\r") else ln.decode("utf-8", errors)
                for ln in lines]
    text = raw.decode("utf-8", errors)
    if fmt in ("csv", "tsv"):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="," if fmt == "csv" else "\t")
        col = pick_column(reader.fieldnames or [], column)
        return [row[col] for row in reader]
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    keys = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    col = pick_column(keys, column)
    return [r.get(col) or "" for r in rows]


def load_tokenizer(model_dir):
    from transformers import BertTokenizerFast
    return BertTokenizerFast.from_pretrained(str(model_dir))


def cmd_tokenize(args):
    tok = load_tokenizer(args.model)
    texts = read_texts(args.input, args.format, args.column, "replace" if args.invalid_utf8 == "replace" else "strict")
    max_len = args.max_len or min(tok.model_max_length, 512)
    enc = tok(texts, truncation=True, max_length=max_len, add_special_tokens=True)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    for ids in enc["input_ids"]:
        out.write(json.dumps({"ids": ids}, separators=(",", ":")) + "\n")
    if args.out:
        out.close()
    return 0


def cmd_forward(args):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    tok = load_tokenizer(args.model)
    texts = read_texts(args.input, args.format, args.column, "strict")
    cfg = AutoConfig.from_pretrained(str(args.model))
    archs = cfg.architectures or []
    has_head = any(a.endswith("ForSequenceClassification") for a in archs)
    has_mlm = not has_head and any(a.endswith("ForMaskedLM") for a in archs)
    cls = AutoModelForSequenceClassification if has_head else AutoModelForMaskedLM if has_mlm else AutoModel
    model = cls.from_pretrained(str(args.model), attn_implementation="eager").eval()
    max_len = min(args.max_len or 128, cfg.max_position_embeddings)
    enc = tok(texts, truncation=True, max_length=max_len, padding=True, return_tensors="pt")
    with torch.no_grad():
        res = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True)
    tensors = {"input_ids": enc["input_ids"].to(torch.int64).contiguous(),
               "attention_mask": enc["attention_mask"].to(torch.int64).contiguous()}
    for i, h in enumerate(res.hidden_states):
        tensors[f"hidden_states.{i}"] = h.float().contiguous()
    if has_head:
        tensors["logits"] = res.logits.float().contiguous()
    elif has_mlm:
        tensors["mlm_logits"] = res.logits.float().contiguous()
    elif getattr(res, "pooler_output", None) is not None:
        tensors["pooler_output"] = res.pooler_output.float().contiguous()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.out), metadata={"model": str(args.model), "texts": str(len(texts))})
    return 0


def cmd_variants(args):
    """Tokenizer directories from the model's vocab.txt, one per setting."""
    src = Path(args.model)
    vocab = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    # A cased vocabulary: the uncased one plus capitalised and accented forms,
    # so that case and accents change which pieces match.
    extra = []
    seen = set(vocab)
    for t in vocab[1000:6000]:
        if t.isalpha() and t.islower():
            for v in (t.capitalize(), t.upper(), "##" + t.capitalize()):
                if v not in seen:
                    seen.add(v)
                    extra.append(v)
    for t in ("Café", "café", "naïve", "résumé", "Ångström", "Zürich", "São", "É", "##é", "##É", "ü", "##ü", "ç", "ñ",
              "İ", "i̇", "Σ", "σ", "ς", "Straße", "ß", "ﬁ", "中", "文", "中文", "##文", "Привет", "привет"):
        if t not in seen:
            seen.add(t)
            extra.append(t)
    cased_vocab = vocab + extra
    settings = {
        "uncased_vocab_txt": (vocab, {"do_lower_case": True}),
        "uncased_keep_accents": (vocab, {"do_lower_case": True, "strip_accents": False}),
        "uncased_no_cjk_split": (vocab, {"do_lower_case": True, "tokenize_chinese_chars": False}),
        "cased": (cased_vocab, {"do_lower_case": False}),
        "cased_strip_accents": (cased_vocab, {"do_lower_case": False, "strip_accents": True}),
    }
    out = Path(args.out)
    for name, (voc, cfg) in settings.items():
        d = out / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        (d / "vocab.txt").write_text("\n".join(voc) + "\n", encoding="utf-8")
        full = {"tokenizer_class": "BertTokenizer", "model_max_length": 512, **cfg}
        (d / "tokenizer_config.json").write_text(json.dumps(full, indent=1), encoding="utf-8")
        print(d)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def inputs(p):
        p.add_argument("--model", required=True, type=Path)
        p.add_argument("--input", required=True, type=Path)
        p.add_argument("--column")
        p.add_argument("--format", default="auto", choices=["auto", "csv", "tsv", "jsonl", "lines"])
        p.add_argument("--max-len", type=int, default=0)

    p = sub.add_parser("tokenize")
    inputs(p)
    p.add_argument("--invalid-utf8", default="strict", choices=["strict", "replace"])
    p.add_argument("--out")
    p.set_defaults(fn=cmd_tokenize)
    p = sub.add_parser("forward")
    inputs(p)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(fn=cmd_forward)
    p = sub.add_parser("variants")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(fn=cmd_variants)
    args = ap.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
