import hashlib
import json
import os
import shutil

import onnx
import pytest
import torch
from PIL import Image

from training import export
from training.checkpoint import load_model
from training.image import load_rgb, preprocess
from training.random_checkpoint import random_state_dict, synthetic_vocab
from training.tokenizer import BertTokenizer, clean_text, save_vocab
from training.zeroshot import cosine as cos


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    sd, cfg = random_state_dict("tiny", seed=3)
    sd = {"module." + k: v for k, v in sd.items()}  # as DDP checkpoints are saved
    sd["module.text_encoder.transformer.embeddings.position_ids"] = torch.arange(256)[None]
    ckpt = d / "ckpt.pt"
    torch.save({"state_dict": sd, "epoch": 1}, ckpt)
    vocab = d / "vocab.txt"
    save_vocab(synthetic_vocab(cfg.text.vocab_size), str(vocab))
    ps = d / "ps.json"
    ps.write_text(json.dumps({"prompt_sets": {"m": {"labels": ["a", "b"], "templates": ["{}"]}}}))
    out = d / "model"
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(out), "--id", "t",
                        "--prompt-sets", str(ps)]) == 0
    return out, ckpt, vocab


def test_files_and_manifest(exported):
    out, ckpt, _ = exported
    m = json.loads((out / "model.json").read_text())
    names = sorted(os.listdir(out))
    assert set(m["files"]) == set(names) - {"model.json"}
    for n in ["image_encoder.onnx", "text_encoder.onnx", "tokenizer.json", "tokenizer_config.json", "golden.json",
              "golden_exact.png", "golden_resized.png", "MODEL_CARD.md", "prompt_sets.json"]:
        assert hashlib.sha256((out / n).read_bytes()).hexdigest() == m["files"][n]
    assert m["format_version"] == 1 and m["id"] == "t" and m["embed_dim"] == 32
    assert m["provenance"]["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert m["provenance"]["opset"] == export.OPSET
    assert m["text"]["context_length"] == 256 and m["text"]["pad_id"] == 0 and m["text"]["cls_id"] == 2
    assert abs(m["logit_scale"] - 1 / 0.07) < 1e-4
    assert m["image"]["size"] == 32 and m["image"]["resize"] == "shortest_side_bicubic_center_crop"


def test_onnx_checker_and_io_names(exported):
    out = exported[0]
    for name, inputs, outputs in [("image_encoder.onnx", ["pixel_values"], ["image_embeds"]),
                                  ("text_encoder.onnx", ["input_ids", "attention_mask"], ["text_embeds"])]:
        onnx.checker.check_model(str(out / name))
        g = onnx.load(str(out / name)).graph
        assert [i.name for i in g.input] == inputs and [o.name for o in g.output] == outputs
        dims = [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        assert dims[0] == "batch"
        if name == "text_encoder.onnx":
            assert dims[1] == "seq"
            assert g.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_golden_matches_pytorch_forward(exported):
    out, ckpt, vocab = exported
    model = load_model(str(ckpt))
    tok = BertTokenizer(str(vocab))
    g = json.loads((out / "golden.json").read_text())
    assert len(g["texts"]) >= 10
    for t in g["texts"]:
        assert t["cleaned"] == clean_text(t["text"])
        assert t["input_ids"] == tok.encode(t["text"])
        with torch.no_grad():
            e = model.encode_text(torch.tensor([t["input_ids"]]))[0]
        assert cos(e, t["embedding"]) > 0.999999
    lens = [len(t["input_ids"]) for t in g["texts"]]
    assert max(lens) == 256  # the long text is truncated
    texts = " ".join(t["text"] for t in g["texts"])
    for needle in ["\u2019", "\uff23", "\ufb01", "&amp;", "\u00e9"]:
        assert needle in texts
    size = model.cfg.vision.image_size
    kinds = {}
    for im in g["images"]:
        img = load_rgb(str(out / im["file"]))
        kinds[im["kind"]] = img.size
        with torch.no_grad():
            e = model.encode_image(preprocess(img, size)[None])[0]
        assert cos(e, im["embedding"]) > 0.999999
    assert kinds["exact"] == (size, size)
    w, h = kinds["resized"]
    assert w > size and h > size and w != h


def test_resize_rule():
    img = Image.new("RGB", (300, 200))
    from training.image import resize_center_crop

    assert resize_center_crop(img, 112).size == (112, 112)
    img = Image.new("RGB", (112, 150), (10, 20, 30))
    assert preprocess(img, 112).shape == (3, 112, 112)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_non_empty_out_is_refused_without_overwrite(exported, tmp_path, capsys):
    _, ckpt, vocab = exported
    out = tmp_path / "model"
    export.check_out_dir(str(out), overwrite=False)  # a new directory
    out.mkdir()
    export.check_out_dir(str(out), overwrite=False)  # an empty one
    (out / "notes.txt").write_text("mine")
    with pytest.raises(export.ExportError, match="not empty.*--overwrite"):
        export.export(str(ckpt), str(vocab), str(out))
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_remove_previous_export_removes_only_an_exports_files(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    for n in ["model.json", "golden.json", "old_encoder.onnx", "notes.txt", "other.onnx"]:
        (d / n).write_text(n)
    (d / "prompt_sets.json").mkdir()  # not a file: left alone
    (d / "model.json").write_text(json.dumps({"files": {"golden.json": "x", "old_encoder.onnx": "y",
                                                        "../escape": "z"}}))
    assert export.remove_previous_export(str(d)) == ["model.json", "golden.json", "old_encoder.onnx"]
    assert sorted(os.listdir(d)) == ["notes.txt", "other.onnx", "prompt_sets.json"]
    (d / "model.json").write_text("not json")
    (d / "MODEL_CARD.md").write_text("card")
    assert export.remove_previous_export(str(d)) == ["model.json", "MODEL_CARD.md"]  # the known names only


def test_overwrite_replaces_its_own_files_and_lists_nothing_else(exported, tmp_path):
    src, ckpt, vocab = exported
    out = tmp_path / "model"
    shutil.copytree(src, out)
    old = json.loads((out / "model.json").read_text())
    assert "prompt_sets.json" in old["files"]
    # leftovers: a foreign file, and a file an earlier export listed that this one does not write
    (out / "notes.txt").write_text("not the exporter's")
    (out / "old_int8.onnx").write_bytes(b"stale")
    old["files"]["old_int8.onnx"] = sha256(out / "old_int8.onnx")
    (out / "model.json").write_text(json.dumps(old))
    # the model card given is the directory's own (read before the directory is cleared)
    (out / "MODEL_CARD.md").write_text("# my card\n")
    assert export.main(["--checkpoint", str(ckpt), "--vocab", str(vocab), "--out", str(out), "--id", "t",
                        "--model-card", str(out / "MODEL_CARD.md"), "--overwrite"]) == 0
    m = json.loads((out / "model.json").read_text())
    written = {"image_encoder.onnx", "text_encoder.onnx", "tokenizer.json", "tokenizer_config.json", "golden.json",
               "golden_exact.png", "golden_resized.png", "MODEL_CARD.md"}
    assert set(m["files"]) == written  # no prompt sets this time, and neither leftover
    assert set(os.listdir(out)) == written | {"model.json", "notes.txt"}
    assert (out / "notes.txt").read_text() == "not the exporter's"
    assert (out / "MODEL_CARD.md").read_text() == "# my card\n"
    for n, digest in m["files"].items():
        assert sha256(out / n) == digest
    assert m["files"]["image_encoder.onnx"] == old["files"]["image_encoder.onnx"]  # same checkpoint, same bytes


def test_checkpoint_and_vocab_that_do_not_fit_raise(exported, tmp_path):
    _, ckpt, _ = exported
    cfg = load_model(str(ckpt)).cfg
    big = tmp_path / "big.txt"
    save_vocab(synthetic_vocab(cfg.text.vocab_size + 1), str(big))
    with pytest.raises(export.ExportError, match="vocab has ids up to"):
        export.load_checked(str(ckpt), str(big))
    with pytest.raises(ValueError, match="unknown quantization"):
        export.export(str(ckpt), str(big), str(tmp_path / "m"), quantize="int4")
    assert not (tmp_path / "m").exists()
