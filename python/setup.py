"""Installs the Python package lipschitz: the project's CMake build makes the extension modules
(_core, and _report where LibTorch is found), setuptools puts them beside the Python files.

    pip install --no-build-isolation ./python          # docs/python.md, "Installing"

The build directory is LIPSCHITZ_BUILD_DIR if set, else the README's ./build when it has been
configured (so an install after `bash scripts/run.sh` only copies), else ./build/pip."""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ("lipschitz_python_core", "lipschitz_python_report")


def build_directory():
    chosen = os.environ.get("LIPSCHITZ_BUILD_DIR")
    if chosen:
        return os.path.abspath(chosen)
    readme_build = os.path.join(ROOT, "build")
    if os.path.exists(os.path.join(readme_build, "CMakeCache.txt")):
        return readme_build
    return os.path.join(ROOT, "build", "pip")


class BuildWithCMake(build_py):
    """build_py, after building the extension modules with the project's CMake."""

    def run(self):
        build = build_directory()
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DLIPSCHITZ_BUILD_GAN=ON", "-DLIPSCHITZ_BUILD_PYTHON=ON",
                                   f"-DPython_EXECUTABLE={sys.executable}"])
        available = subprocess.run(["cmake", "--build", build, "--target", "help"],
                                   capture_output=True, text=True, check=True).stdout
        targets = [t for t in TARGETS if t in available]
        if "lipschitz_python_core" not in targets:
            raise SystemExit(f"{build}: the CMake build has no Python module "
                             f"(configure it with -DLIPSCHITZ_BUILD_PYTHON=ON)")
        subprocess.check_call(["cmake", "--build", build, "-j", str(os.cpu_count() or 1),
                               "--target", *targets])
        super().run()
        package = os.path.join(build, "python", "lipschitz")
        destination = os.path.join(self.build_lib, "lipschitz")
        os.makedirs(destination, exist_ok=True)
        for name in os.listdir(package):
            if name.endswith(".so"):
                shutil.copy2(os.path.join(package, name), destination)


class BinaryDistribution(Distribution):
    """The wheel holds compiled modules: tag it for this platform and Python."""

    def has_ext_modules(self):
        return True


SETUPTOOLS_DIR = os.path.join(build_directory(), "setuptools")
os.makedirs(SETUPTOOLS_DIR, exist_ok=True)

setup(
    name="lipschitz",
    version="0.1.0",
    description="Exact spectral norms of convolutions and certified Lipschitz bounds of networks",
    packages=["lipschitz"],
    python_requires=">=3.9",
    install_requires=[],   # numpy (and torch for network_bound, Monitor) come from Debian
    cmdclass={"build_py": BuildWithCMake},
    distclass=BinaryDistribution,
    zip_safe=False,
    # setuptools' own files go beside the CMake build, not into the source tree.
    options={"build": {"build_base": SETUPTOOLS_DIR}, "egg_info": {"egg_base": SETUPTOOLS_DIR}},
)
