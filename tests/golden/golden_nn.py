"""Goldens of the training substrate (tests/test_nn_golden.cpp): a small CNN with every nn
layer, run by PyTorch 1.13 in training mode (forward, backward of sum(y * R)), then in eval
mode, then one SGD (momentum, Nesterov, weight decay) step and one Adam step on its parameters.

Text format, one tensor per line: `name dims values...` with dims as d0xd1x... and values
printed with 9 significant digits (float32 round-trips exactly).
"""
import pathlib

import torch
import torch.nn as nn


def model():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=1, padding=1),   # conv1
        nn.BatchNorm2d(4),                         # bn1
        nn.ReLU(),
        nn.MaxPool2d(2),                           # 8x8 -> 4x4
        nn.Conv2d(4, 3, 3, stride=2, padding=1),   # conv2: 4x4 -> 2x2
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 6),                          # fc1
        nn.BatchNorm1d(6),                         # bn2
        nn.ReLU(),
        nn.Linear(6, 5),                           # fc2
    )


NAMES = {"0": "conv1", "1": "bn1", "4": "conv2", "7": "fc1", "8": "bn2", "10": "fc2"}


def rename(key):
    head, _, tail = key.partition(".")
    return NAMES[head] + "." + tail


def line(name, t):
    t = t.detach().contiguous().float()
    dims = "x".join(str(d) for d in t.shape) if t.dim() else "1"
    vals = " ".join(f"{v:.9g}" for v in t.reshape(-1).tolist())
    return f"{name} {dims} {vals}\n"


def generate(outdir: pathlib.Path):
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    m = model()
    with torch.no_grad():  # non-trivial affine parameters for the batch norms
        for bn in (m[1], m[8]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    x = torch.randn(3, 2, 8, 8)
    out = []
    for k, v in m.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            out.append(line("init." + rename(k), v))
    out.append(line("x", x))
    m.train()
    xg = x.clone().requires_grad_(True)
    y = m(xg)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    out.append(line("r", r))
    out.append(line("train.y", y))
    out.append(line("train.dx", xg.grad))
    for k, p in m.named_parameters():
        out.append(line("grad." + rename(k), p.grad))
    for k, v in m.state_dict().items():
        if "running" in k:
            out.append(line("after." + rename(k), v))
    m.eval()
    with torch.no_grad():
        out.append(line("eval.y", m(x)))
    # One optimizer step from these gradients.
    saved = {k: p.detach().clone() for k, p in m.named_parameters()}
    grads = {k: p.grad.clone() for k, p in m.named_parameters()}
    for tag, make in (("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
                      ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01))):
        with torch.no_grad():
            for k, p in m.named_parameters():
                p.copy_(saved[k])
        for k, p in m.named_parameters():
            p.grad = grads[k].clone()
        opt = make(m.parameters())
        opt.step()
        opt.step()  # twice: momentum / moment estimates matter in the second step
        for k, p in m.named_parameters():
            out.append(line(tag + "." + rename(k), p))
    (outdir / "torch_cnn.txt").write_text("".join(out))
