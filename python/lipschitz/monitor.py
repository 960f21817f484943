"""Monitoring a critic inside a user's own PyTorch training loop, in `lipschitz train`'s run
format, so that `lipschitz view RUN` renders the run (docs/python.md, docs/monitoring.md)."""
import json
import math
import os
import time

import numpy as np

from .conv import conv_norm
from .network import network_bound

__all__ = ["Monitor"]

_OBJECTIVES = ("wgan-gp", "wgan", "gan")


def _write_atomically(path, text):
    """Write to a temporary name beside path, then rename over it: readers never see half."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _finite(v):
    """JSON of the trainer's kind: a non-finite number is null."""
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _stats(prefix, values):
    v = values.double()
    n = v.numel()
    return {f"{prefix}_mean": v.mean().item(),
            f"{prefix}_std": v.std().item() if n > 1 else 0.0,
            f"{prefix}_min": v.min().item(), f"{prefix}_max": v.max().item()}


def _shape(t):
    return "x".join(str(d) for d in t.shape[1:])


class Monitor:
    """Logs, every `every` steps, what `lipschitz train` logs about its critic.

    In a loop: ``monitor.step(step, real=x, fake=g_z, losses={...})``. Each record holds the
    certified spectral norm of every Conv1d/Conv2d/ConvTranspose1d/2d/Linear layer at its real
    input size, a certified bound on the whole critic (``critic_upper_bound``, from
    lipschitz.network_bound: ``combettes`` for critics of Linear layers only, else ``product``,
    as the trainer does), gradient norms at the real, generated and interpolated points,
    per-layer activation gradient norms and weight statistics, and the W estimate and losses.

    The records go to ``OUT/metrics.jsonl`` (one JSON object a line, the trainer's keys), with
    ``OUT/config.json`` and ``OUT/summary.json`` beside them. An existing run is never
    overwritten: pass ``resume=True`` to append to it. Monitoring draws its interpolation
    weights from its own generator, so it does not change the training's random stream, and it
    computes gradients with ``torch.autograd.grad``, so no parameter's ``.grad`` changes. A
    critic in train mode with BatchNorm updates its running statistics in these passes, as any
    forward pass does."""

    def __init__(self, critic, every=100, out="runs/monitor", input_shape=None, *,
                 objective="wgan-gp", penalty_weight=10.0, clip=None, steps=0, data="custom",
                 bound="auto", bound_seconds=5.0, tolerance=1e-6, threads=0, seed=0,
                 resume=False, config=None):
        if objective not in _OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(_OBJECTIVES)}, got {objective!r}")
        if not (isinstance(every, int) and every >= 1):
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if bound not in ("auto", "product", "combettes", "eclipse", "sdp", "regions", "best", "none"):
            raise ValueError(f"bound must be auto, product, combettes, eclipse, sdp, regions, best "
                             f"or none, got {bound!r}")
        self.critic, self.every, self.out = critic, every, os.fspath(out)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.objective, self.penalty_weight, self.clip = objective, float(penalty_weight), clip
        self.bound, self.bound_seconds = bound, float(bound_seconds)
        self.tolerance, self.threads, self.seed = tolerance, threads, seed
        self._generator = None
        self._start = time.perf_counter()
        self._monitor_seconds = 0.0
        self._last_step = None
        self._note_shown = False
        os.makedirs(self.out, exist_ok=True)
        self.metrics_path = os.path.join(self.out, "metrics.jsonl")
        if os.path.exists(self.metrics_path) and not resume:
            raise FileExistsError(f"{self.metrics_path} exists: pass resume=True to append to "
                                  f"that run, or choose another out")
        cfg = {"data": data, "objective": objective,
               "lambda": self.penalty_weight if objective == "wgan-gp" else 0,
               "clip": float(clip) if clip else 0, "steps": int(steps),
               "monitor_every": every, "model": type(critic).__name__,
               "source": "lipschitz.Monitor (Python)"}
        cfg.update(config or {})
        _write_atomically(os.path.join(self.out, "config.json"), json.dumps(cfg, indent=2) + "\n")
        self._steps = int(steps)

    # ------------------------------------------------------------------ the record

    def step(self, step, real, fake, losses=None, heldout=None):
        """Measures the critic at `step` if it is a multiple of `every`; returns the record
        written, or None. real, fake (and heldout): batches of the critic's inputs."""
        if step % self.every != 0:
            return None
        import torch
        t0 = time.perf_counter()
        real, fake = real.detach(), fake.detach()
        n = min(real.shape[0], fake.shape[0])
        real, fake = real[:n], fake[:n]
        if self.input_shape is None:
            self.input_shape = tuple(real.shape[1:])
        critic = self.critic
        record = {"step": int(step),
                  "seconds": time.perf_counter() - self._start - self._monitor_seconds}

        with torch.no_grad():
            s_real, s_fake = critic(real), critic(fake)
        d_real, d_fake = s_real.mean().item(), s_fake.mean().item()
        if self._generator is None:
            self._generator = torch.Generator(device=real.device).manual_seed(self.seed)
        eps = torch.rand((n,) + (1,) * (real.dim() - 1), generator=self._generator,
                         device=real.device, dtype=real.dtype)
        between = eps * real + (1 - eps) * fake
        g_hat, g_real, g_fake = (self._gradient_norms(x) for x in (between, real, fake))
        w = d_real - d_fake
        penalty = (self.penalty_weight * ((g_hat - 1) ** 2).mean().item()
                   if self.objective == "wgan-gp" else 0.0)
        if self.objective == "gan":
            sp = torch.nn.functional.softplus
            critic_loss = (sp(-s_real).mean() + sp(s_fake).mean()).item()
            generator_loss = sp(-s_fake).mean().item()
        else:
            critic_loss, generator_loss = -w + penalty, -d_fake
        record.update({"wasserstein_estimate": w, "critic_loss": critic_loss,
                       "gradient_penalty": penalty, "generator_loss": generator_loss})
        record.update(_stats("grad_norm", g_hat))
        record.update(_stats("grad_norm_real", g_real))
        record.update(_stats("grad_norm_fake", g_fake))
        if heldout is not None:
            with torch.no_grad():
                h = critic(heldout.detach()).mean().item()
            record["heldout_wasserstein_estimate"] = h - d_fake
            record["heldout_critic_loss"] = -(h - d_fake) + penalty
        for key, value in (losses or {}).items():
            record[key] = float(value)

        s0 = time.perf_counter()
        layers = self._layers(real, fake)
        record["layer_spectral_norms"] = {l["name"]: l["spectral_norm"] for l in layers}
        record["layer_grad_norms"] = {l["name"]: l["activation_grad_norm"] for l in layers}
        product = math.prod(l["upper_bound"] for l in layers) if layers else float("nan")
        record.update(self._network(layers, product))
        record["layers"] = [{k: v for k, v in l.items() if k != "_weight"} for l in layers]
        record["weight_histograms"] = {l["name"]: self._histogram(l["_weight"]) for l in layers}
        record["spectral_seconds"] = time.perf_counter() - s0
        record["monitor_seconds"] = time.perf_counter() - t0
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(_finite(record), allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._last_step = int(step)
        self._summary("running")
        self._monitor_seconds += time.perf_counter() - t0
        return record

    def close(self, status="finished", message=""):
        """Writes summary.json with the run's final status (the view shows it)."""
        self._summary(status, message)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        self.close("failed" if kind else "finished", str(value) if value else "")

    # ------------------------------------------------------------------ helpers

    def _gradient_norms(self, x):
        import torch
        x = x.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.critic(x).sum(), x)
        return g.flatten(1).norm(dim=1).detach()

    def _layers(self, real, fake):
        """Every linear map of the critic in forward order, with its input and output shapes,
        certified norm, activation gradient norm and weight statistics."""
        import torch
        kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose1d,
                 torch.nn.ConvTranspose2d, torch.nn.Linear)
        seen = []
        names = {m: name for name, m in self.critic.named_modules()}

        def hook(module, inputs, output):
            seen.append((module, inputs[0].shape, output))

        handles = [m.register_forward_hook(hook) for m in self.critic.modules()
                   if isinstance(m, kinds)]
        try:
            with torch.enable_grad():
                d = self.critic(torch.cat([real, fake]))
                n = real.shape[0]
                if self.objective == "gan":
                    sp = torch.nn.functional.softplus
                    loss = sp(-d[:n]).mean() + sp(d[n:]).mean()
                else:
                    loss = -(d[:n].mean() - d[n:].mean())
                outputs = [o for _, _, o in seen]
                grads = torch.autograd.grad(loss, outputs, allow_unused=True)
        finally:
            for h in handles:
                h.remove()
        layers = []
        for (module, in_shape, output), grad in zip(seen, grads):
            weight = module.weight.detach()
            layer = {"name": names.get(module, "?"), "input_shape": "x".join(map(str, in_shape[1:])),
                     "output_shape": _shape(output)}
            layer.update(self._norm(module, weight, tuple(in_shape[2:])))
            w = weight.double()
            layer.update({"activation_grad_norm": grad.norm().item() if grad is not None else 0.0,
                          "weight_mean": w.mean().item(), "weight_std": w.std().item(),
                          "weight_min": w.min().item(), "weight_max": w.max().item(),
                          "weight_at_clip": (w.abs() >= self.clip * (1 - 1e-6)).double().mean().item()
                          if self.clip else 0.0, "_weight": weight})
            layers.append(layer)
        return layers

    def _norm(self, module, weight, spatial):
        import torch
        if isinstance(module, torch.nn.Linear):
            r = conv_norm(weight[:, :, None, None], 1, tolerance=self.tolerance,
                          threads=self.threads)
        else:
            if getattr(module, "output_padding", (0,)) != (0,) * len(spatial) or \
                    module.padding_mode not in ("zeros", "circular"):
                nan = float("nan")
                return {"spectral_norm": nan, "lower_bound": nan, "upper_bound": nan,
                        "exact": False, "reshaped_weight_norm": nan}
            r = conv_norm(weight, spatial, stride=module.stride, padding=module.padding,
                          dilation=module.dilation, groups=module.groups,
                          padding_mode=module.padding_mode,
                          transposed=isinstance(module, torch.nn.modules.conv._ConvTransposeNd),
                          tolerance=self.tolerance, threads=self.threads)
        return {"spectral_norm": r.spectral_norm, "lower_bound": r.lower, "upper_bound": r.upper,
                "exact": r.exact, "reshaped_weight_norm": r.reshaped_weight_norm}

    def _network(self, layers, product):
        import torch
        method = self.bound
        if method == "auto":
            linear_only = all(isinstance(m, torch.nn.Linear) for m in self.critic.modules()
                              if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)))
            method = "combettes" if linear_only else "product"
        out = {"critic_product_bound": product}
        if method == "none":
            return {**out, "critic_upper_bound": float("nan"), "critic_certified": False}
        try:
            r = network_bound(self.critic, self.input_shape, bound=method,
                              bound_seconds=self.bound_seconds, tolerance=self.tolerance,
                              lower_bound=False, threads=self.threads)
        except Exception as e:  # a critic the importer does not read: no certified bound
            if not self._note_shown:
                print(f"lipschitz.Monitor: no certified bound on the critic: {e}")
                self._note_shown = True
            return {**out, "critic_upper_bound": float("nan"), "critic_certified": False,
                    "critic_bound_note": str(e)}
        certified = bool(r.certified and r.upper is not None)
        return {**out, "critic_upper_bound": r.upper if certified else float("nan"),
                "critic_bound_method": r.method, "critic_certified": certified,
                "critic_product_bound": r.product_bound}

    @staticmethod
    def _histogram(weight):
        w = weight.double().flatten().cpu().numpy()
        lo, hi = float(w.min()), float(w.max())
        if not lo < hi:
            lo, hi = lo - 0.5, hi + 0.5
        counts, _ = np.histogram(w, bins=40, range=(lo, hi))
        return {"min": lo, "max": hi, "counts": counts.tolist()}

    def _summary(self, status, message=""):
        train = time.perf_counter() - self._start - self._monitor_seconds
        summary = {"status": status, "message": message,
                   "steps": self._last_step if self._last_step is not None else 0,
                   "train_seconds": train,
                   "monitor_overhead": self._monitor_seconds / train if train > 0 else 0.0}
        _write_atomically(os.path.join(self.out, "summary.json"),
                          json.dumps(_finite(summary), indent=2) + "\n")
