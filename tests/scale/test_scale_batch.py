"""`xdub batch`: jobs files, and 4 jobs (one bad) over 2 processes: 3 outputs, 1 clear
failure, nothing done twice; a rerun skips what is done and retries what failed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from launch_testkit import ok, torchrun

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_testkit import encode, leftovers, run_cli, talking_clip, write_wav  # noqa: E402

from xdub.errors import ConfigError  # noqa: E402
from xdub.media import probe  # noqa: E402
from xdub.pipeline.batch import read_attempts, read_jobs  # noqa: E402

JOBS = ["video,audio,name,steps,seed", "clip.mp4,speech.wav,one,1,1", "clip.mp4,speech.wav,two,1,2",
        "broken.mp4,speech.wav,three,1,3", "clip.mp4,speech.wav,four,1,4"]


@pytest.fixture
def batch_dir(tmp_path) -> Path:
    frames, _, other = talking_clip(160, 120, 25.0, 0.4)
    encode(tmp_path / "clip.mp4", np.array(frames), 25.0)
    write_wav(tmp_path / "speech.wav", other.samples, 16_000)
    (tmp_path / "broken.mp4").write_text("not a video\n")
    (tmp_path / "jobs.csv").write_text("\n".join(JOBS) + "\n")
    return tmp_path


def test_jobs_files_csv_and_yaml(tmp_path):
    (tmp_path / "jobs.yaml").write_text("jobs:\n  - {video: v.mp4, audio: a.wav, steps: 2}\n"
                                        "  - {video: v.mp4, audio: b.wav, output: x.mkv}\n")
    jobs = read_jobs(tmp_path / "jobs.yaml")
    assert [j.name for j in jobs] == ["v-a", "v-b"] and jobs[0].options == {"steps": 2}
    assert jobs[0].video == tmp_path / "v.mp4" and jobs[1].output == "x.mkv"
    (tmp_path / "flags.csv").write_text("video,audio,keep_occluders\nv.mp4,a.wav,False\n"
                                        "v.mp4,b.wav,yes\n")
    assert [j.options for j in read_jobs(tmp_path / "flags.csv")] == [
        {"keep_occluders": False}, {"keep_occluders": True}]
    bad = {"unknown column": "video,audio,colour\nv,a,red\n",
           "needs audio": "video\nv.mp4\n",
           "several jobs": "video,audio\nv.mp4,a.wav\nv.mp4,a.wav\n",
           "must end in": "video,audio,output\nv.mp4,a.wav,x.avi\n",
           "must be int": "video,audio,steps\nv.mp4,a.wav,many\n",
           "must be true or false": "video,audio,keep_occluders\nv.mp4,a.wav,maybe\n",
           "lists no jobs": "video,audio\n"}
    for message, text in bad.items():
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(ConfigError, match=message):
            read_jobs(tmp_path / "bad.csv")


def test_two_processes_four_jobs_one_bad(batch_dir, capsys):
    out = batch_dir / "out"
    ok(torchrun(["-m", "xdub.cli.main", "batch", str(batch_dir / "jobs.csv"), "--out", str(out),
                 "--random-init", "-q"]))
    jobs = read_jobs(batch_dir / "jobs.csv")
    assert sorted(p.name for p in out.glob("*.mp4")) == ["four.mp4", "one.mp4", "two.mp4"]
    for name in ("one", "two", "four"):
        assert probe(out / f"{name}.mp4").num_frames == 10
    for k, job in enumerate(jobs):  # each job ran exactly once, on its own worker
        attempts = read_attempts(out, job)
        assert len(attempts) == 1 and attempts[0]["worker"] == f"{k % 2}/2"
    failure = read_attempts(out, jobs[2])[0]
    assert failure["status"] == "failed" and failure["exit_code"] == 2
    assert "broken.mp4" in failure["error"] and "not a recognised media file" in failure["error"]
    assert not leftovers(out)
    # A rerun in one process: finished jobs are skipped, the failed one is tried again.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")}
    rc, stdout, err = run_cli(capsys, "batch", batch_dir / "jobs.csv", "--out", out,
                              "--random-init", "-q")
    assert rc == 6 and err.count("error:") == 1
    assert "summary [0/1]: 0 done, 3 skipped, 1 failed" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")} == stamps
    assert [len(read_attempts(out, j)) for j in jobs] == [1, 1, 2, 1]
    status = json.loads((out / "status" / "three.json").read_text())
    assert status["status"] == "failed"
