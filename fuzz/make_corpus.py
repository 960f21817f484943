#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/TARGET/): a few small valid inputs of
each format, in each target's input layout (fuzz_input.hpp: control bytes, then parts of a
4-byte little-endian length and the bytes). The corpora are committed; run this again only to
change them:

    /usr/bin/python3 fuzz/make_corpus.py build/bin    # needs numpy, torch, cc and libstb-dev

A trainer checkpoint and run files come from `lipschitz train` (BIN is the build's bin/).
"""
import gzip, io, json, os, shutil, struct, subprocess, sys, tempfile, zlib

import numpy as np
import torch

ROOT = os.path.dirname(os.path.abspath(__file__))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "build", "bin")


def part(b):
    return struct.pack("<I", len(b)) + b


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    if version:
        np.lib.format.write_array(buf, a, version=version)
    else:
        np.save(buf, a)
    return buf.getvalue()


def png_bytes(w, h, channels, pixels):
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\0" + bytes(pixels[y * w * channels:(y + 1) * w * channels]) for y in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes(w, h, channels):
    """A JPEG from stb_image_write (no Python encoder in Debian's python3 without PIL)."""
    src = r'''
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
static void put(void* f, void* d, int n) { fwrite(d, 1, n, (FILE*)f); }
int main(int c, char** v) { int w = atoi(v[1]), h = atoi(v[2]), ch = atoi(v[3]);
  unsigned char* p = malloc(w * h * ch); for (int i = 0; i < w * h * ch; ++i) p[i] = (i * 37) & 255;
  return !stbi_write_jpg_to_func(put, stdout, w, h, ch, p, 80); }
'''
    with tempfile.TemporaryDirectory() as t:
        with open(os.path.join(t, "j.c"), "w") as f:
            f.write(src)
        subprocess.check_call(["cc", "-I/usr/include/stb", "-o", os.path.join(t, "j"), os.path.join(t, "j.c"), "-lm"])
        return subprocess.check_output([os.path.join(t, "j"), str(w), str(h), str(channels)])


def idx_images(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + bytes((i * 7) & 255 for i in range(n * h * w))


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


def main():
    shutil.rmtree(os.path.join(ROOT, "corpus"), ignore_errors=True)
    # npy: float32/float64, both byte orders, versions 1-3, 1-D to 4-D.
    rng = np.random.default_rng(0)
    put("npy", "conv2d_f32.npy", npy_bytes(rng.standard_normal((4, 3, 3, 3)).astype("<f4")))
    put("npy", "conv1d_f64_be.npy", npy_bytes(rng.standard_normal((2, 2, 3)).astype(">f8")))
    put("npy", "linear_v2.npy", npy_bytes(rng.standard_normal((3, 5)).astype("<f8"), (2, 0)))
    put("npy", "scalar_v3.npy", npy_bytes(np.float32(1.5).reshape(()), (3, 0)))
    # IDX: control byte (bit 0 test split, bits 1/2 gzip), images part, labels.
    im, lb = idx_images(3, 4, 5), idx_labels(3)
    put("idx", "train_plain", b"\0" + part(im) + lb)
    put("idx", "test_plain", b"\1" + part(im) + lb)
    put("idx", "train_gzip", b"\6" + part(gzip.compress(im)) + gzip.compress(lb))
    # CIFAR-10: control byte (bit 0 test, bit 1 subdirectory); train: four parts and the fifth.
    rec = lambda label: bytes([label]) + bytes((i * 3) & 255 for i in range(3072))
    put("cifar", "test_two", b"\1" + rec(3) + rec(9))
    put("cifar", "train_five", b"\2" + b"".join(part(rec(i)) for i in range(4)) + rec(4))
    # Images: control byte (bit 1 RGB, bits 2-3 extension), side byte, the file.
    grey = [(x * 16) & 255 for x in range(6 * 4)]
    rgb = [(x * 5) & 255 for x in range(5 * 7 * 3)]
    put("image", "grey.png", b"\0\x07" + png_bytes(6, 4, 1, grey))
    put("image", "rgb.png", b"\2\x04" + png_bytes(5, 7, 3, rgb))
    put("image", "rgba.png", b"\2\x03" + png_bytes(2, 2, 4, list(range(16))))
    put("image", "rgb.jpg", b"\6\x08" + jpeg_bytes(9, 6, 3))
    put("image", "grey.jpg", b"\4\x05" + jpeg_bytes(4, 4, 1))
    # Training options: field=value lines.
    put("train_options", "toy", b"data=8gaussians\nobjective=wgan-gp\nsteps=10\nwidth=8\n")
    put("train_options", "images", b"data=fashion-mnist\nmodel=dcgan\nobjective=wgan\nclip=0.01\nlr=5e-05\n")
    put("train_options", "gan", b"data=swissroll\nobjective=gan\nbeta1=0.5\nbatch_size=16\ndevice=cuda:1\n")
    # A trainer run: its checkpoint, config.json, metrics.jsonl, summary.json, surface, eval.
    with tempfile.TemporaryDirectory() as t:
        run = os.path.join(t, "run")
        subprocess.check_call([os.path.join(BIN, "lipschitz"), "train", "--data", "8gaussians",
                               "--steps", "4", "--width", "8", "--monitor-every", "2",
                               "--out", run, "--threads", "1"], stdout=subprocess.DEVNULL)
        read = lambda name: open(os.path.join(run, name), "rb").read()
        put("checkpoint", "toy_mlp", b"\0" + read("checkpoint.pt"))
        put("checkpoint", "toy_mlp_shape", b"\1" + read("checkpoint.pt"))
        config, metrics = read("config.json"), read("metrics.jsonl")
        summary = read("summary.json") if os.path.exists(os.path.join(run, "summary.json")) else b""
        surfaces = sorted(f for f in os.listdir(os.path.join(run, "samples")) if f.startswith("surface"))
        surface = read(os.path.join("samples", surfaces[-1])) if surfaces else b""
        put("run_files", "record", b"\0" + metrics.splitlines()[-1])
        put("run_files", "metrics", b"\1" + metrics)
        put("run_files", "config", b"\2" + config)
        if summary:
            put("run_files", "summary", b"\3" + summary)
        if surface:
            put("run_files", "surface", b"\4" + surface)
        put("run_files", "eval", b"\5" + json.dumps({"step": 10, "fid": 3.5, "inception": 1.2}).encode())
        put("run_files", "run", b"\6" + part(config) + part(metrics) + part(summary) + surface)
    # Models: TorchScript and ONNX of small MLP and conv critics.
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).eval()
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.LeakyReLU(0.2),
                               torch.nn.Conv2d(2, 2, 4, stride=2, padding=1), torch.nn.Flatten(),
                               torch.nn.Linear(32, 1)).eval()
    for name, model, shape, control in (("mlp", mlp, (1, 2), b"\0"), ("conv", conv, (1, 1, 8, 8), b"\2")):
        example = torch.randn(*shape)
        with tempfile.TemporaryDirectory() as t:
            pt, onnx = os.path.join(t, "m.pt"), os.path.join(t, "m.onnx")
            torch.jit.save(torch.jit.trace(model, example), pt)
            torch.onnx.export(model, example, onnx, opset_version=17, do_constant_folding=False,
                              input_names=["input"], output_names=["output"])
            put("torchscript", name, control + open(pt, "rb").read())
            put("onnx", name, control + open(onnx, "rb").read())


if __name__ == "__main__":
    main()
