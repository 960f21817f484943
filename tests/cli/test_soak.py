#!/usr/bin/python3
"""kill -9 soak test of `lipschitz train`: SIGKILL at 10 random moments, resume after each.

Usage:  /usr/bin/python3 tests/cli/test_soak.py /path/to/lipschitz [unittest options]

A tiny seeded `--deterministic` run (the MLP of test_gan_cli.py, a record every step, a
checkpoint every 5 steps) is killed 10 times: five times at a random step, five times the
moment a checkpoint's temporary file appears (a kill during the checkpoint write). After each
kill:
  - checkpoint.pt loads (PyTorch's torch.jit.load, as a user's script reads it);
  - at most one checkpoint interval of work is lost (the last logged step minus the
    checkpoint's step is at most --checkpoint-every);
  - metrics.jsonl has no torn line but possibly the last one (one kill is followed by half a
    line appended by hand, as a power loss could leave it), and `lipschitz view` renders the
    directory (exit 0).
Then `lipschitz train --resume` continues, until the next kill. The finished run must equal an
uninterrupted one: the same parameters and optimiser states bit for bit, the same records
(timings aside), no temporary file left, and `lipschitz eval` reads it.

The kill moments come from a seeded generator (LIPSCHITZ_SOAK_SEED, default 20261207); the
seed is printed so that a failure can be replayed. The whole test takes about a minute.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import torch
except ImportError:  # the checkpoint and parameter checks then use `lipschitz sample`/records
    torch = None

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_soak.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))

STEPS = 300
CHECKPOINT_EVERY = 5
KILLS = 10
RUN = ["--steps", STEPS, "--checkpoint-every", CHECKPOINT_EVERY, "--monitor-every", 1,
       "--deterministic", "--seed", 7, "--width", 16, "--depth", 2, "--batch-size", 32,
       "--threads", 1, "--progress", "none"]
# Keys of a record that measure time, not the run's state: they differ between two runs.
TIMING_KEYS = {"seconds", "spectral_seconds", "monitor_seconds"}
SEED = int(os.environ.get("LIPSCHITZ_SOAK_SEED", "20261207"))


def lipschitz(args, timeout=120):
    p = subprocess.run([BIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def records(path):
    """The complete lines of metrics.jsonl, parsed, and whether a partial last line follows."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    torn = lines.pop() != b""  # the text after the last newline: empty unless a write was cut
    return [json.loads(line) for line in lines], torn


def temporaries(directory):
    out = []
    for root, _, files in os.walk(directory):
        out += [os.path.join(root, f) for f in files if ".tmp-" in f]
    return out


def checkpoint_state(path):
    """(step, {name: tensor}) of a checkpoint read by PyTorch: parameters, buffers and the
    optimiser states it holds as attributes."""
    m = torch.jit.load(path, map_location="cpu")
    return int(m.step), {k: v.clone() for k, v in m.state_dict().items()}


class SoakTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lipschitz_soak_")
        cls.reference = os.path.join(cls.tmp, "reference")
        rc, _, err = lipschitz(["train", "--out", cls.reference] + RUN)
        if rc != 0:
            raise AssertionError("the uninterrupted run failed (exit %d): %s" % (rc, err))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        for f in self.logs:
            f.close()

    def start(self, args):
        err = open(os.path.join(self.tmp, "stderr-%d" % len(self.logs)), "wb+")
        self.logs.append(err)
        return subprocess.Popen([BIN] + [str(a) for a in args], stdout=subprocess.DEVNULL,
                                stderr=err)

    def wait_until(self, proc, ready, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                self.logs[-1].seek(0)
                self.fail("training ended (exit %d) before %s: %s"
                          % (proc.returncode, what, self.logs[-1].read().decode(errors="replace")))
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self.fail("no %s within %d s" % (what, timeout))

    def last_step(self, d):
        """The last complete record's step (-1 before the first); cheap enough to poll."""
        try:
            with open(os.path.join(d, "metrics.jsonl"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 65536))
                tail = f.read()
        except FileNotFoundError:
            return -1
        lines = tail.split(b"\n")[:-1]
        return json.loads(lines[-1])["step"] if lines and lines[-1].startswith(b"{") else -1

    def check_after_kill(self, d, kill):
        what = "after kill %d" % kill
        # The checkpoint loads, and holds the state of a step that was logged.
        if torch is not None:
            step, _ = checkpoint_state(os.path.join(d, "checkpoint.pt"))
        else:
            rc, out, err = lipschitz(["sample", d, "--out", os.path.join(self.tmp, "probe.png")])
            self.assertEqual(rc, 0, "%s: lipschitz sample: %s" % (what, err))
            step = int(out.split("at step ")[1].split()[0])
        self.assertEqual(step % CHECKPOINT_EVERY, 0, what)
        recs, torn = records(os.path.join(d, "metrics.jsonl"))
        steps = [r["step"] for r in recs]
        self.assertIn(step, steps, what)
        # At most one checkpoint interval of work is lost.
        self.assertLessEqual(steps[-1] - step, CHECKPOINT_EVERY, "%s: logged up to step %d, "
                             "checkpoint at step %d" % (what, steps[-1], step))
        self.torn += torn
        rc, _, err = lipschitz(["view", d])
        self.assertEqual(rc, 0, "%s: lipschitz view: %s" % (what, err))
        return step

    def test_ten_kills_then_equal_to_the_uninterrupted_run(self):
        print("\nsoak seed %d (LIPSCHITZ_SOAK_SEED replays it)" % SEED, file=sys.stderr)
        rng = random.Random(SEED)
        d = os.path.join(self.tmp, "killed")
        self.logs, self.torn = [], 0
        caught_writing = 0
        args = ["train", "--out", d] + RUN
        checkpoint = os.path.join(d, "checkpoint.pt")
        for kill in range(KILLS):
            proc = self.start(args)
            if kill == 0:  # the first run must have a checkpoint to resume from
                self.wait_until(proc, lambda: os.path.exists(checkpoint), "a first checkpoint")
            if kill % 2 == 0:
                # A random moment: a few steps on, plus a fraction of a step.
                target = max(self.last_step(d), 0) + rng.randint(2, 20)
                self.wait_until(proc, lambda: self.last_step(d) >= target, "step %d" % target)
                time.sleep(rng.uniform(0, 0.004))
            else:
                # During a checkpoint write: the moment its temporary file exists (busy-polled:
                # the write takes milliseconds). Skip a random number of writes first.
                skip = rng.randint(0, 2)
                seen = set()

                def writing():
                    names = [f for f in os.listdir(d) if f.startswith("checkpoint.pt.tmp-")]
                    seen.update(names)
                    return names and len(seen) > skip
                self.wait_until(proc, writing, "a checkpoint write")
            proc.send_signal(signal.SIGKILL)
            self.assertEqual(proc.wait(timeout=30), -signal.SIGKILL,
                             "kill %d: the run ended by itself" % kill)
            caught_writing += any(f.startswith("checkpoint.pt.tmp-") for f in os.listdir(d))
            if kill == 3:
                # A line cut by a power loss (one write of a whole line cannot be cut by a
                # kill): the readers and the resume must take it too.
                with open(os.path.join(d, "metrics.jsonl"), "ab") as f:
                    f.write(b'{"step": 100000, "seconds": 0.1, "wasserstein_es')
            step = self.check_after_kill(d, kill)
            self.assertLess(step, STEPS, "kill %d came after the run's end" % kill)
            args = ["train", "--resume", d, "--threads", 1, "--progress", "none"]
        rc, _, err = lipschitz(args)
        self.assertEqual(rc, 0, "the last resume: %s" % err)
        print("soak: %d kills, %d during a checkpoint write (temporary file left), %d torn "
              "metrics lines seen" % (KILLS, caught_writing, self.torn), file=sys.stderr)
        self.assertGreater(caught_writing, 0, "no kill landed during a checkpoint write")
        self.check_equal_to_reference(d)

    def check_equal_to_reference(self, d):
        self.assertEqual(temporaries(d), [], "temporary files left after the resumes")
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
        self.assertEqual((summary["status"], summary["steps"]), ("completed", STEPS))
        got, torn = records(os.path.join(d, "metrics.jsonl"))
        want, _ = records(os.path.join(self.reference, "metrics.jsonl"))
        self.assertFalse(torn)
        self.assertEqual([r["step"] for r in got], list(range(STEPS + 1)))
        for g, w in zip(got, want):
            for key in TIMING_KEYS:
                g.pop(key, None)
                w.pop(key, None)
            self.assertEqual(g, w, "step %d differs from the uninterrupted run" % w["step"])
        with open(os.path.join(d, "metrics.csv")) as f:
            self.assertEqual(len(f.readlines()), STEPS + 2, "metrics.csv: a header, a row a step")
        if torch is not None:
            step, state = checkpoint_state(os.path.join(d, "checkpoint.pt"))
            ref_step, ref_state = checkpoint_state(os.path.join(self.reference, "checkpoint.pt"))
            self.assertEqual((step, sorted(state)), (ref_step, sorted(ref_state)))
            for name, tensor in ref_state.items():
                self.assertTrue(torch.equal(state[name], tensor),
                                "%s differs from the uninterrupted run's" % name)
        rc, out, err = lipschitz(["eval", d, "--json", "--threads", 1, "--samples", 500])
        self.assertEqual(rc, 0, "lipschitz eval: %s" % err)
        self.assertEqual(json.loads(out)["step"], STEPS)


if __name__ == "__main__":
    unittest.main()
