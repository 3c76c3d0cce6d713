"""`xdub bench` smoke run: copy_input + oracle on one tiny clip."""

from __future__ import annotations

import json

from xdub.cli.main import main


def test_cli_bench_smoke(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text("size: [64, 64]\nstrip_frames: 2\nmetrics: {sync_scorer: none}\n")
    out = tmp_path / "out"
    code = main(
        [
            "bench",
            "--methods",
            "copy_input,oracle",
            "--scenarios",
            "standard",
            "--clips",
            "1",
            "--duration",
            "0.4",
            "--out",
            str(out),
            "--config",
            str(config),
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in data["methods"]] == ["copy_input", "oracle"]
    assert data["manifest"]["entries"] == [
        {"scenario": "standard", "index": 0, "seed": 1_000_000, "duration": 0.4}
    ]
    assert data["aggregates"]["all"]["oracle"]["psnr_mouth"]["mean"] == 100.0
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert "report.md" in capsys.readouterr().out


def test_cli_bench_reports_bad_input_in_one_line(tmp_path, capsys):
    code = main(
        [
            "bench",
            "--methods",
            "nope",
            "--scenarios",
            "standard",
            "--clips",
            "1",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown method 'nope'") and "\n" not in err
