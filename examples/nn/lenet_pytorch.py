#!/usr/bin/python3
"""The recipe of examples/nn/lenet.cpp in PyTorch, for comparing accuracy and epoch time.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 examples/nn/lenet_pytorch.py [lenet300|lenet5] [epochs] [seed] [threads]

Same data (Debian's dataset-fashion-mnist, pixels / 255), same models, same initialisation
family (PyTorch defaults: Kaiming-uniform a=sqrt(5)), SGD lr 0.05 momentum 0.9, batch 128,
reshuffled every epoch. Batches are taken by indexing tensors with a random permutation (no
DataLoader workers), the fastest way to feed PyTorch here. Epoch time counts the training
loop only, as in the C++ program.
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DIR = "/usr/share/datasets/fashion-mnist"


def load(split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(f"{DIR}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{DIR}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def lenet300():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "lenet300"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    xtr, ytr = load("train")
    xte, yte = load("test")
    xtr, xte = xtr.unsqueeze(1), xte.unsqueeze(1)  # [n, 1, 28, 28]; lenet300 flattens
    model = lenet300() if name == "lenet300" else lenet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    n = xtr.shape[0]
    times = []
    acc = 0.0
    print(f"{name}, {sum(p.numel() for p in model.parameters())} parameters, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total, correct = 0.0, 0
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == y).sum().item()
        dt = time.perf_counter() - t0
        times.append(dt)
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(xte[i:i + 1000]) for i in range(0, xte.shape[0], 1000)])
            test_loss = F.cross_entropy(out, yte).item()
            acc = (out.argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch + 1:2d}  loss {total / n:.4f}  train acc {correct / n:.4f}  test loss {test_loss:.4f}  test acc {acc:.4f}  {dt:.3f} s", flush=True)
    s = sorted(times)
    print(f"RESULT impl=pytorch model={name} epochs={epochs} seed={seed} threads={torch.get_num_threads()} "
          f"test_acc={acc:.4f} epoch_s_min={s[0]:.3f} epoch_s_median={s[len(s) // 2]:.3f}")


if __name__ == "__main__":
    main()
