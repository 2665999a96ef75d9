import json

from training.tokenizer import SPECIAL_TOKENS, BertTokenizer, build_vocab, clean_text


def make_tok():
    words = ["chest", "x", "-", "ray", "pneumonia", "crohn", "'", "s", "<", "5", "mm", "ct", "cafe", "fibrosis",
             "flow", "##s", "pneum", "##onia", "##thorax", "hepat", "##o", "##megaly", "中", ".", ",", "the"]
    tokens = list(SPECIAL_TOKENS) + words
    return BertTokenizer({t: i for i, t in enumerate(tokens)})


def test_cleaning_subset():
    assert clean_text("Crohn\u2019s \u201cdisease\u201d") == "Crohn's \"disease\""
    assert clean_text("\uff23\uff34\u3000scan\uff01") == "CT scan!"
    assert clean_text("\ufb01brosis \ufb02ow \u01c6") == "fibrosis flow d\u017e"
    assert clean_text("&amp;lt;5 mm &gt; &nbsp;x") == "<5 mm > x"
    assert clean_text("a\x00b\x07c\x9f\u200bd") == "abc\u200bd"  # C0/C1 removed, other format chars kept
    assert clean_text("cafe\u0301") == "caf\u00e9"  # NFC
    assert clean_text("  a \t\n\u2003 b\u00a0 ") == "a b"
    assert clean_text("") == ""


def test_wordpiece_and_normalizer():
    tok = make_tok()
    t = tok.tokens(tok.encode("Chest X-ray: PNEUMONIA, Crohn\u2019s &lt;5mm Caf\u00e9"))
    # ":" is not in the vocabulary; "5mm" has no "##mm" piece, so the whole word is [UNK]
    assert t == ["[CLS]", "chest", "x", "-", "ray", "[UNK]", "pneumonia", ",", "crohn", "'", "s", "<", "[UNK]",
                 "cafe", "[SEP]"]


def test_subword_split_unk_and_cjk():
    tok = make_tok()
    assert tok.tokens(tok.encode("pneumothorax hepatomegaly"))[1:-1] == ["pneum", "##o", "##thorax", "hepat", "##o",
                                                                            "##megaly"]
    assert tok.tokens(tok.encode("pneumoniax"))[1:-1] == ["[UNK]"]  # one failing piece -> the whole word is UNK
    assert tok.tokens(tok.encode("x" * 101))[1:-1] == ["[UNK]"]  # over max_input_chars_per_word
    assert tok.tokens(tok.encode("中中"))[1:-1] == ["中", "中"]  # CJK characters are words
    assert tok.tokens(tok.encode("the [MASK] chest"))[1:-1] == ["the", "[MASK]", "chest"]
    assert tok.encode("") == [tok.cls_id, tok.sep_id]


def test_truncation_keeps_cls_first_254_and_sep():
    tok = make_tok()
    ids = tok.encode(" ".join(["chest", "ray"] * 200))
    assert len(ids) == 256 and ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert ids[1:-1] == [tok.vocab["chest"], tok.vocab["ray"]] * 127
    assert len(tok.encode("chest " * 254)) == 256 and len(tok.encode("chest " * 253)) == 255


def test_batch_padding():
    tok = make_tok()
    ids, mask = tok.batch(["chest", "chest x-ray"])
    assert ids[0] == [2, 5, 3, 0, 0, 0] and mask[0] == [1, 1, 1, 0, 0, 0] and mask[1] == [1] * 6


def test_tokenizer_json_format(tmp_path):
    tok = BertTokenizer({t: i for i, t in enumerate(build_vocab(["a chest x-ray"]))})
    tok.write(str(tmp_path))
    tj = json.loads((tmp_path / "tokenizer.json").read_text())
    assert tj["normalizer"] == {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                "strip_accents": True, "lowercase": True}
    assert tj["pre_tokenizer"]["type"] == "BertPreTokenizer"
    assert tj["model"]["type"] == "WordPiece" and tj["model"]["max_input_chars_per_word"] == 100
    assert tj["model"]["vocab"]["[CLS]"] == 2 and tj["truncation"]["max_length"] == 256
    assert [a["content"] for a in tj["added_tokens"]] == SPECIAL_TOKENS
    assert tj["post_processor"]["special_tokens"]["[SEP]"]["ids"] == [3]
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["do_lower_case"] is True and cfg["model_max_length"] == 256


def test_build_vocab_covers_any_ascii_word():
    tok = BertTokenizer({t: i for i, t in enumerate(build_vocab(["a chest x-ray"]))})
    assert tok.unk_id not in tok.encode("Zygomatic arch fracture 12mm?")
