"""The seed's own pipeline for one /classify (benchmark item 2), in PyTorch through training's model code.

    /usr/bin/python3 bench/seed_pipeline.py --checkpoint CKPT --vocab VOCAB --image JPEG [--seconds 20] [--max-calls 10]

Every call does what the reference does per request: PIL decode + bicubic resize + centre crop, then the image
and all 6 labels (one template each, padded to 256 tokens) through the encoders, then softmax. Prints one JSON
line: calls, seconds, per-call latencies, torch threads.
"""

import argparse
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from training.checkpoint import load_model  # noqa: E402
from training.image import preprocess  # noqa: E402
from training.tokenizer import CONTEXT_LENGTH, BertTokenizer  # noqa: E402

LABELS = ["xray", "ct", "mri", "ultrasound", "histopathology", "fundus"]
TEMPLATE = "a {} image."


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--vocab", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--min-calls", type=int, default=3)
    p.add_argument("--max-calls", type=int, default=10)
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("SEED_THREADS", os.cpu_count() or 1)))
    model = load_model(a.checkpoint)
    tok = BertTokenizer(a.vocab, context_length=CONTEXT_LENGTH)
    size = model.cfg.vision.image_size
    with open(a.image, "rb") as f:
        data = f.read()

    def call():
        with Image.open(io.BytesIO(data)) as im:
            x = preprocess(im.convert("RGB"), size)
        ids, mask = tok.batch_tensors([TEMPLATE.format(lab) for lab in LABELS], pad_to=CONTEXT_LENGTH)
        with torch.no_grad():
            img = F.normalize(model.encode_image(x[None]), dim=-1)
            txt = F.normalize(model.encode_text(ids, mask), dim=-1)
            probs = torch.softmax(model.logit_scale.exp() * img @ txt.t(), dim=-1)
        return probs

    call()  # warm-up (allocator, lazy init)
    latencies = []
    start = time.perf_counter()
    while len(latencies) < a.max_calls and (len(latencies) < a.min_calls or time.perf_counter() - start < a.seconds):
        t0 = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    print(json.dumps({"calls": len(latencies), "seconds": total, "latencies_s": latencies,
                      "throughput_per_s": len(latencies) / total, "torch_threads": torch.get_num_threads(),
                      "torch": torch.__version__, "padded_to": CONTEXT_LENGTH, "labels": len(LABELS)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
