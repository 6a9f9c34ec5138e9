#!/usr/bin/env python3
"""Small Hugging Face checkpoints for parity tests, generated with a fixed seed.

  tiny-bert         BertForSequenceClassification, 2 layers, hidden 32, 3 labels
  tiny-bert-mlm     BertForMaskedLM, same encoder size
  tiny-distilbert   DistilBertForSequenceClassification, 2 layers, dim 32, 3 labels
  tiny-distilbert-mlm  DistilBertForMaskedLM
  minilm-cls        the real all-MiniLM-L6-v2 encoder with a seeded random
                    classification head of 5 labels (parity and speed work
                    before a trained checkpoint exists)

Tiny models use the first 2000 entries of the MiniLM vocabulary (special
tokens, single characters and their ## forms), so any text tokenizes. Every
directory is a plain Hugging Face directory: config.json, model.safetensors,
vocab.txt, tokenizer_config.json.

Usage: python/make_tiny_models.py --minilm models/all-MiniLM-L6-v2 --out DIR [--only NAME ...]
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

LABELS = ["billing", "complaint", "other"]


def write_tokenizer(src: Path, dst: Path, vocab_size: int | None, max_len: int) -> None:
    lines = (src / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if vocab_size:
        lines = lines[:vocab_size]
    (dst / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "BertTokenizer"
    cfg["model_max_length"] = max_len
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")


def label_kwargs(labels):
    return {"id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minilm", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    if not (args.minilm / "vocab.txt").exists():
        print(f"SKIP: {args.minilm} is absent (run scripts/setup.sh)")
        return 77

    import torch
    from transformers import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel,
                              DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification)

    vocab = 2000
    bert_cfg = dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    distil_cfg = dict(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)

    def tiny_bert():
        return BertForSequenceClassification(BertConfig(**bert_cfg, **label_kwargs(LABELS)))

    def tiny_bert_mlm():
        return BertForMaskedLM(BertConfig(**bert_cfg))

    def tiny_distil():
        return DistilBertForSequenceClassification(DistilBertConfig(**distil_cfg, **label_kwargs(LABELS)))

    def tiny_distil_mlm():
        return DistilBertForMaskedLM(DistilBertConfig(**distil_cfg))

    def minilm_cls():
        labels = ["card_payment", "refund", "transfer", "complaint", "other"]
        enc = BertModel.from_pretrained(str(args.minilm))
        cfg = BertConfig.from_pretrained(str(args.minilm), **label_kwargs(labels))
        cfg.architectures = ["BertForSequenceClassification"]
        model = BertForSequenceClassification(cfg)
        model.bert.load_state_dict(enc.state_dict(), strict=False)
        return model

    builders = {"tiny-bert": (tiny_bert, vocab), "tiny-bert-mlm": (tiny_bert_mlm, vocab),
                "tiny-distilbert": (tiny_distil, vocab), "tiny-distilbert-mlm": (tiny_distil_mlm, vocab),
                "minilm-cls": (minilm_cls, None)}
    for name, (build, vsize) in builders.items():
        if args.only and name not in args.only:
            continue
        torch.manual_seed(1234)
        model = build().eval()
        d = args.out / name
        shutil.rmtree(d, ignore_errors=True)
        model.save_pretrained(str(d), safe_serialization=True)
        write_tokenizer(args.minilm, d, vsize, model.config.max_position_embeddings)
        print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
