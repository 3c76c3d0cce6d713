"""xdub.data.prepare: raw talking videos -> training clips (`xdub prepare`).

Steps, one small module each, every reject with its reason (`reasons`): 1 `probe` -> 2 `scan`
(one decode: scene cuts + face tracks) and `segments` -> 3 `faces` -> 4 `crops` (aligned crops
through `xdub.conditioning.crop_frame`) -> 5 `sync` (16 kHz audio, offset found and corrected
with the lip-sync scorer) -> 6 `quality`; `video` chains them for one video, `runner` over the
shards of many (`store` is the output layout, `report` the HTML report). Optional step 7 (a
cache of codec latents / audio features) is left to the trainers' own caches.
"""

from xdub.data.prepare.runner import PrepareSummary, run_prepare

__all__ = ["PrepareSummary", "run_prepare"]
