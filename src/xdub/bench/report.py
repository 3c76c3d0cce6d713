"""Human-readable benchmark report: `report.md` + `report.html` + bar plots, from `BenchResults`.

Layout (both formats, same content):
1. header: manifest id, versions, git commit, clip settings, methods;
2. "All scenarios": one table, rows = metrics (arrow = better direction), columns = methods,
   cells = mean ± std over clips, plus the bar plots (x = scenario, bars = methods);
3. one section per scenario: the same table over its clips, then the before/after strip
   (`strips/<scenario>_frames.png`: input | methods | answer, rows = frames) and the mouth
   close-ups (`strips/<scenario>_mouth.png`) of its first clip when the runner wrote them;
4. metric definitions (the exact formulas).
Files are written atomically. Imports: stdlib, xdub.bench.{results, figures}.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from xdub.atomic import write_bytes_atomic, write_text_atomic
from xdub.bench.figures import bar_plot
from xdub.bench.results import ALL, METRIC_INFO, BenchResults, MetricInfo

PLOT_METRICS = (
    "psnr_mouth",
    "ssim_mouth",
    "mouth_open_corr",
    "psnr_outside",
    "temporal_error_mouth",
    "lse_c",
    "lse_d",
    "identity_cos",
)

PSNR_PLOT_TOP = (
    60.0  # dB: bar plots clip PSNR here so capped (identical) bars don't flatten the rest
)

DEFINITIONS = {
    "Regions": (
        "mouth = engine mouth zone (where any mouth shape can be) dilated by {dilate} x face "
        "height; outside = complement of the zone dilated by ({dilate} + {margin}) x face "
        "height; occluder = hand/mic/object pixels; occluder∩mouth = both."
    ),
    "PSNR": (
        "10 log10(255² / MSE), MSE pooled over every region pixel and RGB channel of the clip; "
        "identical = 100 dB (cap)."
    ),
    "SSIM": (
        "Wang et al. 2004, 11x11 Gaussian window σ = 1.5, C1 = (0.01·255)², C2 = (0.03·255)², "
        "per channel then averaged; mean of the SSIM map over region pixels of all frames "
        "(full frame: interior 5 px from the border, as skimage)."
    ),
    "Open corr": (
        "Pearson correlation over frames with a visible mouth (≤ {hidden} % occluded) of "
        "open(result) and open(answer), open(x)_t = fraction of the mouth zone where "
        "max_c |x_t − closed_t| > 24, closed = the same scene re-rendered with a closed mouth. "
        "'(input)': the same against the input video: how much of the old speech remains."
    ),
    "Flicker ratio": (
        "mean_t mean_mouth |r_t − r_{{t−1}}| ÷ the same for the answer (1 = as lively as the "
        "answer)."
    ),
    "Temporal err": "mean_t mean_region |(r_t − r_{{t−1}}) − (a_t − a_{{t−1}})|, grey levels.",
    "Seam index": (
        "(mean of e_t at chunk starts + 0.05) ÷ (median of e_t elsewhere + 0.05), e_t = "
        "full-frame temporal error of step t; 1 = invisible seams. Jump index: the same with "
        "the single worst step."
    ),
    "LSE-C / LSE-D": (
        "SyncNet protocol on mouth crops at the answer's landmarks with the new audio "
        "(xdub.bench.sync_metrics); offset in frames."
    ),
}


def _cell(stat: dict[str, float], info: MetricInfo) -> str:
    mean, std = stat.get("mean", math.nan), stat.get("std", math.nan)
    if mean is None or not math.isfinite(mean):
        return "n/a"
    if std is None or not math.isfinite(std) or stat.get("n", 0) < 2:
        return f"{mean:.{info.digits}f}"
    return f"{mean:.{info.digits}f} ± {std:.{info.digits}f}"


def _label(name: str) -> str:
    info = METRIC_INFO.get(name, MetricInfo(name, None))
    arrow = {True: " ↑", False: " ↓", None: ""}[info.higher_is_better]
    unit = f" ({info.unit})" if info.unit else ""
    return f"{info.label}{unit}{arrow}"


def metric_table(
    results: BenchResults, scenario: str, aggregates: dict | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the table for `scenario` ("all" = every clip)."""
    aggregates = aggregates or results.aggregate()
    methods = [m["name"] for m in results.methods]
    header = ["metric", *methods]
    rows = []
    for name in results.metric_names():
        info = METRIC_INFO.get(name, MetricInfo(name, None))
        cells = [_cell(aggregates[scenario][m][name], info) for m in methods]
        if any(c != "n/a" for c in cells):
            rows.append([_label(name), *cells])
    return header, rows


def write_plots(results: BenchResults, out_dir: Path, aggregates: dict) -> list[str]:
    """Bar plot PNGs under `out_dir/plots/`; returns their paths relative to out_dir."""
    scenarios = results.scenarios()
    methods = [m["name"] for m in results.methods]
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    written = []
    for name in PLOT_METRICS:
        if name not in results.metric_names():
            continue
        series = {
            m: (
                [aggregates[s][m][name]["mean"] for s in scenarios],
                [aggregates[s][m][name]["std"] for s in scenarios],
            )
            for m in methods
        }
        if not any(math.isfinite(v) for means, _ in series.values() for v in means):
            continue
        info = METRIC_INFO[name]
        title, top = _label(name), None
        if info.unit == "dB" and any(
            v > PSNR_PLOT_TOP for means, _ in series.values() for v in means
        ):
            title, top = f"{title} (bars clipped at {PSNR_PLOT_TOP:g} dB)", PSNR_PLOT_TOP
        rel = f"plots/{name}.png"
        write_bytes_atomic(out_dir / rel, bar_plot(title, scenarios, series, info.unit, top))
        written.append(rel)
    return written


def _sections(results: BenchResults, out_dir: Path, plots: list[str]) -> list[dict]:
    """Report content as sections: {title, paragraphs, table, images}."""
    manifest, env = results.manifest, results.env
    aggregates = results.aggregate()
    methods = "; ".join(f"{m['name']}: {m.get('description', '')}" for m in results.methods)
    durations = sorted({e.duration for e in manifest.entries})
    head = [
        (
            f"manifest `{manifest.manifest_id}` · bench v{manifest.bench_version} · synth engine "
            f"{manifest.engine_version} · xdub {env.get('xdub_version', '?')} · git "
            f"{env.get('git_commit', 'unknown')} · {env.get('created', '')}"
        ),
        (
            f"{len(manifest.entries)} pairs ({', '.join(results.scenarios())}), "
            f"{manifest.size[0]}x{manifest.size[1]} at {manifest.fps:g} fps, "
            f"{'/'.join(f'{d:g}' for d in durations)} s per clip; sync scorer: "
            f"{env.get('sync_scorer', 'none')}."
        ),
        f"Methods — {methods}",
    ]
    sections = [{"title": "xdub bench report", "level": 1, "paragraphs": head}]
    sections.append(
        {
            "title": "All scenarios",
            "level": 2,
            "paragraphs": [],
            "table": metric_table(results, ALL, aggregates),
            "images": plots,
        }
    )
    if results.set_metrics:
        kinds = sorted({k for d in results.set_metrics.values() for k in d})
        rows = [
            [
                k.upper(),
                *(
                    f"{results.set_metrics.get(m['name'], {}).get(k, math.nan):.2f}"
                    for m in results.methods
                ),
            ]
            for k in kinds
        ]
        sections.append(
            {
                "title": "Set-level metrics (all clips)",
                "level": 3,
                "paragraphs": [],
                "table": (["metric", *(m["name"] for m in results.methods)], rows),
            }
        )
    for scenario in results.scenarios():
        seeds = [e.seed for e in manifest.entries if e.scenario == scenario]
        images = [
            rel
            for rel in (f"strips/{scenario}_frames.png", f"strips/{scenario}_mouth.png")
            if (out_dir / rel).is_file()
        ]
        sections.append(
            {
                "title": f"Scenario: {scenario}",
                "level": 2,
                "paragraphs": [
                    (
                        f"seeds {min(seeds)}..{max(seeds)} ({len(seeds)} clip(s)); strips: "
                        "input | methods | answer, first clip."
                    )
                ],
                "table": metric_table(results, scenario, aggregates),
                "images": images,
            }
        )
    regions = results.config.get("regions", {})
    values = {
        "dilate": regions.get("mouth_dilate", "?"),
        "margin": regions.get("outside_margin", "?"),
        "hidden": round(100 * float(regions.get("max_occlusion", 0.2))),
    }
    sections.append(
        {
            "title": "Metric definitions",
            "level": 2,
            "paragraphs": [f"**{k}**: {v.format(**values)}" for k, v in DEFINITIONS.items()],
        }
    )
    return sections


def render_markdown(sections: list[dict]) -> str:
    """Sections -> Markdown text."""
    lines: list[str] = []
    for sec in sections:
        lines += [f"{'#' * sec['level']} {sec['title']}", ""]
        for para in sec.get("paragraphs", []):
            lines += [para, ""]
        if sec.get("table"):
            header, rows = sec["table"]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            lines.append("")
        for rel in sec.get("images", []):
            lines += [f"![{Path(rel).stem}]({rel})", ""]
    return "\n".join(lines)


def render_html(sections: list[dict]) -> str:
    """Sections -> a standalone HTML page (images referenced relative to the report)."""
    body = []
    for sec in sections:
        level = sec["level"]
        body.append(f"<h{level}>{html.escape(sec['title'])}</h{level}>")
        for para in sec.get("paragraphs", []):
            text = html.escape(para).replace("`", "")
            if text.startswith("**"):
                key, _, rest = text[2:].partition("**")
                text = f"<b>{key}</b>{rest}"
            body.append(f"<p>{text}</p>")
        if sec.get("table"):
            header, rows = sec["table"]
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        for rel in sec.get("images", []):
            body.append(f'<img src="{html.escape(rel)}" alt="{html.escape(Path(rel).stem)}">')
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;"
        "padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{display:block;max-width:100%;margin:0.5em 0}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>xdub bench report</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(results: BenchResults, out_dir: str | Path) -> dict[str, Path]:
    """Write plots, `report.md` and `report.html` into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    plots = write_plots(results, out_dir, results.aggregate())
    sections = _sections(results, out_dir, plots)
    paths = {"markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    write_text_atomic(paths["markdown"], render_markdown(sections))
    write_text_atomic(paths["html"], render_html(sections))
    return paths
