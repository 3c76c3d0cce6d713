"""The Gradio page of `xdub serve`: upload, pick a face, set options, dub, watch, download.

Layout: inputs and options on the left (video, new audio, face thumbnails to pick from, a
preview of the face tracks, length mode, steps, guidance scales, seed, time range), results on the right (status line,
the dubbed video with its download, input | dub side by side, the run summary), synthetic
examples below. One job runs at a time (Gradio's queue shows the others their place); each
job works in its own temporary folder, removed once the page has the files. All dubbing goes
through `xdub.api` (via `xdub.web.jobs`), the code `xdub dub` runs.
Imports: gradio, xdub.{api, config, errors}, xdub.web.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from xdub.api import DubbingPipeline, DubResult, ProgressUpdate
from xdub.api.faces import write_track_preview
from xdub.config.infer import InferConfig
from xdub.config.web import WebConfig
from xdub.errors import XdubError
from xdub.web.jobs import Job, UploadError, list_faces

log = logging.getLogger(__name__)

EMBEDDED_NOTE = ("This server runs the embedded tiny default, trained on synthetic characters "
                 "only: real faces need the full-scale weights (`xdub serve --dit ...`).")
RUN_DEFAULTS = InferConfig()


def _status(message: str, kind: str = "info") -> str:
    """One status line for the page (`kind`: info, error)."""
    return f"**Error:** {message}" if kind == "error" else message


def summary_markdown(result: DubResult, embedded: bool) -> str:
    """The run summary as a Markdown table, with the sync score and warnings."""
    lines = ["| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in result.summary.rows()]
    if result.sync is not None:
        lines.append(f"| lip sync (LSE-C, higher is better) | {result.sync['lse_c']:.2f} |")
    notes = [f"- warning: {w}" for w in result.warnings]
    if embedded:
        notes.append(f"- note: {EMBEDDED_NOTE}")
    return "\n".join(lines + [""] + notes)


class DubbingApp:
    """The page's callbacks around one loaded `DubbingPipeline`."""

    def __init__(self, pipe: DubbingPipeline, cfg: WebConfig, job_root: Path | None = None):
        self.pipe, self.cfg, self.job_root = pipe, cfg, job_root

    def faces(self, video: str | None) -> Iterator[tuple]:
        """A new upload -> (face thumbnails, chosen face, track preview video, status)."""
        if not video:
            yield [], None, None, ""
            return
        job = Job(self.job_root)
        try:
            faces = list_faces(self.pipe, video, self.cfg)
            preview = write_track_preview(video, faces, job.folder / "tracks.mp4")
            fps = _fps(video)
            gallery = [(face.image, face.label(fps)) for face in faces]
            yield gallery, None, str(preview), (f"{len(faces)} face(s) found: the longest is "
                                                "dubbed unless you click another")
        except XdubError as err:
            yield [], None, None, _status(str(err), "error")
        finally:
            job.cleanup()  # after the yield: Gradio has copied the preview by then

    def run(self, video, audio, face, length, extend, tail, steps, ref_scale, audio_scale,
            strength, seed, start, end, progress=gr.Progress()) -> Iterator[tuple]:
        """Dub (a generator: the job folder is removed after Gradio has copied the files)."""
        options = {"length": length, "extend": extend, "tail": tail, "steps": int(steps),
                   "ref_scale": float(ref_scale), "audio_scale": float(audio_scale),
                   "denoise_strength": float(strength),
                   "seed": int(seed), "start": float(start) if start else None,
                   "end": float(end) if end else None,
                   "face": str(face) if face is not None else None}

        def report(update: ProgressUpdate) -> None:
            eta = "" if update.eta is None else f", about {update.eta:.0f} s left"
            progress(update.fraction or 0.0, desc=f"{update.stage}: {update.done}/"
                     f"{update.total or '?'}{eta}")

        job = Job(self.job_root)
        try:
            out = job.run(self.pipe, video, audio, self.cfg, options, report)
            yield (_status("done: " + out.result.summary.length_decision), str(out.video),
                   str(out.video), str(out.side_by_side),
                   summary_markdown(out.result, self.pipe.embedded))
        except XdubError as err:  # bad upload, no face, bad option: one sentence in the page
            yield _status(str(err), "error"), None, None, None, ""
        except Exception as err:  # a bug: still one line in the page, the details in the log
            log.exception("job failed")
            yield _status(f"internal error ({type(err).__name__}); see the server log",
                          "error"), None, None, None, ""
        finally:
            job.cleanup()


def _fps(video: str) -> float:
    from xdub.media import probe

    return float(probe(video).fps)


def _choose(evt: gr.SelectData):
    """A clicked thumbnail -> (chosen face index, status)."""
    return evt.index, f"face {evt.index} will be dubbed"


def build_app(pipe: DubbingPipeline, cfg: WebConfig,
              examples: list[tuple[Path, Path]] = (), job_root: Path | None = None) -> gr.Blocks:
    """The page (not yet launched)."""
    app = DubbingApp(pipe, cfg, job_root)
    diffusion = pipe.pipeline.dubber.diffusion
    timeline = RUN_DEFAULTS.timeline
    with gr.Blocks(title="xdub", analytics_enabled=False, delete_cache=(600, 3600)) as page:
        gr.Markdown("# xdub: visual dubbing\nUpload a video of a speaking face and the new "
                    "audio; xdub re-animates the lips to follow it. Model: "
                    f"**{pipe.pipeline.dubber.name}** ({pipe.weights}). Limits: "
                    f"{cfg.max_upload_mb} MB per file, {cfg.max_seconds:g} s.")
        with gr.Row():
            with gr.Column():
                video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
                audio_in = gr.Audio(label="New audio", sources=["upload", "microphone"],
                                    type="filepath", elem_id="audio-in")
                gallery = gr.Gallery(label="Faces (click one to dub it)", columns=6, rows=1,
                                     height=220, object_fit="contain", elem_id="faces",
                                     allow_preview=False, preview=False)
                face = gr.State(None)
                tracks = gr.Video(label="Face tracks (before dubbing)", interactive=False,
                                  elem_id="tracks")
                with gr.Accordion("Options", open=False):
                    length = gr.Radio(["audio", "video", "shortest"], value=timeline.length,
                                      label="Output length follows")
                    extend = gr.Radio(["pingpong", "loop", "freeze"], value=timeline.extend,
                                      label="Video shorter than the audio")
                    tail = gr.Radio(["trim", "keep"], value=timeline.tail,
                                    label="Video longer than the audio")
                    steps = gr.Slider(1, 50, value=diffusion.num_inference_steps, step=1,
                                      label="Sampling steps", elem_id="steps")
                    ref_scale = gr.Number(diffusion.ref_scale, label="Reference guidance")
                    audio_scale = gr.Number(diffusion.audio_scale, label="Audio guidance")
                    strength = gr.Number(diffusion.denoise_strength, minimum=0.001, maximum=1.0,
                                         label="Denoise strength (1 = from pure noise)")
                    seed = gr.Number(RUN_DEFAULTS.sampling.seed, precision=0, label="Seed")
                    start = gr.Number(0, label="Re-dub from (s; 0 = whole video)")
                    end = gr.Number(0, label="Re-dub until (s; 0 = audio's end)")
                run = gr.Button("Dub", variant="primary", elem_id="run")
            with gr.Column():
                status = gr.Markdown(elem_id="status")
                result = gr.Video(label="Dubbed video", interactive=False, elem_id="result")
                download = gr.File(label="Download", interactive=False, elem_id="download")
                side = gr.Video(label="Input | dub", interactive=False, elem_id="side-by-side")
                summary = gr.Markdown(elem_id="summary")
        if examples:
            gr.Examples([[str(v), str(a)] for v, a in examples], inputs=[video_in, audio_in],
                        label="Synthetic examples (rendered by xdub's engine)")
        video_in.change(app.faces, video_in, [gallery, face, tracks, status])
        gallery.select(_choose, None, [face, status])
        run.click(app.run, [video_in, audio_in, face, length, extend, tail, steps, ref_scale,
                            audio_scale, strength, seed, start, end],
                  [status, result, download, side, summary], concurrency_limit=1)
    page.queue(max_size=cfg.queue_size, default_concurrency_limit=1)
    return page


def serve(pipe: DubbingPipeline, cfg: WebConfig, work_dir: Path) -> None:
    """Render the examples, build the page and serve it until interrupted."""
    from xdub.web.examples import render_examples

    examples = render_examples(work_dir / "examples", cfg.examples, cfg.example_seconds)
    jobs = work_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    page = build_app(pipe, cfg, examples, job_root=jobs)
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])  # no web fonts to fetch
    print(f"xdub serve: http://{cfg.host}:{cfg.port} (working folder {work_dir})", flush=True)
    page.launch(server_name=cfg.host, server_port=cfg.port, max_file_size=f"{cfg.max_upload_mb}mb",
                allowed_paths=[str(work_dir / "examples")], theme=theme, ssr_mode=False,
                show_error=False, quiet=True, footer_links=[])
