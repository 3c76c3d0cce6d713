"""xdub.web: the browser front end, `xdub serve` (a Gradio page over `xdub.api`).

`app` builds the page, `jobs` runs one job in its own temporary folder with checked uploads,
`examples` renders synthetic example inputs. Imports gradio lazily: the rest of xdub never
needs it. Imports: gradio, xdub.{api, pipeline, synth, media, config, errors}.
"""
