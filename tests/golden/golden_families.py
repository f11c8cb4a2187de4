"""Golden files for distill.hpp and fuse.hpp (area `families`), made with PyTorch.

Each file is plain text: one `name d0 d1 ...` header line per tensor followed by its values
(row-major, one line), so the C++ tests read them without any I/O library.
  kd.txt    : student/teacher logits, labels, T, alpha -> Hinton KD loss and d loss / d student
  fold.txt  : Linear+BatchNorm1d and Conv2d+BatchNorm2d in eval mode -> their outputs
"""
import pathlib

import torch
import torch.nn.functional as F


def _write(path: pathlib.Path, tensors):
    with path.open("w") as f:
        for name, t in tensors:
            t = torch.as_tensor(t).detach().to(torch.float64).contiguous()
            dims = " ".join(str(d) for d in t.shape) if t.dim() else "1"
            f.write(f"{name} {t.dim() if t.dim() else 1} {dims}\n")
            f.write(" ".join(f"{v:.17g}" for v in t.reshape(-1).tolist()) + "\n")


def _kd(outdir: pathlib.Path):
    g = torch.Generator().manual_seed(8)
    s = (torch.randn(6, 7, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
    t = torch.randn(6, 7, generator=g, dtype=torch.float64) * 3
    y = torch.randint(0, 7, (6,), generator=g)
    T, alpha = 2.5, 0.3
    hard = F.cross_entropy(s, y)
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean") * T * T
    loss = alpha * hard + (1 - alpha) * soft
    loss.backward()
    _write(outdir / "kd.txt", [("student", s), ("teacher", t), ("labels", y), ("temperature", torch.tensor(T)),
                              ("alpha", torch.tensor(alpha)), ("loss", loss), ("hard", alpha * hard),
                              ("soft", (1 - alpha) * soft), ("grad", s.grad)])


def _fold(outdir: pathlib.Path):
    torch.manual_seed(80)
    lin = torch.nn.Linear(9, 5)
    bn1 = torch.nn.BatchNorm1d(5, eps=1e-3)
    conv = torch.nn.Conv2d(3, 4, kernel_size=3, padding=1)
    bn2 = torch.nn.BatchNorm2d(4)
    for bn in (bn1, bn2):
        n = bn.num_features
        bn.weight.data = torch.randn(n)
        bn.bias.data = torch.randn(n)
        bn.running_mean = torch.randn(n)
        bn.running_var = torch.rand(n) * 2 + 0.1
        bn.eval()
    x1 = torch.randn(4, 9)
    x2 = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        y1 = bn1(lin(x1))
        y2 = bn2(conv(x2))
    _write(outdir / "fold.txt", [
        ("lin_w", lin.weight), ("lin_b", lin.bias), ("bn1_gamma", bn1.weight), ("bn1_beta", bn1.bias),
        ("bn1_mean", bn1.running_mean), ("bn1_var", bn1.running_var), ("bn1_eps", torch.tensor(bn1.eps)),
        ("x1", x1), ("y1", y1),
        ("conv_w", conv.weight), ("conv_b", conv.bias), ("bn2_gamma", bn2.weight), ("bn2_beta", bn2.bias),
        ("bn2_mean", bn2.running_mean), ("bn2_var", bn2.running_var), ("bn2_eps", torch.tensor(bn2.eps)),
        ("x2", x2), ("y2", y2)])


def generate(outdir: pathlib.Path):
    _kd(outdir)
    _fold(outdir)
