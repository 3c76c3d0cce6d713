"""Stage-1 realism: can a small classifier tell the mouths of V' from real ones? (issue #12)

X-Dub's bootstrapping works only if stage 1's mouths look real: where they do not, the editor
can learn "keep the lips that look real" and dubbing leaks the old lips. The judge here is a
deliberately small CNN on a mouth box cut from each crop (real = the pair's target V, fake =
its input V'). It serves two callers with the same pieces:

- `scripts/stage1_realism.py` measures a store: held-out accuracy (50 % = indistinguishable).
- `filter_by_realism` scores every stage-1 pair of a finished store with a judge trained on the
  other folds' clips (cross-fitting: the judge never saw the pair's face) and stops accepting
  the pairs whose mouths it spots (`PairGenConfig.realism`).

The filter rewrites the shard manifests (score `realism` in each judged row; reason `realism`
where it fails), then the merged manifest, and writes `realism.json` last: a rerun with that
file present does nothing. The judge is seeded and single-threaded-deterministic, so two
processes finishing at once write the same rows.
Imports: numpy, cv2, torch, tqdm, xdub.{atomic, config, data}.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from xdub.atomic import write_json_atomic
from xdub.config.train import RealismFilterConfig
from xdub.data.manifest import read_rows, write_rows
from xdub.data.pairs import PairStore, merge_manifests

MARKER = "realism.json"
REASON = "realism"  # the failed filter's name in a rejected row
NOT_JUDGED = ("prior_only",)  # self-made pairs: real lips, no stage-1 mouth to judge
LEARNED = 0.55  # train accuracy below this: the judge never fit (a dead start), not a verdict
BATCH = 128


def mouth_boxes(crops: np.ndarray, box: tuple[float, float, float], side: int) -> np.ndarray:
    """[T, S, S, 3] uint8 crops -> [T, 3, side, side] float32 in [0, 1] around the mouth box."""
    size = crops.shape[1]
    cx, cy, width = box[0] * size, box[1] * size, box[2] * size
    x0, y0 = int(round(cx - width / 2)), int(round(cy - width / 2))
    x1, y1 = x0 + int(round(width)), y0 + int(round(width))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
    out = [cv2.resize(frame[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_AREA)
           for frame in crops]
    return np.stack(out).astype(np.float32).transpose(0, 3, 1, 2) / 255.0


def mouth_judge() -> nn.Module:
    """Three strided convolutions and a linear read-out (logit of "real")."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 1))


def train_judge(real: np.ndarray, fake: np.ndarray, steps: int, seed: int,
                log_every: int = 0) -> tuple[nn.Module, float]:
    """Fit `mouth_judge` on [N, 3, s, s] real vs fake boxes; returns it and its train accuracy."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.concatenate([real, fake]))
    y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    model = mouth_judge()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(steps):
        pick = torch.from_numpy(rng.integers(0, len(x), BATCH))
        loss = nn.functional.binary_cross_entropy_with_logits(model(x[pick]).squeeze(1), y[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and step % log_every == 0:
            print(f"step {step}: loss {loss.item():.3f}", flush=True)
    return model, accuracy(model, real, fake)


@torch.no_grad()
def p_real(model: nn.Module, boxes: np.ndarray) -> np.ndarray:
    """The judge's P(real) per box."""
    return torch.sigmoid(model(torch.from_numpy(boxes)).squeeze(1)).numpy()


def accuracy(model: nn.Module, real: np.ndarray, fake: np.ndarray) -> float:
    """Share of boxes on the right side of 0.5 (real and fake counted per box)."""
    right = np.concatenate([p_real(model, real) > 0.5, p_real(model, fake) <= 0.5])
    return float(right.mean())


def judged_rows(store: PairStore) -> list[int]:
    """Indices into `store.rows` of the pairs with a stage-1 mouth (stored, not self-made)."""
    return [i for i, row in enumerate(store.rows) if not set(row.reasons) & set(NOT_JUDGED)]


def cross_fitted_scores(store: PairStore, cfg: RealismFilterConfig,
                        progress: bool = True) -> tuple[dict[str, float], list[float]]:
    """{pair id: mean P(real) of its V' mouth frames} over the judged pairs, each scored by the
    judge of the folds it is not in; and each judge's train accuracy."""
    rows = judged_rows(store)
    if len(rows) < 2 * cfg.folds:  # too few clips to train a judge without the scored ones
        return {}, []
    real, fake = [], []
    for i in tqdm(rows, desc="realism: mouths", unit="pair", disable=not progress):
        arrays = store.load(i)
        real.append(mouth_boxes(arrays["target_crops"], cfg.box, cfg.side))
        fake.append(mouth_boxes(arrays["input_crops"], cfg.box, cfg.side))
    fold = np.random.default_rng(cfg.seed).permutation(len(rows)) % cfg.folds
    scores: dict[str, float] = {}
    fitted: list[float] = []
    for k in tqdm(range(cfg.folds), desc="realism: judges", disable=not progress):
        train = [j for j in range(len(rows)) if fold[j] != k]
        model, train_acc = train_judge(np.concatenate([real[j] for j in train]),
                                       np.concatenate([fake[j] for j in train]),
                                       cfg.steps, cfg.seed + k)
        fitted.append(round(train_acc, 4))
        for j in np.flatnonzero(fold == k):
            scores[store.rows[rows[j]].pair_id] = float(p_real(model, fake[j]).mean())
    return scores, fitted


def filter_by_realism(folder: str | Path, cfg: RealismFilterConfig,
                      progress: bool = True) -> dict | None:
    """Score and filter a finished pair folder (see the module text); returns the summary written
    to `realism.json`, or None when the filter is off. Already filtered: that file's summary."""
    folder = Path(folder)
    marker = folder / MARKER
    if not cfg.enabled:
        return None
    if marker.is_file():
        return json.loads(marker.read_text())
    store = PairStore(folder, accepted_only=False)
    scores, fitted = cross_fitted_scores(store, cfg, progress)
    # A judge that never fit has no verdict: then nothing is rejected for realism.
    live = all(acc >= LEARNED for acc in fitted)
    shard_files = sorted(folder.glob("shard_*.jsonl"))
    rejected = accepted = 0
    for path in shard_files:
        out = []
        for row in read_rows(path):
            if row.pair_id in scores:
                score = scores[row.pair_id]
                fails = live and score < cfg.min_score
                reasons = [r for r in row.reasons if r != REASON] + ([REASON] if fails else [])
                rejected += reasons == [REASON]  # passed every other filter
                row = dataclasses.replace(row, scores={**row.scores, REASON: score},
                                          reasons=reasons, accepted=not reasons)
            out.append(row)
            accepted += row.accepted and row.file is not None  # what PairStore will read
        write_rows(path, out)
    merge_manifests(folder, len(shard_files))
    values = np.array(list(scores.values())) if scores else np.zeros(1)
    summary = {"judged": len(scores), "judge_train_accuracy": fitted, "judges_learned": live,
               "min_score": cfg.min_score, "rejected_for_realism": rejected,
               "accepted": accepted,
               "score_quartiles": [round(float(q), 4) for q in
                                   np.quantile(values, [0.25, 0.5, 0.75])],
               "config": dataclasses.asdict(cfg)}
    write_json_atomic(marker, summary)
    return json.loads(marker.read_text())  # as a rerun reads it (tuples become lists)
