"""Zero-shot classification by the paper's protocol: template ensemble, cosine, softmax(exp(logit_scale) * cos)."""

import torch
import torch.nn.functional as F


def cosine(a, b):
    """Cosine similarity of two vectors (tensors, arrays or lists), computed in float64."""
    a, b = torch.as_tensor(a, dtype=torch.float64).reshape(-1), torch.as_tensor(b, dtype=torch.float64).reshape(-1)
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def label_name(label):
    return label["name"] if isinstance(label, dict) else label


def label_text(label):
    return label.get("text", label["name"]) if isinstance(label, dict) else label


@torch.no_grad()
def class_embeddings(model, tokenizer, labels, templates, device="cpu"):
    """[C, D]: for each class, encode every filled template, L2-normalize each, average, re-normalize."""
    out = []
    for lab in labels:
        texts = [t.replace("{}", label_text(lab)) for t in templates]
        ids, mask = tokenizer.batch_tensors(texts)
        emb = F.normalize(model.encode_text(ids.to(device), mask.to(device)).float(), dim=-1)
        out.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(out)


@torch.no_grad()
def classify(model, pixel_values, class_emb):
    """-> probabilities [N, C]."""
    img = F.normalize(model.encode_image(pixel_values).float(), dim=-1)
    return torch.softmax(model.logit_scale.exp().float() * img @ class_emb.t(), dim=-1)


@torch.no_grad()
def evaluate(model, tokenizer, images, targets, labels, templates, batch_size=64, device="cpu"):
    """images: tensor [N,3,S,S] (preprocessed); targets: list of label names. -> accuracy in [0, 1]."""
    was_training = model.training
    model.eval()
    cls = class_embeddings(model, tokenizer, labels, templates, device)
    names = [label_name(lab) for lab in labels]
    correct = 0
    for i in range(0, len(images), batch_size):
        probs = classify(model, images[i:i + batch_size].to(device), cls)
        pred = probs.argmax(-1).tolist()
        correct += sum(names[p] == t for p, t in zip(pred, targets[i:i + batch_size]))
    model.train(was_training)
    return correct / max(1, len(images))
