"""``numpool demo``: the feature-extraction lesson's numbers, its PNG and its errors."""

import subprocess
import sys

import numpy as np
import pytest

from numpool._errors import ParameterError
from numpool.cli import CommandError, main, require
from numpool.commands import demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
pytest.importorskip("matplotlib")
pytest.importorskip("PIL")


def test_one_bright_pixel_goes_through_filter_detect_condense():
    image = np.zeros((16, 16), np.float32)
    image[5, 5] = 1.0
    r = demo.feature_extraction(image, shift=1, levels=2)
    # the edge kernel centred on the pixel: 8 there, -1 on its eight neighbours
    expected = np.zeros((16, 16), np.float32)
    expected[4:7, 4:7] = -1
    expected[5, 5] = 8
    np.testing.assert_array_equal(r["filtered"], expected)
    np.testing.assert_array_equal(r["detected"], np.maximum(expected, 0))
    # 2x2 windows: the pixel (5, 5) lies in window (2, 2)
    pooled = np.zeros((8, 8), np.float32)
    pooled[2, 2] = 8
    np.testing.assert_array_equal(r["pooled"]["max"], pooled)
    np.testing.assert_array_equal(r["pooled"]["avg"], pooled / 4)
    assert demo.active_share(r["detected"]) == 1 / 256
    assert demo.active_share(r["pooled"]["max"]) == 1 / 64


def test_same_padding_is_zero_padding_on_an_odd_image():
    # a constant image: the kernel sums to zero inside, and the zero padding makes the
    # border respond (corners 8 - 3 = 5, edges 8 - 5 = 3)
    r = demo.feature_extraction(np.ones((17, 17), np.float32), shift=1, levels=1)
    border = np.zeros((17, 17), np.float32)
    border[[0, -1], :] = border[:, [0, -1]] = 3
    border[np.ix_([0, -1], [0, -1])] = 5
    np.testing.assert_array_equal(r["filtered"], border)
    # 'same' pooling of 17 cells makes 9 windows, the last one holding the 17th cell alone
    pooled = np.zeros((9, 9), np.float32)
    pooled[[0, -1], :] = pooled[:, [0, -1]] = 3
    pooled[np.ix_([0, -1], [0, -1])] = 5
    np.testing.assert_array_equal(r["pooled"]["max"], pooled)
    # TF's SAME average divides by the cells inside the image (4, 2 or 1 of them)
    avg = np.zeros((9, 9))
    avg[0, :] = avg[:, 0] = 6 / 4
    avg[-1, :] = avg[:, -1] = 6 / 2
    avg[0, 0], avg[0, -1], avg[-1, 0], avg[-1, -1] = 11 / 4, 8 / 2, 8 / 2, 5
    np.testing.assert_allclose(r["pooled"]["avg"], avg, rtol=1e-6)


def test_shift_needs_room_in_the_image():
    with pytest.raises(ParameterError, match=r"too small \(12x12 pixels\) for a shift of 1 px"):
        demo.feature_extraction(np.ones((12, 12), np.float32), shift=1)


def test_relative_difference():
    a = np.array([3.0, 4.0])
    assert demo.relative_difference(a, a) == 0
    assert demo.relative_difference(a, np.zeros(2)) == 1
    assert demo.relative_difference(a, np.array([3.0, 0.0])) == pytest.approx(0.8)
    assert demo.relative_difference(np.zeros(2), np.zeros(2)) == 0


@pytest.fixture(scope="module")
def camera():
    pytest.importorskip("skimage")
    image, name = demo.load_image()
    return image, name, demo.feature_extraction(image)


def test_default_image_tells_the_lessons_story(camera):
    image, name, r = camera
    assert image.shape == (512, 512) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1 and "camera" in name
    # condense: pooling raises the share of active cells; max keeps the peak, avg dilutes it
    assert demo.active_share(r["pooled"]["max"]) > demo.active_share(r["detected"])
    assert r["pooled"]["max"].max() == r["detected"].max() > r["pooled"]["avg"].max()
    # translation invariance: a 2-pixel shift changes the edge map almost everywhere, and
    # each 2x2 pooling brings the two maps closer
    for op in ("max", "avg"):
        steps = r["difference"][op]
        assert len(steps) == 5 and steps[0] > 0.5
        assert all(later < earlier for earlier, later in zip(steps, steps[1:]))


def test_summary_lists_the_numbers(camera):
    _, name, r = camera
    text = demo.summary(r, name)
    assert "512x512" in text and "256x256 map" in text
    assert f"{r['difference']['max'][0]:.2f} -> {r['difference']['max'][1]:.2f}" in text


def test_command_writes_the_png_and_prints_its_path(tmp_path, capsys):
    pytest.importorskip("skimage")
    out = tmp_path / "new" / "dir"
    assert main(["demo", "--out", str(out)]) == 0
    png = out / demo.DEFAULT_PNG
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == f"wrote {png}"
    assert "condense MaxPool2D" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("suffix, mode", [(".png", "RGB"), (".jpg", "L"), (".png", "RGBA")])
def test_image_option_reads_png_and_jpeg(tmp_path, suffix, mode):
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 60, len(mode)), dtype=np.uint8).squeeze()
    path = tmp_path / f"picture{suffix}"
    Image.fromarray(pixels, mode).save(path)
    image, name = demo.load_image(str(path))
    assert image.shape == (40, 60) and image.dtype == np.float32 and name == path.name
    if suffix == ".png" and mode == "RGB":  # lossless: the grey values are PIL's, scaled to [0, 1]
        grey = np.asarray(Image.fromarray(pixels, mode).convert("L"), np.float32) / 255
        np.testing.assert_array_equal(image, grey)
    assert main(["demo", "--image", str(path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / demo.DEFAULT_PNG).exists()


def test_large_image_is_scaled_down_with_numpool(tmp_path):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.fromarray(np.full((300, 1024), 200, np.uint8)).save(path)
    image, _ = demo.load_image(str(path))
    assert image.shape == (150, 512)
    np.testing.assert_allclose(image, 200 / 255, rtol=1e-6)


def one_error_line(capsys, argv, words):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("numpool demo: error: ")
    assert words in captured.err


def test_missing_and_unreadable_images_fail_in_one_line(tmp_path, capsys):
    one_error_line(capsys, ["demo", "--image", str(tmp_path / "nope.png")], "no such image file")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    one_error_line(capsys, ["demo", "--image", str(bad)], "cannot read")
    one_error_line(capsys, ["demo", "--image", str(tmp_path)], "no such image file")


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` grey pixels (its data is one empty row)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [10000, 30000])
def test_decompression_bombs_fail_in_one_line(tmp_path, capsys, side):
    """Pillow warns past 89 million pixels and refuses past twice that: one error line either way."""
    path = tmp_path / "bomb.png"
    _png_header_only(path, side, side)
    one_error_line(capsys, ["demo", "--image", str(path)], "refusing")


def test_bad_shift_and_tiny_images_fail_in_one_line(tmp_path, capsys):
    from PIL import Image

    one_error_line(capsys, ["demo", "--shift", "0"], "--shift must be between 1 and 16")
    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(path)
    one_error_line(capsys, ["demo", "--image", str(path)], "too small")


def test_unwritable_output_fails_in_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    one_error_line(capsys, ["demo", "--out", str(blocker)], str(blocker))


def test_a_missing_optional_dependency_names_the_extra():
    with pytest.raises(CommandError, match=r"needs no_such_package.*pip install 'numpool\[demo\]'"):
        require("no_such_package.sub")


def test_help_mentions_every_option(capsys):
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(option in out for option in ("--image", "--out", "--shift"))


def test_python_m_numpool_demo_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "numpool", "demo", "--image", str(tmp_path / "x.jpg")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"numpool demo: error: no such image file: {tmp_path / 'x.jpg'}\n"
