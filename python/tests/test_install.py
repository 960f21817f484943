"""`pip install --no-build-isolation ./python` (offline, Debian's setuptools) gives a package
that works outside the build tree."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)


def test_pip_install_works_outside_the_build_tree(tmp_path):
    pytest.importorskip("pip")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation",
                    "--no-deps", "--no-index", "--target", str(target), PACKAGE],
                   check=True, capture_output=True)
    script = ("import lipschitz, numpy as np, torch\n"
              "print(lipschitz.__file__)\n"
              "w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))\n"
              "r = lipschitz.conv_norm(w, 8, padding=1, padding_mode='circular')\n"
              "assert r.exact and r.method == 'circular-exact', r\n"
              "b = lipschitz.network_bound(torch.nn.Linear(3, 2), (3,), bound='product')\n"
              "assert b.certified and b.upper > 0, b\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(target))
