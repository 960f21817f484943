#!/usr/bin/env bash
# Regenerates every run behind docs/reproduction.md (Gulrajani et al. 2017, Figure 1, and the
# GAN / WGAN-clip / WGAN-GP comparisons) with this project's own tools, then the pages and the
# comparison figures. Usage: bash scripts/reproduce.sh [OUT_DIR] [PART...]
#   PART: figure1a figure1b toy fashion (default: all). Needs a build (scripts/setup.sh).
# Times on the project's 2-core VM: figure1a ~30 min, figure1b ~8 min, toy ~20 min,
# fashion ~15 min (FASHION_STAGES="100 200": the generator updates at which to evaluate; add
# stages, e.g. "100 200 400 800 2000", for a longer curve).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/reproduction}
shift || true
PARTS=${*:-figure1a figure1b toy fashion}
L=build/bin/lipschitz
FASHION_STAGES=${FASHION_STAGES:-100 200}
mkdir -p "$OUT"

run() {  # run NAME ARGS...: trains into $OUT/NAME unless it completed before, then its page
  local name=$1
  shift
  if [ ! -f "$OUT/$name/summary.json" ] || ! grep -q '"completed"' "$OUT/$name/summary.json"; then
    rm -rf "${OUT:?}/$name"
    echo "== $name: lipschitz train $*"
    "$L" train --out "$OUT/$name" --progress none "$@"
  fi
  "$L" view "$OUT/$name" --quiet
}

for part in $PARTS; do
  case $part in
    figure1a)
      # Figure 1a: critics trained to optimality against a fixed "generator" (real data +
      # N(0, 1) noise, gan_toy.py's FIXED_GENERATOR), the paper's toy MLP (3 × 512 ReLU),
      # weight clipping (c = 0.01, RMSProp) vs gradient penalty (λ = 0.1, gan_toy.py's, Adam).
      for data in 8gaussians 25gaussians swissroll; do
        run "fig1a-$data-clip" --data "$data" --fixed-generator --objective wgan --clip 0.01 \
          --width 512 --steps 2000 --monitor-every 250 --sample-every 1000
        run "fig1a-$data-gp" --data "$data" --fixed-generator --objective wgan-gp \
          --width 512 --steps 2000 --monitor-every 250 --sample-every 1000
        # The paper's λ = 10, half the length (each update costs more).
        run "fig1a-$data-gp10" --data "$data" --fixed-generator --objective wgan-gp \
          --lambda 10 --width 512 --steps 1000 --monitor-every 250 --sample-every 1000
      done
      "$L" view --compare "$OUT"/fig1a-*-clip "$OUT"/fig1a-*-gp "$OUT"/fig1a-*-gp10 \
        --figure surfaces -o "$OUT/figure1a.html"
      ;;
    figure1b)
      # Figure 1b: a 12-layer ReLU critic on the Swiss roll; per-layer gradient norms and
      # weights under clipping c = 0.1, 0.01, 0.001 and under the penalty (λ = 10 as in the
      # figure's caption).
      for c in 0.1 0.01 0.001; do
        run "fig1b-clip-$c" --data swissroll --objective wgan --clip "$c" --depth 12 \
          --width 512 --steps 500 --monitor-every 50 --sample-every 500
      done
      run fig1b-gp --data swissroll --objective wgan-gp --lambda 10 --depth 12 --width 512 \
        --steps 500 --monitor-every 50 --sample-every 500
      "$L" view --compare "$OUT"/fig1b-clip-0.1 "$OUT"/fig1b-clip-0.01 "$OUT"/fig1b-clip-0.001 \
        "$OUT"/fig1b-gp --figure gradients -o "$OUT/figure1b.html"
      ;;
    toy)
      # GAN, WGAN with clipping and WGAN-GP on 8 and 25 Gaussians, the same budget (3,000
      # generator updates, each objective with its paper's optimiser).
      for data in 8gaussians 25gaussians; do
        for objective in gan wgan wgan-gp; do
          run "toy-$data-$objective" --data "$data" --objective "$objective" --steps 3000 \
            --monitor-every 250 --sample-every 1500
        done
      done
      "$L" view --compare "$OUT"/toy-8gaussians-* --figure quality -o "$OUT/toy-8gaussians.html"
      "$L" view --compare "$OUT"/toy-25gaussians-* --figure quality -o "$OUT/toy-25gaussians.html"
      ;;
    fashion)
      # The three objectives on Fashion-MNIST (DCGAN 28×28), the same budget of generator
      # updates. Trained in stages so that `lipschitz eval` can score the generator along the
      # way: eval_step_N.json (classifier FID and Inception-style score) at each stage.
      for objective in gan wgan wgan-gp; do
        dir="$OUT/fashion-$objective"
        for steps in $FASHION_STAGES; do
          if [ ! -f "$dir/eval_step_$(printf %07d "$steps").json" ]; then
            if [ -f "$dir/checkpoint.pt" ]; then
              "$L" train --resume "$dir" --steps "$steps" --progress none
            else
              rm -rf "$dir"
              "$L" train --out "$dir" --data fashion-mnist --objective "$objective" \
                --steps "$steps" --monitor-every 50 --sample-every 100 --progress none
            fi
            "$L" eval "$dir" --json > "$dir/eval_step_$(printf %07d "$steps").json"
          fi
        done
        "$L" view "$dir" --quiet
      done
      "$L" view --compare "$OUT"/fashion-* --figure quality -o "$OUT/fashion.html"
      ;;
    *)
      echo "reproduce.sh: unknown part '$part' (figure1a figure1b toy fashion)" >&2
      exit 2
      ;;
  esac
done
echo "reproduce.sh: pages in $OUT"
