"""`xdub dub --fast` / `xdub batch --fast`: the run config asks for the fast preset; with
--steps (or a job's steps) it is a one-line error, exit 2."""

from __future__ import annotations

from pipeline_testkit import run_cli


def test_dub_fast_sets_the_preset_and_refuses_steps(capsys, monkeypatch, tmp_path):
    runs = []
    monkeypatch.setattr("xdub.cli.dub._run", lambda video, audio, out, cfg, *rest: runs.append(cfg))
    for extra in ((), ("--fast",)):
        rc, _, err = run_cli(capsys, "dub", "in.mp4", "new.wav", "-o", tmp_path / "o.mp4", *extra)
        assert rc == 0, err
    assert [cfg.sampling.fast for cfg in runs] == [False, True]
    rc, _, err = run_cli(capsys, "dub", "in.mp4", "new.wav", "-o", "o.mp4", "--fast",
                         "--steps", "4")
    assert rc == 2 and err.count("\n") == 1 and "--fast" in err and "--steps" in err


def test_batch_fast_reaches_every_job_config(capsys, monkeypatch, tmp_path, clip_files):
    import xdub.api

    configs = []
    real = xdub.api.infer_config
    monkeypatch.setattr(xdub.api, "infer_config",
                        lambda *a, **k: configs.append(real(*a, **k)) or configs[-1])
    monkeypatch.setattr("xdub.pipeline.batch.run_batch", lambda *args: [])
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"video,audio\n{clip_files['video']},{clip_files['audio']}\n")
    rc, _, err = run_cli(capsys, "batch", jobs, "--out", tmp_path / "out", "--fast")
    assert rc == 0, err
    assert configs[0].sampling.fast
