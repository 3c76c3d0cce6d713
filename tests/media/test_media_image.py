"""Still images: the format follows the path's suffix, written atomically."""

import numpy as np

from xdub.media.image import encode_image, write_image, write_png


def test_write_image_picks_the_format_from_the_suffix(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    png, jpg = write_image(tmp_path / "a.png", image), write_image(tmp_path / "a.jpg", image)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and jpg.read_bytes()[:3] == b"\xff\xd8\xff"
    assert write_png(tmp_path / "b.png", image).read_bytes() == png.read_bytes()
    assert len(encode_image(image, ".jpg", 30)) < len(encode_image(image, ".jpg", 95))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.png", "b.png"]

