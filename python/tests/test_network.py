"""lipschitz.network_bound against the CLI's report and against measured gradient norms."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

import lipschitz

torch.set_num_threads(1)


def critic(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                               torch.nn.ReLU(), torch.nn.Linear(16, 1))


def without_times(d):
    if isinstance(d, dict):
        return {k: without_times(v) for k, v in d.items() if k not in ("seconds", "model")}
    if isinstance(d, list):
        return [without_times(v) for v in d]
    return d


def measured_gradient_norm(module, points):
    x = points.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(module(x).sum(), x)
    return g.norm(dim=1).max().item()


def test_equals_cli_json(tmp_path):
    path = str(tmp_path / "critic.pt")
    torch.jit.save(torch.jit.script(critic()), path)
    flags = ["--input-shape", "2", "--samples", "16", "--ascent-steps", "5", "--threads", "1"]
    out = subprocess.run([os.environ["LIPSCHITZ_CLI"], "report", path, "--json", *flags],
                         capture_output=True, text=True, check=True).stdout
    ours = lipschitz.network_bound(path, (2,), samples=16, ascent_steps=5, threads=1)
    assert without_times(ours.to_dict()) == without_times(json.loads(out))


def test_module_bound_is_sound_and_tight():
    module = critic(1)
    r = lipschitz.network_bound(module, (2,))
    points = torch.randn(4096, 2) * 3
    measured = measured_gradient_norm(module, points)
    assert r.certified and r.upper >= measured * (1 - 1e-6)
    assert r.lower <= r.upper * (1 + 1e-9) and r.upper <= r.product_bound * (1 + 1e-9)
    assert r.method == "regions" and r.exact  # 2-D input: the exact constant
    assert r.to_dict()["model"] == "<nn.Module Sequential>"
    assert "NetworkBound(upper=" in repr(r) and len(r.layers) == 5


def test_data_domain():
    module = critic(2)
    data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    r = lipschitz.network_bound(module, (2,), data=data, domain="data")
    assert r.network["local"] and r.exact
    inside = torch.as_tensor(data)
    assert r.upper >= measured_gradient_norm(module, inside) * (1 - 1e-6)


def test_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(lipschitz.ModelError, match="bad.pt"):
        lipschitz.network_bound(str(bad))
    with pytest.raises(ValueError, match="input_shape is required"):
        lipschitz.network_bound(critic())
    with pytest.raises(ValueError, match="--bound local needs --domain"):
        lipschitz.network_bound(critic(), (2,), bound="local")
    with pytest.raises(ValueError, match="samples must have shape"):
        lipschitz.network_bound(critic(), (2,), data=np.zeros((4, 3)))
    assert issubclass(lipschitz.ModelError, ValueError)
