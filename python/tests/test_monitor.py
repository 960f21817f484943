"""lipschitz.Monitor: the example's run, its records against dense SVDs and measured gradients,
`lipschitz view` rendering it, and the monitor's promises (no overwrite, no side effects)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import lipschitz

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "pytorch_wgan_gp.py")


def test_example_runs_and_renders(tmp_path):
    out = str(tmp_path / "run")
    subprocess.run([sys.executable, EXAMPLE, "--out", out, "--steps", "40", "--every", "20",
                    "--width", "32", "--batch", "128"], check=True, capture_output=True)
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["step"] for r in records] == [0, 20, 40]
    for r in records:
        measured = max(r["grad_norm_max"], r["grad_norm_real_max"], r["grad_norm_fake_max"])
        assert r["critic_certified"] and r["critic_bound_method"] == "combettes"
        assert measured <= r["critic_upper_bound"] <= r["critic_product_bound"] * (1 + 1e-9)
        assert [l["name"] for l in r["layers"]] == ["0", "2", "4", "6"]
        assert sum(r["weight_histograms"]["0"]["counts"]) == 2 * 32
    assert json.load(open(os.path.join(out, "summary.json")))["status"] == "finished"
    view = subprocess.run([os.environ["LIPSCHITZ_CLI"], "view", out, "--no-png"],
                          capture_output=True, text=True)
    assert view.returncode == 0, view.stderr
    assert os.path.getsize(os.path.join(out, "view.html")) > 10000


def test_record_against_dense_svd_and_no_side_effects(tmp_path):
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2, padding=1),
                                 torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 4 * 4, 1))
    monitor = lipschitz.Monitor(critic, every=5, out=tmp_path / "m", objective="wgan",
                                clip=0.1)
    real, fake = torch.randn(16, 1, 8, 8), torch.randn(16, 1, 8, 8)
    assert monitor.step(3, real, fake) is None
    for p in critic.parameters():
        p.grad = torch.zeros_like(p)
    rng = torch.get_rng_state()
    r = monitor.step(5, real, fake, losses={"critic_loss": -1.5})
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.count_nonzero(p.grad) == 0 for p in critic.parameters())
    assert r["critic_loss"] == -1.5 and r["critic_bound_method"] == "product"
    conv, linear = r["layers"]
    assert (conv["input_shape"], conv["output_shape"]) == ("1x8x8", "4x4x4")
    # The conv layer as a dense matrix, applied by torch to every basis image.
    basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)
    A = torch.nn.functional.conv2d(basis, critic[0].weight.detach().double(), stride=2, padding=1)
    sigma = np.linalg.svd(A.reshape(64, -1).numpy(), compute_uv=False)[0]
    assert conv["lower_bound"] - 1e-9 <= sigma <= conv["upper_bound"] + 1e-9
    assert linear["spectral_norm"] == pytest.approx(
        np.linalg.svd(critic[3].weight.detach().double().numpy(), compute_uv=False)[0], rel=1e-9)
    weights = critic[0].weight.detach().abs()
    assert conv["weight_at_clip"] == pytest.approx((weights >= 0.1 * (1 - 1e-6)).double().mean().item())
    with pytest.raises(FileExistsError, match="resume=True"):
        lipschitz.Monitor(critic, out=tmp_path / "m")
    lipschitz.Monitor(critic, every=5, out=tmp_path / "m", resume=True).step(10, real, fake)
    assert len(open(tmp_path / "m" / "metrics.jsonl").readlines()) == 2


def test_bad_options(tmp_path):
    critic = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="objective must be one of"):
        lipschitz.Monitor(critic, out=tmp_path / "a", objective="lsgan")
    with pytest.raises(ValueError, match="every must be a positive integer"):
        lipschitz.Monitor(critic, out=tmp_path / "b", every=0)
