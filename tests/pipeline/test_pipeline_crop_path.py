"""One crop path: the crops `xdub dub` feeds its generator are bit-identical to the crops
training cuts (`xdub.conditioning.prepare_face_crops`) from the same frames and face track."""

import numpy as np
from pipeline_testkit import identity_pipeline, talking_clip

from xdub.conditioning import prepare_face_crops
from xdub.config.infer import InferConfig, TimelineConfig
from xdub.types import Video


class CropRecorder:
    """Observer keeping the source crop the pipeline generated from, per output frame."""

    def __init__(self) -> None:
        self.crops: dict[int, np.ndarray] = {}

    def start(self, fps, size, audio) -> None:
        pass

    def observe(self, index, source, output, crop_in, crop_out, affine, crop_landmarks) -> None:
        if crop_in is not None:
            self.crops[index] = crop_in

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def test_dubbing_crops_equal_training_crops():
    frames, audio, _ = talking_clip()
    video = Video(np.array(frames[:12]), 30.0)
    pipe = identity_pipeline(crop=64, chunk_frames=8, overlap=2)
    recorder = CropRecorder()
    result = pipe(video, audio, InferConfig(timeline=TimelineConfig(length="video")),
                  observer=recorder)
    track = result.faces.tracks[result.faces.chosen[0]]
    face = pipe.dubber.face
    training = prepare_face_crops(video.frames[track.frame_indices], track.landmarks, video.fps,
                                  face.align, face.mask)
    assert len(recorder.crops) == len(track.frame_indices) > 0
    scale = np.hypot(*result.faces.affines[0][:, 0])
    assert 1.0 / scale > 1.25, "the face must shrink into the crop (the pre-blurred case)"
    for j, k in enumerate(track.frame_indices):
        assert np.array_equal(recorder.crops[int(k)], training.crops[j]), int(k)
