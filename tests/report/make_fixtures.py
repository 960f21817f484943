#!/usr/bin/python3
"""Fixtures for `lipschitz report`: small seeded PyTorch models, each written three ways.

Usage:  /usr/bin/python3 tests/report/make_fixtures.py OUTDIR [--only NAME[,NAME...]] [--print]

For every model NAME it writes, into OUTDIR:
  NAME.pt    TorchScript: torch.jit.trace of the module in eval mode, torch.jit.save;
  NAME.onnx  torch.onnx.export, opset 17, no constant folding, input "input", output "output",
             static shapes (batch 1). In eval mode the exporter folds each BatchNorm that follows
             a Conv into the Conv's weight (the manifest lists which), so models with a
             BatchNorm also get NAME_unfused.onnx, exported with TrainingMode.PRESERVE, which
             keeps every BatchNormalization node;
  NAME.json  a manifest of what the report should find, computed here, independently of the tool:
    input_shape, output_shape      per sample (no batch dimension)
    layers                         every linear map with weights (Conv1d/2d, ConvTranspose1d/2d,
                                   Linear, BatchNorm1d/2d) and every average pool, keyed by its
                                   named_modules() name, in forward order:
        type, input_shape, output_shape, order (position among these layers),
        sigma1                     the operator 2-norm of the layer's linear part (bias excluded)
                                   at its real input size: the dense Jacobian J[i, j] =
                                   f(e_j)[i] - f(0)[i] of the layer in float64 (the module itself,
                                   its float32 weights converted exactly), and the square root of
                                   the largest eigenvalue of the smaller Gram matrix (J Jᵀ or JᵀJ),
                                   which agrees with torch.linalg.matrix_norm(J, 2) to a few ulps
                                   and is four times faster at 4096 x 3072,
        reshaped_weight_norm       σ₁ of the weight reshaped to (weight.shape[0], -1) (Conv,
                                   Linear) or (weight.shape[1], -1) (ConvTranspose), the
                                   convention of torch.nn.utils.spectral_norm; null otherwise,
        follows, combined_sigma1   for a BatchNorm right after a Conv or Linear: that layer's
                                   name, and σ₁ of the linear part of (bn ∘ layer);
    network_lower_bound            max over 256 seeded N(0, 1) inputs of the input-gradient norm
                                   (scalar output) or of the σ₁ of the input Jacobian (vector
                                   output), in float64: a true lower bound on the Lipschitz
                                   constant of the model;
    certified_expected, unknown_ops, expected_reasons
                                   whether the report can certify the model, the operations it
                                   should not understand, and words its reasons should contain;
    network_sigma1_dense           (linear_only) σ₁ of the whole network's dense Jacobian;
    torchscript                    {file, ops}: the aten:: operations of the traced graph;
    onnx                           one entry per ONNX file: {file, ops (op types and counts),
                                   fused_batch_norms: BatchNorm name -> {into (the Conv), weight
                                   (its initializer), sigma1 and reshaped_weight_norm of the
                                   folded Conv as written in the file}}.

Everything is seeded, and the files are the same on every run. The whole run takes about 15 s
on two idle cores, most of it in the three 3x32x32 DCGAN critics' first two layers.
"""

import argparse
import copy
import hashlib
import json
import os
import struct
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.spectral_norm import SpectralNorm

# Layers whose linear part the manifest describes.
LINEAR_TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear,
                nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool1d, nn.AvgPool2d,
                nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
BATCH_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)
WEIGHTED_TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)
TRANSPOSED_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d)
LOWER_BOUND_SAMPLES = 256
ONNX_OPSET = 17


# --------------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------------

def dcgan_main(norm_after_second=None):
    layers = [nn.Conv2d(3, 16, 4, 2, 1), nn.LeakyReLU(0.2),
              nn.Conv2d(16, 32, 4, 2, 1)]
    if norm_after_second is not None:
        layers.append(norm_after_second)
    layers += [nn.LeakyReLU(0.2),
               nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
               nn.Flatten(), nn.Linear(64 * 4 * 4, 1)]
    return nn.Sequential(*layers)


class DcganCritic(nn.Module):
    """3x32x32 -> 1: three strided 4x4 convolutions with LeakyReLU(0.2), then a Linear."""

    def __init__(self, norm_after_second=None):
        super().__init__()
        self.main = dcgan_main(norm_after_second)

    def forward(self, x):
        return self.main(x)


class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(x))), with a strided 1x1 projection when the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, 0)
                         if stride != 1 or c_in != c_out else None)

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + self.conv2(F.relu(self.conv1(x)))


class ResnetCritic(nn.Module):
    """3x16x16 -> 1: stem, an identity block, a strided projection block, ReLU, global average
    pool, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)
        self.block1 = ResidualBlock(8, 8, 1)
        self.block2 = ResidualBlock(8, 16, 2)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(self.flatten(self.pool(self.relu(x))))


class BnCritic(nn.Module):
    """3x16x16 -> 1: (Conv2d, BatchNorm2d, ReLU) x 2, MaxPool2d(2), Linear, BatchNorm1d, ReLU,
    Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten())
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(self.features(x)))))


class Conv1dNet(nn.Module):
    """4x32 -> 3: Conv1d ELU, strided dilated Conv1d GELU, circular Conv1d SiLU, Linear, Tanh."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 8, 5, padding=2)
        self.act1 = nn.ELU()
        self.conv2 = nn.Conv1d(8, 8, 3, stride=2, dilation=2, padding=2)
        self.act2 = nn.GELU()
        self.conv3 = nn.Conv1d(8, 8, 3, padding=1, padding_mode="circular")
        self.act3 = nn.SiLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 16, 3)
        self.out = nn.Tanh()

    def forward(self, x):
        x = self.act1(self.conv1(x))
        x = self.act2(self.conv2(x))
        x = self.act3(self.conv3(x))
        return self.out(self.fc(self.flatten(x)))


class GeometryNet(nn.Module):
    """4x12x12 -> 1: a strided, dilated, grouped Conv2d; a circular Conv2d; a 'valid' Conv2d;
    a ConvTranspose2d; Softplus, Sigmoid, Tanh; AvgPool2d; Dropout; Identity; Linear."""

    def __init__(self):
        super().__init__()
        self.strided = nn.Conv2d(4, 8, 3, stride=2, dilation=2, groups=2, padding=2)  # 8x6x6
        self.act1 = nn.Softplus()
        self.circular = nn.Conv2d(8, 8, 3, padding=1, padding_mode="circular")        # 8x6x6
        self.act2 = nn.Sigmoid()
        self.valid = nn.Conv2d(8, 8, 3, padding=0)                                    # 8x4x4
        self.act3 = nn.Tanh()
        self.up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)                    # 4x8x8
        self.drop = nn.Dropout(0.5)
        self.ident = nn.Identity()
        self.pool = nn.AvgPool2d(2)                                                   # 4x4x4
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 1)

    def forward(self, x):
        x = self.act1(self.strided(x))
        x = self.act2(self.circular(x))
        x = self.act3(self.valid(x))
        x = self.ident(self.drop(self.up(x)))
        return self.fc(self.flatten(self.pool(x)))


class LinearOnly(nn.Module):
    """2x8x8 -> 1 with no activation: Conv2d, circular Conv2d, Flatten, Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular")
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 8 * 8, 1)

    def forward(self, x):
        return self.fc(self.flatten(self.conv2(self.conv1(x))))


class UnknownOp(nn.Module):
    """3x8x8 -> 1 with a softmax over channels between two convolutions."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 4 * 4, 1)

    def forward(self, x):
        x = torch.softmax(self.conv1(x), dim=1)
        return self.fc(self.flatten(F.leaky_relu(self.conv2(x), 0.2)))


def perturb_batch_norms(model, gen):
    """Random running statistics and affine parameters, so folding a BatchNorm is not the
    identity."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BATCH_NORM_TYPES + (nn.LayerNorm,)):
                n = m.weight.numel()
                sign = torch.where(torch.rand(n, generator=gen) < 0.2, -1.0, 1.0)
                m.weight.copy_((0.5 + 1.5 * torch.rand(n, generator=gen)).reshape(m.weight.shape)
                               * sign.reshape(m.weight.shape))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, BATCH_NORM_TYPES):
                m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.2 + 2.8 * torch.rand(m.running_var.shape, generator=gen))


def converge_spectral_norm(model, input_shape, gen, passes=200):
    """Forward passes in train mode: each runs one power iteration of every spectral_norm."""
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn((4,) + tuple(input_shape), generator=gen))


def build(name):
    """(model in eval mode, per-sample input shape, extra manifest fields)."""
    # One fixed seed per model; layernorm_critic draws dcgan_critic's weights (LayerNorm draws
    # nothing), so its convolutions are dcgan_critic's and their σ₁ is computed once.
    torch.manual_seed(sum(map(ord, "dcgan_critic" if name == "layernorm_critic" else name)))
    gen = torch.Generator().manual_seed(1000 + sum(map(ord, name)))
    extra = {"certified_expected": True, "unknown_ops": [], "expected_reasons": []}
    if name == "dcgan_critic":
        model, shape = DcganCritic(), (3, 32, 32)
    elif name == "resnet_critic":
        model, shape = ResnetCritic(), (3, 16, 16)
    elif name == "bn_critic":
        model, shape = BnCritic(), (3, 16, 16)
    elif name == "layernorm_critic":
        model, shape = DcganCritic(nn.LayerNorm([32, 8, 8])), (3, 32, 32)
        extra.update(certified_expected=False, expected_reasons=["LayerNorm"])
    elif name == "sn_critic":
        model, shape = DcganCritic(), (3, 32, 32)
        for m in model.modules():
            if isinstance(m, WEIGHTED_TYPES):
                nn.utils.spectral_norm(m)
        converge_spectral_norm(model, shape, gen)
    elif name == "conv1d_net":
        model, shape = Conv1dNet(), (4, 32)
    elif name == "geometry_net":
        model, shape = GeometryNet(), (4, 12, 12)
    elif name == "linear_only":
        model, shape = LinearOnly(), (2, 8, 8)
    elif name == "unknown_op":
        model, shape = UnknownOp(), (3, 8, 8)
        extra.update(certified_expected=False, unknown_ops=["softmax"],
                     expected_reasons=["softmax"])
    else:
        raise ValueError("unknown model %r" % name)
    perturb_batch_norms(model, gen)
    model.eval()
    return model, shape, extra


MODELS = ["dcgan_critic", "resnet_critic", "bn_critic", "layernorm_critic", "sn_critic",
          "conv1d_net", "geometry_net", "linear_only", "unknown_op"]


# --------------------------------------------------------------------------------------------
# The references
# --------------------------------------------------------------------------------------------

def sigma1(jac):
    """Largest singular value of a float64 matrix: the square root of the largest eigenvalue of
    its smaller Gram matrix (4x faster than an SVD at 4096 x 3072; equal to a few ulps)."""
    rows, cols = jac.shape
    if min(rows, cols) <= 256:
        return float(torch.linalg.matrix_norm(jac, 2))
    gram = jac @ jac.T if rows <= cols else jac.T @ jac
    return float(torch.linalg.eigvalsh(gram)[-1].clamp(min=0).sqrt())


def plain_float64(module):
    """A float64 copy of `module` in eval mode, with every spectral_norm replaced by the weight
    it computes in eval mode (weight_orig / σ from the stored u and v, in float32)."""
    for sub in module.modules():  # spectral_norm's computed weight may hold an autograd graph
        if any(isinstance(h, SpectralNorm) for h in sub._forward_pre_hooks.values()):
            sub.weight = sub.weight.detach()
    m = copy.deepcopy(module).eval()
    for sub in m.modules():
        if any(isinstance(h, SpectralNorm)
               for h in sub._forward_pre_hooks.values()):
            nn.utils.remove_spectral_norm(sub)
    return m.double()


def dense_linear_part(fn, input_shape):
    """J with J[:, j] = fn(e_j) - fn(0), for fn acting on a batch of float64 inputs."""
    n = 1
    for d in input_shape:
        n *= d
    with torch.no_grad():
        basis = torch.eye(n, dtype=torch.float64).reshape((n,) + tuple(input_shape))
        out = fn(basis).reshape(n, -1)
        zero = fn(torch.zeros((1,) + tuple(input_shape), dtype=torch.float64)).reshape(1, -1)
    return (out - zero).T.contiguous()


def record_layer_shapes(model, input_shape):
    """Forward order, input and output shapes (per sample) of every LINEAR_TYPES module."""
    seen = []
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, LINEAR_TYPES):
            def hook(mod, inputs, output, name=name):
                seen.append((name, mod, tuple(inputs[0].shape[1:]), tuple(output.shape[1:])))
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.zeros((1,) + tuple(input_shape)))
    for h in hooks:
        h.remove()
    return seen


def reshaped_weight_norm(module):
    if not isinstance(module, WEIGHTED_TYPES):
        return None
    w = module.weight.detach().double()
    dim = 1 if isinstance(module, TRANSPOSED_TYPES) else 0
    w = w.transpose(0, dim) if dim else w
    return float(torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2))


_sigma1_cache = {}


def layer_sigma1(m64, in_shape):
    """σ₁ of a float64 layer's linear part at this input size, computed once per distinct layer
    (its class, arguments and weights)."""
    h = hashlib.sha256(repr(m64).encode() + repr(tuple(in_shape)).encode())
    for key, value in m64.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().contiguous().numpy().tobytes())
    key = h.hexdigest()
    if key not in _sigma1_cache:
        _sigma1_cache[key] = sigma1(dense_linear_part(m64, in_shape))
    return _sigma1_cache[key]


def layer_manifest(model, input_shape):
    layers = {}
    previous = None  # (name, float64 module, input shape) of the last Conv/Linear
    for order, (name, module, in_shape, out_shape) in enumerate(
            record_layer_shapes(model, input_shape)):
        m64 = plain_float64(module)
        entry = {"type": type(module).__name__, "order": order,
                 "input_shape": list(in_shape), "output_shape": list(out_shape),
                 "sigma1": layer_sigma1(m64, in_shape),
                 "reshaped_weight_norm": reshaped_weight_norm(m64)}
        if isinstance(module, BATCH_NORM_TYPES) and previous is not None \
                and previous[3] == in_shape:
            prev_name, prev64, prev_in, _ = previous
            entry["follows"] = prev_name
            entry["combined_sigma1"] = sigma1(dense_linear_part(
                lambda x, a=prev64, b=m64: b(a(x)), prev_in))
        layers[name] = entry
        previous = (name, m64, in_shape, out_shape) if isinstance(module, WEIGHTED_TYPES) \
            else None
    # A BatchNorm "follows" a layer only if it reads that layer's output directly; in these
    # models every BatchNorm comes right after its Conv/Linear in forward order.
    return layers


def network_lower_bound(model64, input_shape, gen):
    """max over seeded N(0, 1) inputs of the σ₁ of the input Jacobian (the gradient norm for a
    scalar output), float64."""
    x = torch.randn((LOWER_BOUND_SAMPLES,) + tuple(input_shape), generator=gen,
                    dtype=torch.float64)
    # Samples do not interact in eval mode, so the Jacobian of the batch sum holds every
    # per-sample Jacobian: (outputs, batch, inputs).
    jac = torch.autograd.functional.jacobian(lambda t: model64(t).sum(0), x)
    jac = jac.reshape(-1, LOWER_BOUND_SAMPLES, x[0].numel()).transpose(0, 1)
    return float(torch.linalg.matrix_norm(jac, 2).max())


# --------------------------------------------------------------------------------------------
# Reading ONNX back (no onnx module in Debian: a minimal protobuf reader)
# --------------------------------------------------------------------------------------------

def _varint(buf, i):
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _fields(buf):
    """(field number, value) of one protobuf message: ints for varints, bytes otherwise."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        yield number, value


def _tensor(buf):
    """(name, tensor) of a TensorProto (dims 1, data_type 2, float_data 4, int64_data 7, name 8,
    raw_data 9): FLOAT as float32, INT64 as int64; None for other types."""
    dims, dtype, name, raw, ints, floats = [], None, "", b"", [], []
    for k, v in _fields(buf):
        if k in (1, 7):
            target = dims if k == 1 else ints
            if isinstance(v, int):
                target.append(v)
            else:  # packed
                j = 0
                while j < len(v):
                    n, j = _varint(v, j)
                    target.append(n)
        elif k == 2:
            dtype = v
        elif k == 4:
            floats.append(v)
        elif k == 8:
            name = v.decode()
        elif k == 9:
            raw = v
    if dtype == 1:
        t = (torch.frombuffer(bytearray(raw), dtype=torch.float32) if raw else
             torch.tensor([struct.unpack("<f", f)[0] for f in floats], dtype=torch.float32))
    elif dtype == 7:
        ints = [i - (1 << 64) if i >= 1 << 63 else i for i in ints]  # two's complement
        t = (torch.frombuffer(bytearray(raw), dtype=torch.int64) if raw else
             torch.tensor(ints, dtype=torch.int64))
    else:
        return name, None
    return name, t.reshape(dims)


def read_onnx(path):
    """(nodes, tensors) of an ONNX file. Nodes in graph order as dicts with op, name, inputs,
    outputs (ModelProto.graph = 7, GraphProto.node = 1; NodeProto input 1, output 2, name 3,
    op_type 4); tensors: the initializers (GraphProto.initializer = 5) and the values of
    Constant nodes (attribute 5, its tensor t = 5), by name."""
    with open(path, "rb") as f:
        graph = [v for k, v in _fields(f.read()) if k == 7][0]
    nodes, tensors = [], {}
    for k, v in _fields(graph):
        if k == 1:
            d = {1: [], 2: [], 3: [b""], 4: [b""], 5: []}
            for kk, vv in _fields(v):
                d.setdefault(kk, []).append(vv)
            node = {"op": d[4][-1].decode(), "name": d[3][-1].decode(),
                    "inputs": [x.decode() for x in d[1]], "outputs": [x.decode() for x in d[2]],
                    "attributes": {}}
            for attribute in d[5]:  # AttributeProto: name 1, i 3, t 5 (others not needed)
                a = dict(_fields(attribute))
                if 3 in a:
                    value = a[3] - (1 << 64) if a[3] >= 1 << 63 else a[3]
                elif 5 in a:
                    value = _tensor(a[5])[1]
                else:
                    continue
                node["attributes"][a[1].decode()] = value
            nodes.append(node)
            if node["op"] == "Constant" and "value" in node["attributes"]:
                tensors[node["outputs"][0]] = node["attributes"]["value"]
        elif k == 5:
            name, t = _tensor(v)
            tensors[name] = t
    return nodes, tensors


def in_scope(node, module_name):
    """Whether torch.onnx wrote this node for that module: names read "/block1/conv1/Conv" (the
    attribute path) or "/features/features.0/Conv" (children of a Sequential)."""
    parts = node["name"].strip("/").split("/")[:-1]
    return bool(parts) and (".".join(parts) == module_name or parts[-1] == module_name)


def circular_padding_as_written(nodes, tensors, conv_node, conv_name, module, in_shape):
    """The padding torch.onnx wrote for a padding_mode='circular' convolution (Slice and Concat
    nodes in the convolution's scope), evaluated on the input 0, 1, 2, … and compared with
    F.pad(x, mode='circular'). torch.onnx before PyTorch 2.0 slices x[n−p−1 : n−1] where it
    should slice x[n−p : n] (pytorch/pytorch#86690, fixed by pull request #86984)."""
    x = torch.arange(float(torch.Size(in_shape).numel()), dtype=torch.float64)
    x = x.reshape((1,) + tuple(in_shape))
    produced = {o for n in nodes if in_scope(n, conv_name) and n["op"] in ("Slice", "Concat")
                for o in n["outputs"]}
    values = {}

    def value(name):
        if name in values:
            return values[name]
        if name in tensors:
            return tensors[name]
        if name in produced:
            raise RuntimeError("%s: %s is used before it is computed" % (conv_name, name))
        return x  # the convolution's input, from the layer before

    for n in nodes:
        if not in_scope(n, conv_name) or n["op"] not in ("Slice", "Concat"):
            continue
        if n["op"] == "Slice":
            data, starts, ends, axes = (value(i) for i in n["inputs"][:4])
            steps = value(n["inputs"][4]) if len(n["inputs"]) > 4 else None
            index = [slice(None)] * data.dim()
            for j, axis in enumerate(axes.tolist()):
                step = int(steps[j]) if steps is not None else 1
                index[axis] = slice(int(starts[j]), int(ends[j]), step)
            values[n["outputs"][0]] = data[tuple(index)]
        else:
            values[n["outputs"][0]] = torch.cat([value(i) for i in n["inputs"]],
                                                dim=n["attributes"]["axis"])
    padded = value(conv_node["inputs"][0])
    if padded is x:
        raise RuntimeError("%s: no padding before the convolution" % conv_name)
    want = F.pad(x, module._reversed_padding_repeated_twice, mode="circular")
    return list(padded.shape[1:]), padded.shape == want.shape and bool(torch.equal(padded, want))


def onnx_variant(path, model, layers, extra):
    """What an ONNX file holds: its op types; the BatchNorms the exporter folded into the
    convolution before them (torch.onnx's eval peephole pass does that for Conv -> BatchNorm in
    eval mode), with the σ₁ and reshaped-weight norm of the folded convolution as written; and
    for each padding_mode='circular' convolution, whether the padding written before it is
    PyTorch's. When it is not, the file does not compute the model: the report should say so
    rather than certify it, and the convolution as written is a 'valid' one on the padded map
    (its σ₁ there is recorded)."""
    nodes, tensors = read_onnx(path)
    ops = {}
    for n in nodes:
        ops[n["op"]] = ops.get(n["op"], 0) + 1
    modules = dict(model.named_modules())

    def conv_node_of(name):
        found = [n for n in nodes if n["op"] in ("Conv", "ConvTranspose") and in_scope(n, name)]
        if len(found) != 1:
            raise RuntimeError("%s: %d convolution nodes for %s" % (path, len(found), name))
        return found[0]

    fused = {}
    for bn_name, entry in layers.items():
        if "follows" not in entry or bn_name + ".running_mean" in tensors:
            continue
        conv_name = entry["follows"]
        weight_name = conv_node_of(conv_name)["inputs"][1]
        conv = plain_float64(modules[conv_name])
        with torch.no_grad():
            conv.weight.copy_(tensors[weight_name].double())
        fused[bn_name] = {"into": conv_name, "weight": weight_name,
                          "sigma1": sigma1(dense_linear_part(
                              conv, layers[conv_name]["input_shape"])),
                          "reshaped_weight_norm": reshaped_weight_norm(conv)}
    circular = {}
    for name, entry in layers.items():
        module = modules[name]
        if getattr(module, "padding_mode", "zeros") != "circular":
            continue
        padded_shape, correct = circular_padding_as_written(
            nodes, tensors, conv_node_of(name), name, module, entry["input_shape"])
        item = {"matches_pytorch": correct, "padded_input_shape": padded_shape}
        if not correct:
            valid = plain_float64(module)
            valid.padding_mode, valid.padding = "zeros", (0,) * len(valid.padding)
            item["sigma1_as_written"] = sigma1(dense_linear_part(valid, padded_shape))
        circular[name] = item
    computes_model = all(c["matches_pytorch"] for c in circular.values())
    return {"file": os.path.basename(path), "ops": ops, "fused_batch_norms": fused,
            "circular_padding": circular, "computes_model": computes_model,
            "certified_expected": extra["certified_expected"] and computes_model,
            "expected_reasons": [] if computes_model else ["circular"]}


def torchscript_ops(traced):
    """aten:: operations of the traced graph (with every submodule inlined), with counts."""
    ops = {}
    for node in traced.inlined_graph.nodes():
        if node.kind().startswith("aten::"):
            ops[node.kind()] = ops.get(node.kind(), 0) + 1
    return ops


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def export(name, outdir, show=False):
    model, input_shape, extra = build(name)
    example = torch.randn((1,) + tuple(input_shape),
                          generator=torch.Generator().manual_seed(7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings of spectral_norm's hook
        traced = torch.jit.trace(model, example)
    pt_path = os.path.join(outdir, name + ".pt")
    torch.jit.save(traced, pt_path)
    with torch.no_grad():
        out = model(example)
        check = torch.jit.load(pt_path)(example)
    if not torch.allclose(out, check, rtol=1e-5, atol=1e-6):
        raise RuntimeError("%s: the traced module does not reproduce the model" % name)

    layers = layer_manifest(model, input_shape)
    # The default export, and for models with a BatchNorm also one that keeps every
    # BatchNormalization node (TrainingMode.PRESERVE skips the Conv-BatchNorm folding).
    exports = [(name + ".onnx", {})]
    if any(isinstance(m, BATCH_NORM_TYPES) for m in model.modules()):
        exports.append((name + "_unfused.onnx",
                        {"training": torch.onnx.TrainingMode.PRESERVE}))
    variants = []
    for file_name, options in exports:
        path = os.path.join(outdir, file_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, example, path, opset_version=ONNX_OPSET,
                              do_constant_folding=False, input_names=["input"],
                              output_names=["output"], **options)
        variants.append(onnx_variant(path, model, layers, extra))

    model64 = plain_float64(model)
    manifest = {
        "model": name,
        "description": (type(model).__doc__ or "").strip(),
        "input_shape": list(input_shape),
        "output_shape": list(out.shape[1:]),
        "layers": layers,
        "network_lower_bound": network_lower_bound(
            model64, input_shape, torch.Generator().manual_seed(4242)),
        "torchscript": {"file": name + ".pt", "ops": torchscript_ops(traced)},
        "onnx": variants,
    }
    manifest.update(extra)
    if name == "linear_only":
        manifest["network_sigma1_dense"] = sigma1(dense_linear_part(model64, input_shape))
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if show:
        print("==== %s: traced.inlined_graph" % name)
        print(traced.inlined_graph)
    return manifest


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--print", action="store_true", dest="show",
                        help="print each model's traced graph")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    os.makedirs(args.outdir, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or MODELS
    for name in names:
        start = time.monotonic()
        export(name, args.outdir, args.show)
        sys.stderr.write("%-18s %.1f s\n" % (name, time.monotonic() - start))


if __name__ == "__main__":
    main(sys.argv[1:])
