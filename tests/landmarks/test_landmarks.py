"""The landmark refiner: model, crop / refine functions, training recipe, `xdub train landmarks`,
and dubbing with a folder that ships one (issue #12, non-human faces)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from xdub.cli.main import main
from xdub.config import to_dict
from xdub.config.face import AlignConfig
from xdub.config.infer import DubberConfig, InferConfig
from xdub.config.landmarks import LandmarkNetConfig, LandmarkRefineConfig, LandmarkTrainConfig
from xdub.errors import ConfigError, WeightsError
from xdub.face.align import template_keypoints, template_landmarks
from xdub.face.detect import FaceDetection
from xdub.face.landmarks import MEAN_SHAPE, keypoints, similarity_fit, transform_points
from xdub.face.refine import RefinedDetector, refine_landmarks
from xdub.generation.folder import LANDMARK_DIR, read_dubber_config, write_dubber_config
from xdub.models.landmark_net import LandmarkNet
from xdub.pipeline import load_pipeline
from xdub.pipeline.loading import random_pipeline, save_pipeline
from xdub.train.frame_recipes import scenario_seeds
from xdub.train.landmarks import (
    align_points,
    batches,
    cut_crops,
    displaced,
    keypoint_error,
    landmark_loss,
    render_frames,
)

CROP = AlignConfig(crop_size=32, extent=3.2, center_y=0.6, smooth=False, interpolation="linear")
SMALL = LandmarkNetConfig(crop=CROP, width=8, levels=3, hidden=16)


def _cfg(**changes) -> LandmarkTrainConfig:
    base = LandmarkTrainConfig(model=SMALL, scenarios=("nonhuman", "standard"), clips=(2, 1),
                               val_clips=1, clip_seconds=0.4, frame_stride=2, size=(128, 128))
    return replace(base, loop=replace(base.loop, steps=2, batch_size=4, log_every=1), **changes)


def _face(scale: float = 40.0, angle: float = 0.2, at=(70.0, 60.0)) -> np.ndarray:
    """The mean face turned, scaled and placed in a frame: `[68, 2]`."""
    c, s = np.cos(angle), np.sin(angle)
    return (MEAN_SHAPE @ (scale * np.array([[c, -s], [s, c]])).T + np.array(at)).astype(np.float32)


class _Detector:
    def __init__(self, landmarks: np.ndarray | None) -> None:
        self.landmarks, self.refined = landmarks, 0

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        box = np.array([10, 10, 100, 100], np.float32)
        return [FaceDetection(box, 0.9, self.landmarks)]

    def refine(self, frame: np.ndarray, previous: FaceDetection) -> FaceDetection | None:
        self.refined += 1
        return previous


def test_template_landmarks_put_the_keypoints_where_alignment_does() -> None:
    np.testing.assert_allclose(keypoints(template_landmarks(32, CROP)),
                               template_keypoints(32, CROP),
                               atol=1e-4)


def test_a_refiner_that_sees_the_mean_face_keeps_the_landmarks() -> None:
    # A predictor returning the template says "the face is where the crop put it": landmarks that
    # are an exact similarity of the mean face are then a fixed point, after any number of passes.
    start = _face()
    frame = np.zeros((128, 128, 3), np.uint8)
    calls = []

    def predict(crops: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(crops.shape)
        return template[None].repeat(len(crops), 0), np.full(len(crops), 0.7, np.float32)

    out, presence = refine_landmarks(predict, frame, start, CROP, passes=3)
    np.testing.assert_allclose(out, start, atol=1e-3)
    assert calls == [(1, 32, 32, 3)] * 3 and presence == pytest.approx(0.7)


def test_refine_maps_crop_points_back_to_the_frame() -> None:
    # A predictor that knows the truth (in the crop it is given) recovers it in one pass.
    truth = _face(scale=42.0, angle=-0.1, at=(66.0, 58.0))
    frame = np.zeros((128, 128, 3), np.uint8)
    start = displaced(truth, LandmarkTrainConfig(), np.random.default_rng(0))
    affine = similarity_fit(keypoints(start)[:5], template_keypoints(32, CROP)[:5],
                            np.array([1, 1, 1, 0.5, 0.5]))
    out, _ = refine_landmarks(
        lambda crops, template: (transform_points(truth, affine)[None], np.ones(1)), frame,
        start, CROP, passes=1)
    np.testing.assert_allclose(out, truth, atol=1e-3)
    assert keypoint_error(out, truth) < 1e-4 < keypoint_error(start, truth)


def _keep(crops: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A refiner that keeps the (exact) mean face where it is and sees a face everywhere."""
    return template[None].repeat(len(crops), 0), np.ones(len(crops), np.float32)


def test_refined_detector_moves_landmarks_only() -> None:
    inner = _Detector(_face())
    moved = _face(at=(75.0, 60.0))
    detector = RefinedDetector(inner, _keep, CROP, LandmarkRefineConfig(passes=1))
    frame = np.zeros((128, 128, 3), np.uint8)
    [face] = detector.detect(frame)
    np.testing.assert_array_equal(face.box, [10, 10, 100, 100])
    np.testing.assert_allclose(face.landmarks, inner.landmarks, atol=1e-3)
    again = detector.refine(frame, replace(face, landmarks=moved))
    assert again is not None and inner.refined == 1
    np.testing.assert_allclose(again.landmarks, moved, atol=1e-3)
    no_landmarks = RefinedDetector(_Detector(None), _keep, CROP, LandmarkRefineConfig(passes=1))
    assert no_landmarks.detect(frame)[0].landmarks is None


class _Blind(_Detector):
    """Finds nothing above its threshold; lists two candidates at one place and one elsewhere."""

    def __init__(self) -> None:
        super().__init__(None)
        self.asked: list[tuple] = []

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        return []

    def candidates(self, frame, model, min_score, limit) -> list[FaceDetection]:
        self.asked.append((model, min_score, limit))
        box = np.zeros(4, np.float32)
        return [FaceDetection(box, 0.3, _face()), FaceDetection(box, 0.2, _face(at=(71.0, 60.0))),
                FaceDetection(box, 0.1, _face(scale=20.0, at=(20.0, 100.0)))]


def test_the_fallback_keeps_recognised_candidates_once_per_place() -> None:
    frame = np.zeros((128, 128, 3), np.uint8)
    off = RefinedDetector(_Blind(), _keep, CROP, LandmarkRefineConfig())
    assert off.detect(frame) == [] and off.detector.asked == []  # fallback_score 0: off
    cfg = LandmarkRefineConfig(fallback_score=0.1, fallback_candidates=3, fallback_passes=2)
    on = RefinedDetector(_Blind(), _keep, CROP, cfg)
    faces = on.detect(frame)
    assert on.detector.asked == [("full", 0.1, 3)]
    assert len(faces) == 2  # the two candidates at one place are one face
    np.testing.assert_allclose(faces[0].landmarks, _face(), atol=1e-3)
    assert faces[0].score == 1.0 and faces[0].box[0] == pytest.approx(_face()[:, 0].min(), abs=1e-3)

    def unsure(crops: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return template[None].repeat(len(crops), 0), np.full(len(crops), 0.5, np.float32)

    assert RefinedDetector(_Blind(), unsure, CROP, cfg).detect(frame) == []  # < min_presence
    tiny = RefinedDetector(_Blind(), _keep, CROP, cfg, min_face_px=60.0)  # the small face goes
    assert len(tiny.detect(frame)) == 1


def test_net_shapes_round_trip_and_starts_at_the_template(tmp_path: Path) -> None:
    net = LandmarkNet(SMALL).eval()
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    template = template_landmarks(32, CROP).astype(np.float32)
    points, presence = net.predict(crops, template)
    assert points.shape == (3, 68, 2) and points.dtype == np.float32 and presence.shape == (3,)
    np.testing.assert_allclose(points, template[None].repeat(3, 0))  # zero head
    np.testing.assert_allclose(presence, 0.5)
    torch.manual_seed(0)
    torch.nn.init.normal_(net.head[-1].weight, std=0.01)
    net.save_pretrained(tmp_path / "lm")
    again = LandmarkNet.from_pretrained(tmp_path / "lm")
    for a, b in zip(again.predict(crops, template), net.predict(crops, template)):
        np.testing.assert_array_equal(a, b)


def test_config_and_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        LandmarkNetConfig(crop=replace(CROP, crop_size=36), levels=3)
    with pytest.raises(ConfigError):
        LandmarkTrainConfig(scenarios=("nonhuman",), clips=(1, 2))
    with pytest.raises(ConfigError):
        LandmarkTrainConfig(jittered=0, detector=False)
    with pytest.raises(ConfigError):
        LandmarkRefineConfig(passes=0)
    with pytest.raises(ConfigError):
        LandmarkRefineConfig(fallback_score=1.0)
    with pytest.raises(WeightsError, match="landmark refiner checkpoint incomplete"):
        LandmarkNet.from_pretrained(tmp_path)


def test_engine_crops_and_batches() -> None:
    cfg = _cfg()
    assert scenario_seeds(cfg, 0, False) == [4_000_000, 4_000_001]
    assert scenario_seeds(cfg, 1, True) == [4_150_000]  # held out: never trained on
    pool = render_frames(cfg)
    assert pool.frames.shape == (15, 128, 128, 3) and pool.landmarks.shape == (15, 68, 2)
    data = cut_crops(cfg, pool)
    # per frame: two displaced crops, one from the detector where it finds the face, one placed
    # where the face is not, and up to two low-score candidates that are not the face
    faces, others = int(data.present.sum()), int((~data.present).sum())
    assert 30 <= faces <= 45 and 15 <= others <= 45 and data.crops.shape[1:] == (32, 32, 3)
    assert data.targets.shape == (len(data.crops), 68, 2)
    first = next(batches(cfg, data, 5))
    again = next(batches(cfg, data, 5))  # batch i depends on i only (resume)
    assert first[0].shape == (4, 3, 32, 32) and first[1].shape == (4, 68, 2)
    assert first[2].shape == (4,)
    torch.testing.assert_close(first[0], again[0])
    net = LandmarkNet(SMALL)
    template = torch.from_numpy(template_landmarks(32, CROP).astype(np.float32))
    present = torch.tensor([1.0, 1.0, 0.0, 1.0])
    loss, logs = landmark_loss(net, first[0], first[1], present, template, 4.0, 1.0)
    assert loss.item() > 0 and set(logs) == {"points", "keypoints", "presence"}
    target = first[1].clone()
    target[2] += 100.0  # a negative's points are never compared

    def exact(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (first[1] - template) / 8, (present * 2 - 1) * 50

    loss, _ = landmark_loss(exact, first[0], target, present, template, 4.0, 1.0)
    assert loss.item() < 1e-6  # 0 when points and presence are right
    assert align_points(first[1]).shape == (4, 5, 2)


def test_train_landmarks_command_runs_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "lm.yaml"
    config.write_text(yaml.safe_dump(to_dict(_cfg())))
    run = tmp_path / "run"
    assert main(["train", "landmarks", "--config", str(config), "--run-dir", str(run)]) == 0
    figures = json.loads((run / "final" / "metrics.json").read_text())
    assert {"found", "detector_iod_mean", "refined_iod_mean", "refined_iod_p90",
            "found_with_fallback", "fallback_false_face_frames"} <= set(figures)
    LandmarkNet.from_pretrained(run / "final")
    assert main(["train", "landmarks", "--config", str(config), "--run-dir", str(run),
                 "--steps", "3"]) == 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_a_folder_with_a_refiner_dubs_through_it(tmp_path: Path) -> None:
    folder = save_pipeline(random_pipeline("tiny", crop_size=32), tmp_path / "ckpt")
    spec = read_dubber_config(folder)
    write_dubber_config(folder, replace(spec, landmarks=LandmarkRefineConfig(enabled=True)))
    with pytest.raises(WeightsError, match="enables landmarks but landmarks/"):
        load_pipeline(checkpoint=folder)
    LandmarkNet(SMALL).save_pretrained(folder / LANDMARK_DIR)
    pipe = load_pipeline(checkpoint=folder)
    assert isinstance(pipe.landmark_net, LandmarkNet)
    detect, side = pipe.dubber.face.detect, InferConfig().detect_max_side
    assert isinstance(pipe.finder.detector(detect, (64, 64), side), RefinedDetector)
    assert not isinstance(pipe.finder.detector(detect, (64, 64), side, refine_landmarks=False),
                          RefinedDetector)
    saved = save_pipeline(pipe, tmp_path / "again")
    assert (saved / LANDMARK_DIR / "config.json").is_file()
    assert DubberConfig().landmarks.enabled is False  # off unless a folder ships one


def test_the_shipped_default_refines_with_the_recipe_s_net() -> None:
    """The embedded default ships a refiner made by configs/landmarks/train_tiny.yaml (the
    chain's `landmarks_train`), used as that recipe's `dubbing` says."""
    from xdub.config import load
    from xdub.config.chain import ChainConfig
    from xdub.pipeline.loading import default_checkpoint

    configs = Path(__file__).resolve().parents[2] / "configs"
    chain = load(ChainConfig, configs / "train" / "chain_tiny.yaml")
    recipe = load(LandmarkTrainConfig, (configs / "train" / chain.landmarks_train).resolve())
    folder = default_checkpoint()
    assert read_dubber_config(folder).landmarks == recipe.dubbing
    assert recipe.dubbing.enabled and recipe.dubbing.fallback_score > 0
    assert LandmarkNet.from_pretrained(folder / LANDMARK_DIR).cfg == recipe.model


def test_refine_landmarks_is_a_run_option() -> None:
    from xdub.api.options import infer_config
    from xdub.pipeline.batch import JOB_OPTIONS

    assert infer_config(refine_landmarks=False).refine_landmarks is False
    assert infer_config().refine_landmarks is True
    assert JOB_OPTIONS["refine_landmarks"] is bool


class _Candidates(_Blind):
    """Finds nothing; lists one candidate at the mean face placed in the middle of the frame."""

    def candidates(self, frame, model, min_score, limit) -> list[FaceDetection]:
        self.asked.append((model, min_score, limit))
        return [FaceDetection(np.zeros(4, np.float32), 0.2, _face(scale=30.0, at=(64.0, 50.0)))]


def test_dubbing_looks_for_missed_faces_only_when_none_is_found(caplog) -> None:
    """The refiner's fallback runs as a second pass over the video, and only when the detector
    found no face anywhere (a logo next to a real face is never taken for one)."""
    from xdub.config.face import FaceConfig
    from xdub.config.synth import SynthConfig
    from xdub.errors import NoFaceError
    from xdub.pipeline import DubPipeline, IdentityGenerator
    from xdub.synth.clip import render_pair

    source, other = render_pair(5, SynthConfig(size=(128, 128), duration=0.4))
    refine = LandmarkRefineConfig(enabled=True, passes=1, fallback_score=0.1, fallback_passes=1,
                                  min_presence=0.4)  # the untrained net's presence is 0.5
    spec = DubberConfig(name="t", face=FaceConfig(align=AlignConfig(crop_size=32)),
                        chunk_frames=8, overlap=2, motion_frames=0, landmarks=refine)
    blind = _Candidates()
    pipe = DubPipeline(IdentityGenerator(32), spec, detector=blind, landmark_net=LandmarkNet(SMALL))
    with caplog.at_level("WARNING"):
        result = pipe(source.video, other.audio)
    assert result.faces.present.all() and len(blind.asked) == len(source.frames)
    assert "landmark refiner recognised" in caplog.text  # the user is told
    with pytest.raises(NoFaceError):
        pipe(source.video, other.audio, InferConfig(refine_landmarks=False))
    off = DubPipeline(IdentityGenerator(32), replace(spec, landmarks=replace(refine,
                                                                             fallback_score=0.0)),
                      detector=_Candidates(), landmark_net=LandmarkNet(SMALL))
    with pytest.raises(NoFaceError):
        off(source.video, other.audio)
    seen = _Candidates()
    seen.detect = lambda frame: [FaceDetection(np.array([30, 20, 98, 100], np.float32), 0.9,
                                               _face(scale=30.0, at=(64.0, 50.0)))]
    found = DubPipeline(IdentityGenerator(32), spec, detector=seen, landmark_net=LandmarkNet(SMALL))
    assert found(source.video, other.audio).faces.present.all() and seen.asked == []


def test_face_listing_finds_the_faces_dubbing_finds(tmp_path) -> None:
    """`find_faces` with the pipeline's `FaceFinder` (what `xdub faces --checkpoint` and the web
    app use) takes the refiner's second look as dubbing does; the plain detector lists none."""
    from xdub.api.faces import find_faces
    from xdub.config.face import FaceConfig
    from xdub.config.synth import SynthConfig
    from xdub.media import write_video
    from xdub.pipeline import DubPipeline, IdentityGenerator
    from xdub.pipeline.finder import FaceFinder
    from xdub.synth.clip import render_pair

    source, _ = render_pair(5, SynthConfig(size=(128, 128), duration=0.4))
    path = write_video(tmp_path / "a.mp4", source.frames, source.fps)
    refine = LandmarkRefineConfig(enabled=True, passes=1, fallback_score=0.1, fallback_passes=1,
                                  min_presence=0.4)
    face = FaceConfig(align=AlignConfig(crop_size=32))
    spec = DubberConfig(name="t", face=face, chunk_frames=8, overlap=2, motion_frames=0,
                        landmarks=refine)
    pipe = DubPipeline(IdentityGenerator(32), spec, detector=_Candidates(),
                       landmark_net=LandmarkNet(SMALL))
    listed = find_faces(path, face, finder=pipe.finder, size=32)
    assert len(listed) == 1 and listed[0].track.num_present == len(source.frames)
    assert find_faces(path, face, finder=pipe.finder, refine_landmarks=False) == []
    plain = FaceFinder(detector=(face.detect.backend, _Candidates()))
    assert find_faces(path, face, finder=plain) == []


def test_the_second_look_comes_only_when_the_first_pass_finds_no_face() -> None:
    """`FaceFinder.find_tracks`, the rule `xdub dub` and `xdub faces` share."""
    from xdub.config.face import DetectConfig
    from xdub.pipeline.finder import FIRST_LOOK, SECOND_LOOK, FaceFinder

    finder = FaceFinder(LandmarkNet(SMALL), LandmarkRefineConfig(fallback_score=0.1))
    detect = DetectConfig(backend="haar")
    passes: list[tuple[str, bool]] = []

    def track(found, frames=5):
        def one_pass(detector, title):
            refined = isinstance(detector, RefinedDetector)
            passes.append((title, refined and detector.cfg.fallback_score > 0))
            return found, frames
        return one_pass

    assert finder.find_tracks(track(["a face"]), detect, (64, 64), 640) == (["a face"], False)
    assert passes == [(FIRST_LOOK, False)]  # the first pass never takes unrecognised boxes
    passes.clear()
    assert finder.find_tracks(track([]), detect, (64, 64), 640) == ([], True)
    assert passes == [(FIRST_LOOK, False), (SECOND_LOOK, True)]
    passes.clear()
    assert finder.find_tracks(track([]), detect, (64, 64), 640, refine_landmarks=False) == (
        [], False)
    assert passes == [(FIRST_LOOK, False)]
    passes.clear()  # a pass that saw no frame (an empty span): nothing to look at again
    assert finder.find_tracks(track([], frames=0), detect, (64, 64), 640) == ([], False)
    assert passes == [(FIRST_LOOK, False)]
