#!/usr/bin/python3
"""End-to-end tests of `lipschitz view` through the front end (which execs lipschitz-view).

Usage:  /usr/bin/python3 tests/cli/test_view_cli.py /path/to/lipschitz [unittest options]

One short seeded toy run (`lipschitz train --steps 300 --monitor-every 50`, about 10 s on two
cores) is viewed; the page is then opened in headless Chromium. Covers:
  1. usage and errors: exit codes 0 / 1 / 2, messages naming the file (and line);
  2. the program links no LibTorch (it must start in milliseconds);
  3. view.html and charts/NAME.svg|png from a real run: self-contained (no external URL), images
     embedded, one SVG and one PNG per chart at twice the chart's size, the alerts printed;
  4. -o, --no-png, --quiet;
  5. headless Chromium: no console errors, every chart laid out with marks in it
     (body.dataset.charts == the number of charts), a screenshot that is not blank.
     Skipped, with a message, only when `chromium` is not installed (Debian package chromium);
  6. `view --compare A B --figure surfaces|gradients|quality` on two 40-step Swiss-roll runs
     (weight clipping and the penalty, fixed generator): labels from config.json, the pages
     self-contained with their charts as charts/STEM-NAME.svg|png, usage errors (exit 2), runs
     that are not runs or lack a surface (exit 1), the default output file, and each page in
     headless Chromium.
Set LIPSCHITZ_VIEW_SCREENSHOT=FILE to keep the screenshot.
"""

import glob
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.stderr.write("usage: test_view_cli.py /path/to/lipschitz [unittest options]\n")
    sys.exit(2)
BIN = os.path.abspath(sys.argv.pop(1))
VIEW_BIN = os.path.join(os.path.dirname(BIN), "lipschitz-view")
CHROMIUM = shutil.which("chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_XMLNS = 'xmlns="http://www.w3.org/2000/svg"'

TMP = None
RUN = None


def run(*args, timeout=120, cwd=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def setUpModule():
    global TMP, RUN
    TMP = tempfile.mkdtemp(prefix="lipschitz_view_cli_test_")
    RUN = os.path.join(TMP, "run")
    r = run("train", "--out", RUN, "--steps", "300", "--monitor-every", "50", "--sample-every", "100",
            "--threads", "1", "--progress", "none", timeout=600)
    if r.returncode != 0:
        raise RuntimeError("lipschitz train failed (%d): %s" % (r.returncode, r.stderr))


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_MAGIC, path
    return struct.unpack(">II", head[16:24])


def svg_size(path):
    text = read(path)
    m = re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', text)
    assert m, path
    return float(m.group(1)), float(m.group(2))


def external_urls(html):
    """http(s):// anywhere but the SVG namespace of each inline chart."""
    return [m.start() for m in re.finditer(r"https?://", html)
            if html[max(0, m.start() - 7):m.start() - 7 + len(SVG_XMLNS)] != SVG_XMLNS]


def png_rows(path, rows):
    """The first `rows` rows of an 8-bit RGB or RGBA PNG as lists of pixel tuples (a small
    decoder: Debian's python3 has no PIL)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == PNG_MAGIC
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    stride = width * channels
    rows = min(rows, height)
    raw = zlib.decompressobj().decompress(idat, rows * (stride + 1))
    out, prev = [], bytearray(stride)
    for y in range(rows):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        prev = line
    return width, height, out


class Usage(unittest.TestCase):
    def test_help_and_usage_errors(self):
        r = run("view", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Usage: lipschitz view RUN_DIR", r.stdout)
        for flag in ("--out", "--no-png", "--quiet", "--png-scale"):
            self.assertIn(flag, r.stdout)
        r = run("view")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "lipschitz view: missing RUN_DIR (see lipschitz view --help)\n")
        r = run("view", RUN, "--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unrecognised option '--bogus'", r.stderr)
        r = run("view", RUN, "--png-scale", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--png-scale must be in (0, 16]", r.stderr)
        r = run("help")
        self.assertIn("  view     ", r.stdout)

    def test_no_libtorch(self):
        ldd = subprocess.run(["ldd", VIEW_BIN], capture_output=True, text=True)
        self.assertEqual(ldd.returncode, 0, ldd.stderr)
        self.assertNotIn("libtorch", ldd.stdout)
        self.assertNotIn("libc10", ldd.stdout)
        start = time.monotonic()
        self.assertEqual(run("view", "--help").returncode, 0)
        self.assertLess(time.monotonic() - start, 2.0)  # generous: LibTorch alone takes ~1 s

    def test_errors_name_the_file(self):
        missing = os.path.join(TMP, "missing")
        r = run("view", missing)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "lipschitz view: error: %s: no such directory\n" % missing)

        r = run("view", TMP)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "lipschitz view: error: %s: not a run directory (no config.json)\n" % TMP)

        bad = os.path.join(TMP, "bad")
        os.makedirs(bad, exist_ok=True)
        shutil.copy(os.path.join(RUN, "config.json"), bad)
        lines = read(os.path.join(RUN, "metrics.jsonl")).splitlines()
        with open(os.path.join(bad, "metrics.jsonl"), "w") as f:
            f.write(lines[0] + "\n{\"step\": 50, oops\n" + lines[1] + "\n")
        r = run("view", bad)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith(
            "lipschitz view: error: %s/metrics.jsonl:2: not valid JSON: " % bad), r.stderr)
        self.assertFalse(os.path.exists(os.path.join(bad, "view.html")))

        # A partial last line is a record being written, not an error.
        with open(os.path.join(bad, "metrics.jsonl"), "w") as f:
            f.write(lines[0] + "\n" + lines[1] + "\n" + lines[2][:100])
        r = run("view", bad, "--no-png")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(2 records, ", r.stdout)


class ViewRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = run("view", RUN)
        cls.result = r
        cls.html_path = os.path.join(RUN, "view.html")
        cls.html = read(cls.html_path) if r.returncode == 0 else ""
        cls.svgs = sorted(glob.glob(os.path.join(RUN, "charts", "*.svg")))
        cls.pngs = sorted(glob.glob(os.path.join(RUN, "charts", "*.png")))

    def test_output_and_alerts(self):
        r = self.result
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        last = r.stdout.splitlines()[-1]
        self.assertTrue(last.startswith(self.html_path + "  (7 records, %d charts in charts/ as SVG and PNG, "
                                        % len(self.svgs)), last)
        alerts = r.stdout.splitlines()[:-1]
        self.assertTrue(alerts, r.stdout)
        if alerts != ["no alerts"]:
            for line in alerts:
                self.assertRegex(line, r"^(warning|critical)  [a-z_]+  steps? \d+")
                self.assertIn(line.split("  ")[1], self.html)  # the same alerts in the page

    def test_charts(self):
        names = {os.path.basename(p)[:-4] for p in self.svgs}
        for name in ("wasserstein", "critic_loss", "grad_norms", "gradient_penalty", "spectral_norms",
                     "layer_grad_profile", "sample_quality"):
            self.assertIn(name, names)
        self.assertEqual(names, {os.path.basename(p)[:-4] for p in self.pngs})
        records = [l for l in read(os.path.join(RUN, "metrics.jsonl")).splitlines() if l]
        if '"weight_histograms"' in records[-1]:
            self.assertTrue(any(n.startswith("weight_hist_") for n in names), names)
        if glob.glob(os.path.join(RUN, "samples", "surface_step_*.json")):
            self.assertIn("critic_surface", names)
        for svg in self.svgs:
            text = read(svg)
            self.assertTrue(text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ' + SVG_XMLNS), svg)
            self.assertEqual(external_urls(text), [], svg)
            self.assertNotRegex(text, r'="[^"]*\b(nan|inf)\b', svg)
            w, h = svg_size(svg)
            self.assertEqual(png_size(svg[:-4] + ".png"), (round(2 * w), round(2 * h)), svg)

    def test_page_is_self_contained(self):
        html = self.html
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertEqual(external_urls(html), [])
        self.assertNotRegex(html, r"<link|<iframe|@import|url\((?!#)")
        self.assertEqual(html.count("<svg " + SVG_XMLNS), len(self.svgs))
        # The latest sample and the earlier ones (steps 100, 200), embedded.
        self.assertEqual(html.count('<img src="data:image/png;base64,iVBORw0KGgo'), 3)
        self.assertIn("step 300 (latest)", html)
        self.assertIn("300 / 300", html)
        self.assertIn("WGAN-GP (λ = 0.1)", html)
        self.assertNotIn(".tmp", " ".join(os.listdir(RUN)))

    def test_out_no_png_quiet(self):
        out_dir = os.path.join(TMP, "elsewhere")
        os.makedirs(out_dir, exist_ok=True)
        out = os.path.join(out_dir, "page.html")
        r = run("view", RUN, "-o", out, "--no-png", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, out + "\n")
        self.assertTrue(os.path.isfile(out))
        self.assertEqual(len(glob.glob(os.path.join(out_dir, "charts", "*.svg"))), len(self.svgs))
        self.assertEqual(glob.glob(os.path.join(out_dir, "charts", "*.png")), [])


def chromium_dom(url, profile):
    """Chromium's DOM of the page after its script ran, and its stderr."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--user-data-dir=" + profile, "--virtual-time-budget=5000", "--dump-dom", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, r.stderr


def console_errors(stderr, page):
    return [l for l in stderr.splitlines()
            if "Uncaught" in l or "ERROR:CONSOLE" in l or (":CONSOLE" in l and page in l)]


COMPARE_FIGURES = ("surfaces", "gradients", "quality")


class Compare(unittest.TestCase):
    """`lipschitz view --compare` on two short Swiss-roll runs with a fixed generator."""

    @classmethod
    def setUpClass(cls):
        cls.runs = []
        for objective in ("wgan", "wgan-gp"):
            out = os.path.join(TMP, "cmp-" + objective)
            r = run("train", "--out", out, "--data", "swissroll", "--fixed-generator", "--objective", objective,
                    "--steps", "40", "--monitor-every", "20", "--sample-every", "20", "--threads", "1",
                    "--progress", "none", timeout=600)
            if r.returncode != 0:
                raise RuntimeError("lipschitz train failed (%d): %s" % (r.returncode, r.stderr))
            cls.runs.append(out)
        cls.out = os.path.join(TMP, "compare")
        os.makedirs(cls.out, exist_ok=True)
        cls.results = {f: run("view", "--compare", *cls.runs, "--figure", f, "-o", os.path.join(cls.out, f + ".html"))
                       for f in COMPARE_FIGURES}

    def test_pages_and_charts(self):
        for figure in COMPARE_FIGURES:
            with self.subTest(figure=figure):
                r = self.results[figure]
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                lines = r.stdout.splitlines()
                # Each run with its label from config.json (not the directory's name), then the page.
                self.assertEqual(lines[0], self.runs[0] + "  weight clipping c = 0.01")
                self.assertEqual(lines[1], self.runs[1] + "  gradient penalty λ = 0.1")
                html_path = os.path.join(self.out, figure + ".html")
                svgs = sorted(glob.glob(os.path.join(self.out, "charts", figure + "-*.svg")))
                self.assertEqual(lines[2], "%s  (2 runs, %d chart%s in charts/ as SVG and PNG)"
                                 % (html_path, len(svgs), "" if len(svgs) == 1 else "s"))
                html = read(html_path)
                self.assertTrue(html.startswith("<!DOCTYPE html>"))
                self.assertEqual(external_urls(html), [])
                self.assertNotRegex(html, r"<link|<iframe|@import|url\((?!#)")
                self.assertEqual(len(re.findall(r'<svg [^>]*class="chart"', html)), len(svgs))
                self.assertIn("all: Swiss roll · MLP 3×", html)
                self.assertIn("fixed generator", html)
                self.assertIn('>weight clipping c = 0.01<code class="dir">%s</code>' % self.runs[0], html)
                for svg in svgs:
                    text = read(svg)
                    self.assertTrue(text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ' + SVG_XMLNS), svg)
                    self.assertEqual(external_urls(text), [], svg)
                    self.assertNotRegex(text, r'="[^"]*\b(nan|inf)\b', svg)
                    w, h = svg_size(svg)
                    self.assertEqual(png_size(svg[:-4] + ".png"), (round(2 * w), round(2 * h)), svg)
                names = {os.path.basename(p)[len(figure) + 1:-4] for p in svgs}
                expected = {"surfaces": {"surfaces"},
                            "gradients": {"gradients", "grad_ratio", "weight_at_clip"},
                            "quality": {"wasserstein", "critic_loss", "grad_norm", "critic_bound"}}[figure]
                self.assertEqual(names, expected)
        self.assertNotIn(".tmp", " ".join(os.listdir(self.out) + os.listdir(os.path.join(self.out, "charts"))))

    def test_usage_errors(self):
        a, b = self.runs
        for args, message in [
                (("--compare", a, b), "--compare needs --figure surfaces, gradients or quality"),
                (("--compare", "--figure", "quality"), "--compare needs at least one RUN_DIR"),
                (("--compare", a, "--figure", "surface"),
                 "--figure: unknown figure 'surface': choose surfaces, gradients or quality"),
                ((a, "--figure", "quality"), "--figure needs --compare"),
                ((a, b), "one RUN_DIR expected, got 2 (--compare compares several)"),
                (("--compare", a, a + "/", "--figure", "quality"), "RUN_DIR given twice: " + a + "/")]:
            with self.subTest(args=args):
                r = run("view", *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr, "lipschitz view: %s (see lipschitz view --help)\n" % message)
        r = run("view", "--help")
        self.assertIn("lipschitz view --compare RUN_DIR... --figure surfaces|gradients|quality", r.stdout)

    def test_runs_that_cannot_be_compared(self):
        a = self.runs[0]
        r = run("view", "--compare", a, TMP, "--figure", "quality", "-o", os.path.join(self.out, "x.html"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "lipschitz view: error: %s: not a run directory (no config.json)\n" % TMP)
        bare = os.path.join(TMP, "cmp-no-surface")
        shutil.rmtree(bare, ignore_errors=True)
        shutil.copytree(a, bare)
        for f in glob.glob(os.path.join(bare, "samples", "surface_step_*.json")):
            os.remove(f)
        r = run("view", "--compare", a, bare, "--figure", "surfaces", "-o", os.path.join(self.out, "x.html"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "lipschitz view: error: %s: no critic surface (samples/surface_step_N.json): "
                         "--figure surfaces needs runs on 2-D data (8gaussians, 25gaussians, swissroll) with "
                         "samples written (--sample-every)\n" % bare)
        self.assertFalse(os.path.exists(os.path.join(self.out, "x.html")))

    def test_default_output_in_the_current_directory(self):
        cwd = os.path.join(TMP, "cwd")
        os.makedirs(cwd, exist_ok=True)
        r = run("view", "--compare", *self.runs, "--figure", "gradients", "--no-png", "--quiet", cwd=cwd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "compare-gradients.html\n")
        self.assertTrue(os.path.isfile(os.path.join(cwd, "compare-gradients.html")))
        self.assertTrue(os.path.isfile(os.path.join(cwd, "charts", "compare-gradients-gradients.svg")))
        self.assertEqual(glob.glob(os.path.join(cwd, "charts", "*.png")), [])

    @unittest.skipIf(CHROMIUM is None, "chromium is not installed (Debian package chromium): the browser check is skipped")
    def test_in_chromium(self):
        for figure in COMPARE_FIGURES:
            with self.subTest(figure=figure):
                page = os.path.join(self.out, figure + ".html")
                dom, stderr = chromium_dom("file://" + page, os.path.join(TMP, "chromium-compare"))
                self.assertEqual(console_errors(stderr, figure + ".html"), [])
                m = re.search(r'<body[^>]*\bdata-charts="(\d+)"', dom)
                self.assertIsNotNone(m, "the page's script did not run: no data-charts on <body>")
                charts = len(glob.glob(os.path.join(self.out, "charts", figure + "-*.svg")))
                self.assertEqual(len(re.findall(r'<svg [^>]*class="chart"', dom)), charts)
                self.assertEqual(int(m.group(1)), charts)


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (Debian package chromium): the browser check is skipped")
class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = run("view", RUN, "--no-png", "--quiet")
        assert r.returncode == 0, r.stderr
        cls.url = "file://" + os.path.join(RUN, "view.html")
        cls.charts = len(glob.glob(os.path.join(RUN, "charts", "*.svg")))
        cls.profile = os.path.join(TMP, "chromium-profile")

    def chromium(self, *args):
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               "--user-data-dir=" + self.profile, "--virtual-time-budget=5000", *args, self.url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def assert_no_console_errors(self, stderr):
        bad = [l for l in stderr.splitlines()
               if "Uncaught" in l or "ERROR:CONSOLE" in l or (":CONSOLE" in l and "view.html" in l)]
        self.assertEqual(bad, [])

    def test_dom_has_every_chart_drawn(self):
        r = self.chromium("--dump-dom")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assert_no_console_errors(r.stderr)
        dom = r.stdout
        m = re.search(r'<body[^>]*\bdata-charts="(\d+)"', dom)
        self.assertIsNotNone(m, "the page's script did not run: no data-charts on <body>")
        drawn = int(m.group(1))
        in_dom = len(re.findall(r'<svg [^>]*class="chart"', dom))
        self.assertGreaterEqual(in_dom, 7)
        self.assertEqual(in_dom, self.charts)
        self.assertEqual(drawn, in_dom)

    def test_screenshot_is_not_blank(self):
        shot = os.path.join(TMP, "view.png")
        r = self.chromium("--screenshot=" + shot, "--window-size=1400,5000", "--hide-scrollbars")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assert_no_console_errors(r.stderr)
        self.assertTrue(os.path.isfile(shot))
        keep = os.environ.get("LIPSCHITZ_VIEW_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)
        width, height, rows = png_rows(shot, 700)
        self.assertEqual((width, height), (1400, 5000))
        colours = set()
        non_background = 0
        background = rows[-1][-1]
        for row in rows:
            colours.update(row[::7])
            non_background += sum(1 for p in row[::7] if p != background)
        self.assertGreater(len(colours), 50)  # text, charts, the alert box: not one flat colour
        self.assertGreater(non_background / (len(rows) * len(rows[0][::7])), 0.2)


if __name__ == "__main__":
    unittest.main()
