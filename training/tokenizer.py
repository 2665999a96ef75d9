"""Text cleaning ``unimed-clean-v1`` and a BERT uncased WordPiece tokenizer.

The tokenizer reproduces Hugging Face ``tokenizers`` with BertNormalizer(clean_text, handle_chinese_chars,
strip_accents, lowercase) + BertPreTokenizer + WordPiece(max_input_chars_per_word=100) + ``[CLS] $A [SEP]``,
including the extraction of special tokens written literally in the text (``[MASK]``), and truncation to
``context_length`` ids keeping ``[CLS]``, the first ``context_length - 2`` pieces and ``[SEP]``.
``write_tokenizer_json`` writes the same tokenizer in the Hugging Face ``tokenizer.json`` format.
"""

import html
import json
import re
import unicodedata

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CONTEXT_LENGTH = 256
CLEANING = "unimed-clean-v1"

# ----------------------------------------------------------------------------------------------- cleaning
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_QUOTES = {0x2018: "'", 0x2019: "'", 0x201A: "'", 0x201B: "'", 0x02BC: "'",
           0x201C: '"', 0x201D: '"', 0x201E: '"', 0x201F: '"'}
_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_WIDTH[0x3000] = " "
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "\u017ft",
              "\ufb06": "st", "\u0132": "IJ", "\u0133": "ij", "\u01c7": "LJ", "\u01c8": "Lj", "\u01c9": "lj",
              "\u01ca": "NJ", "\u01cb": "Nj", "\u01cc": "nj", "\u01f1": "DZ", "\u01f2": "Dz", "\u01f3": "dz",
              "\u01c4": "D\u017d", "\u01c5": "D\u017e", "\u01c6": "d\u017e"}
_TABLE = {**_QUOTES, **_WIDTH, **{ord(k): v for k, v in _LIGATURES.items()}}
# whitespace for step 7: exactly the characters Python's str.isspace() accepts (= re's \s on str)
WHITESPACE_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WS_RE = re.compile("[" + WHITESPACE_CHARS + "]+")


def clean_text(text):
    """unimed-clean-v1 (models/README.md): the fixed, portable subset of the reference's ftfy cleaning."""
    text = _CONTROL_RE.sub("", text)  # 1. control characters and lone surrogates
    text = text.translate(_TABLE)  # 2.-4. quotes, fullwidth forms, ligatures
    text = unicodedata.normalize("NFC", text)  # 5.
    text = html.unescape(html.unescape(text))  # 6.
    return _WS_RE.sub(" ", text).strip(WHITESPACE_CHARS)  # 7.


# ----------------------------------------------------------------------------------------------- BERT normalizer
# char::is_whitespace in Rust (Unicode White_Space)
_RUST_WHITESPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                       "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _is_control(c):  # tokenizers: '\t' '\n' '\r' are not control; otherwise Unicode category C*
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")


def _is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B920 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(c):  # tokenizers' is_bert_punc: ASCII punctuation or Unicode P*
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def bert_normalize(text):
    out = []
    for c in text:  # clean_text
        if c == "\x00" or c == "\ufffd" or _is_control(c):
            continue
        out.append(" " if c in _RUST_WHITESPACE else c)
    out2 = []
    for c in out:  # handle_chinese_chars
        if _is_chinese(ord(c)):
            out2.extend((" ", c, " "))
        else:
            out2.append(c)
    text = "".join(out2)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")  # strip accents
    return text.lower()


def bert_pre_tokenize(text):
    words, cur = [], []
    for c in text:
        if c in _RUST_WHITESPACE:
            if cur:
                words.append("".join(cur))
                cur = []
        elif _is_punctuation(c):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(c)
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


# ----------------------------------------------------------------------------------------------- vocab / wordpiece
def load_vocab(path):
    vocab = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            tok = line.rstrip("\n")
            if tok.endswith("\r"):
                tok = tok[:-1]
            vocab.setdefault(tok, i)
    return vocab


def save_vocab(tokens, path):
    with open(path, "w", encoding="utf-8") as f:
        for t in tokens:
            f.write(t + "\n")


class BertTokenizer:
    def __init__(self, vocab, context_length=CONTEXT_LENGTH, max_input_chars_per_word=100):
        if isinstance(vocab, str):
            vocab = load_vocab(vocab)
        self.vocab = dict(vocab)
        for t in SPECIAL_TOKENS:
            if t not in self.vocab:
                raise ValueError(f"vocab lacks special token {t}")
        self.inv = {i: t for t, i in self.vocab.items()}
        self.context_length = context_length
        self.max_chars = max_input_chars_per_word
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    def wordpiece(self, word):
        if len(word) > self.max_chars:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def tokenize_ids(self, text):
        """Word-piece ids of an already cleaned text, without [CLS]/[SEP] and without truncation."""
        ids = []
        for i, part in enumerate(self._special_re.split(text)):
            if i % 2 == 1:  # a special token written literally: matched before normalization, as tokenizers does
                ids.append(self.vocab[part])
                continue
            for word in bert_pre_tokenize(bert_normalize(part)):
                ids.extend(self.wordpiece(word))
        return ids

    def encode(self, text, clean=True):
        """Raw text -> [CLS] ids [SEP], truncated to context_length (no padding)."""
        if clean:
            text = clean_text(text)
        ids = self.tokenize_ids(text)[: self.context_length - 2]
        return [self.cls_id] + ids + [self.sep_id]

    def tokens(self, ids):
        return [self.inv[i] for i in ids]

    def batch(self, texts, pad_to=None):
        """-> (input_ids, attention_mask) as lists of lists, padded to the longest (or pad_to)."""
        encs = [self.encode(t) for t in texts]
        n = pad_to or max(len(e) for e in encs)
        ids = [e + [self.pad_id] * (n - len(e)) for e in encs]
        mask = [[1] * len(e) + [0] * (n - len(e)) for e in encs]
        return ids, mask

    def batch_tensors(self, texts, pad_to=None):
        import torch

        ids, mask = self.batch(texts, pad_to)
        return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)

    # --------------------------------------------------------------------------------------- HF files
    def tokenizer_json(self):
        tok_by_id = sorted(self.vocab.items(), key=lambda kv: kv[1])
        added = [{"id": self.vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for t in SPECIAL_TOKENS]
        added.sort(key=lambda a: a["id"])
        cls, sep = "[CLS]", "[SEP]"
        return {
            "version": "1.0",
            "truncation": {"direction": "Right", "max_length": self.context_length, "strategy": "LongestFirst",
                           "stride": 0},
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": True, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": sep, "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": sep, "type_id": 1}}],
                "special_tokens": {
                    cls: {"id": cls, "ids": [self.cls_id], "tokens": [cls]},
                    sep: {"id": sep, "ids": [self.sep_id], "tokens": [sep]},
                },
            },
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": self.max_chars, "vocab": {t: i for t, i in tok_by_id}},
        }

    def tokenizer_config(self):
        return {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": True,
            "strip_accents": None,
            "tokenize_chinese_chars": True,
            "model_max_length": self.context_length,
            "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
            "mask_token": "[MASK]",
            "cleaning": CLEANING,
        }

    def write(self, out_dir):
        import os

        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(self.tokenizer_config(), f, ensure_ascii=False, indent=2)
            f.write("\n")


# ----------------------------------------------------------------------------------------------- synthetic vocab
def build_vocab(texts, extra_chars="", max_words=None):
    """A small WordPiece vocabulary: specials, every single character (and its ## form) seen in ``texts`` plus
    ASCII printable, then whole words from ``texts`` by frequency; ``max_words`` caps the word entries."""
    from collections import Counter

    words = Counter()
    chars = set(chr(c) for c in range(33, 127) if not chr(c).isupper()) | set(extra_chars)
    for t in texts:
        for w in bert_pre_tokenize(bert_normalize(clean_text(t))):
            words[w] += 1
            chars.update(w)
    chars = sorted(chars)
    tokens = list(SPECIAL_TOKENS) + chars + ["##" + c for c in chars if not _is_punctuation(c)]
    seen = set(tokens)
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[: max_words]:
        if w not in seen:
            tokens.append(w)
            seen.add(w)
    return tokens
