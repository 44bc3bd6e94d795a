"""``numpool explain``: d2l's 4x4 example step by step, forward and backward.

Expected values are computed by hand on X = arange(16).reshape(4, 4) (and, for the
d2l examples, are the ones its pooling chapter prints), not recomputed with numpool.
"""

import re
import subprocess
import sys

import numpy as np
import pytest

from numpool import ParameterError
from numpool.cli import main
from numpool.commands.explain import explain_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def grid_after(text, title):
    """The numbers of the grid printed under the one line of ``text`` that starts with ``title``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(title)]
    assert len(starts) == 1, f"{len(starts)} lines start with {title!r}"
    assert lines[starts[0] + 1].lstrip().startswith("row\\col")
    rows = []
    for line in lines[starts[0] + 2:]:
        if not line.strip():
            break
        rows.append([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", line)[1:]])  # drop the row label
    return np.array(rows)


def output(text):
    return grid_after(text, "Output (")


def indices(text):
    return grid_after(text, "Indices (")


def gradient(text):
    return grid_after(text, "Input gradient")


def ones_at(*cells):
    grad = np.zeros((4, 4))
    for cell in cells:
        grad[cell] = 1
    return grad


CORNERS = ones_at((1, 1), (1, 3), (3, 1), (3, 3))


def test_default_is_max_kernel_2_stride_2():
    text = explain_text()
    assert text.startswith("numpool explain: max pooling, kernel 2x2, stride 2, padding 0\n")
    assert output(text).tolist() == [[5, 7], [13, 15]]
    assert indices(text).tolist() == [[5, 7], [13, 15]]
    assert gradient(text).tolist() == CORNERS.tolist()
    for row, col, flat in [(1, 1, 5), (1, 3, 7), (3, 1, 13), (3, 3, 15)]:
        assert f"max = {flat} at ({row}, {col}): PyTorch flat index {row} * 4 + {col} = {flat}\n" in text
    assert "Window (0, 1): rows 0..1, cols 2..3\n" in text


def test_input_and_output_size_are_explained():
    text = explain_text("max", 3, 2, 1)
    assert "X = np.arange(16, dtype=np.float32).reshape(4, 4)" in text
    lines = text.splitlines()
    start = lines.index("  row\\col   0   1   2   3")
    assert [line.split() for line in lines[start + 1:start + 5]] == [
        [str(r)] + [str(4 * r + c) for c in range(4)] for r in range(4)]
    assert "floor((4 + 2 * 1 - 3) / 2) + 1 = 2, so the output is 2x2: 4 windows." in text
    assert "nn.MaxPool2d(3, stride=2, padding=1)" in text


def test_max_kernel_3_stride_2_padding_1_is_d2ls_example():
    text = explain_text("max", 3, 2, 1)
    assert output(text).tolist() == [[5, 7], [13, 15]]
    assert indices(text).tolist() == [[5, 7], [13, 15]]
    assert gradient(text).tolist() == CORNERS.tolist()
    assert "filled with -inf, so it never wins a max" in text
    # the first window reaches into the padding: row -1 and column -1 are -inf
    assert "Window (0, 0): rows -1..1, cols -1..1\n" in text
    assert "       -1  -inf  -inf  -inf\n        0  -inf     0     1\n" in text


def test_stride_defaults_to_the_kernel():
    text = explain_text("max", 3)  # d2l: nn.MaxPool2d(3) gives [[10]]
    assert "stride 3" in text
    assert output(text).tolist() == [[10]]
    assert gradient(text).tolist() == ones_at((2, 2)).tolist()


def test_max_overlapping_windows():
    text = explain_text("max", 2, 1, 0)
    assert output(text).tolist() == [[5, 6, 7], [9, 10, 11], [13, 14, 15]]
    assert indices(text).tolist() == [[5, 6, 7], [9, 10, 11], [13, 14, 15]]
    # every window's maximum is its bottom-right cell, a different cell each time
    assert gradient(text).tolist() == [[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]]
    assert "The windows overlap" in text
    assert "a tie goes to the first tied cell in row-major order" in " ".join(text.split())


def test_max_windows_that_share_an_argmax_add_up():
    # kernel 4, stride 2, padding 2: the windows cover rows (and cols) -2..1, 0..3 and 2..5,
    # whose maxima are in rows (and cols) 1, 3 and 3: cell (3, 3) wins four windows
    text = explain_text("max", 4, 2, 2)
    assert output(text).tolist() == [[5, 7, 7], [13, 15, 15], [13, 15, 15]]
    grad = np.zeros((4, 4))
    grad[1, 1], grad[1, 3], grad[3, 1], grad[3, 3] = 1, 2, 2, 4
    assert gradient(text).tolist() == grad.tolist()


def test_avg_kernel_2_stride_2():
    text = explain_text("avg", 2, 2, 0)
    assert text.startswith("numpool explain: average pooling, kernel 2x2")
    assert output(text).tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert "mean = sum / 4 = 10 / 4 = 2.5\n" in text  # 0 + 1 + 4 + 5
    assert "mean = sum / 4 = 50 / 4 = 12.5\n" in text  # 10 + 11 + 14 + 15
    assert gradient(text).tolist() == np.full((4, 4), 0.25).tolist()
    assert "Indices (" not in text


def test_avg_kernel_3_stride_2_padding_1_divides_by_9():
    text = explain_text("avg", 3, 2, 1)
    # window sums: 0+1+4+5, 1+2+3+5+6+7, 4+5+8+9+12+13, 5+6+7+9+10+11+13+14+15
    assert output(text) == pytest.approx(np.array([[10, 24], [51, 90]]) / 9, abs=1e-3)
    for total in (10, 24, 51, 90):
        assert f"mean = sum / 9 = {total} / 9 = " in text
    assert "count_include_pad=True" in text and "kernel * kernel = 9" in text
    assert "(0)" in text  # padding cells are shown as zeros
    # windows cover rows -1..1 and 1..3 (and the same columns): row and column 1 are in both
    covered = np.array([1, 2, 1, 1])
    assert gradient(text) == pytest.approx(np.outer(covered, covered) / 9, abs=1e-4)


@pytest.mark.parametrize("op, kernel, stride, padding", [
    ("max", 1, 1, 0), ("max", 2, 3, 1), ("avg", 8, 1, 4), ("max", 8, 8, 4), ("avg", 5, 1, 2),
])
def test_text_is_plain_and_at_most_100_wide(op, kernel, stride, padding):
    text = explain_text(op, kernel, stride, padding)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.isascii() and "\x1b" not in text and "\t" not in text


def test_bad_values_raise_parameter_error():
    with pytest.raises(ParameterError, match="padding"):
        explain_text("max", 2, 2, 2)
    with pytest.raises(ParameterError, match="`op`"):
        explain_text("min")


def test_main_explain_prints_the_text(capsys):
    assert main(["explain"]) == 0
    captured = capsys.readouterr()
    assert captured.out == explain_text()
    assert captured.err == ""


def test_main_explain_options(capsys):
    assert main(["explain", "--op", "avg", "--kernel", "3", "--stride", "2", "--padding", "1"]) == 0
    assert capsys.readouterr().out == explain_text("avg", 3, 2, 1)


def test_png(tmp_path, capsys):
    path = tmp_path / "explain.png"
    assert main(["explain", "--op", "avg", "--kernel", "3", "--stride", "2", "--padding", "1", "--png", str(path)]) == 0
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    captured = capsys.readouterr()
    assert captured.out.startswith(explain_text("avg", 3, 2, 1))
    assert captured.out.endswith(f"Drawing written to {path.absolute()}\n")
    assert captured.err == ""


def test_png_into_a_missing_directory(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["explain", "--png", str(missing / "explain.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("numpool explain: error: ")
    assert f"the directory {missing} does not exist" in captured.err
    assert not missing.exists()


@pytest.mark.parametrize("argv, status, words", [
    (["--kernel", "0"], 1, "`kernel_size` must be >= 1"),
    (["--padding", "3", "--kernel", "2"], 1, "kernel_size // 2 = 1 (PyTorch's rule)"),
    (["--padding", "-1"], 1, "`padding` must be >= 0"),
    (["--stride", "-1"], 1, "`stride` must be >= 1"),
    (["--kernel", "5"], 1, "output size would be (0, 0)"),
    (["--kernel", "9", "--padding", "4"], 1, "must be <= 8"),
    (["--op", "min"], 2, "invalid choice: 'min'"),
    (["--kernel", "2.5"], 2, "invalid int value: '2.5'"),
    (["--stride"], 2, "expected one argument"),
])
def test_bad_values_print_one_line(capsys, argv, status, words):
    assert main(["explain", *argv]) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("numpool")
    assert "Traceback" not in captured.err
    assert words in captured.err


def test_help_mentions_every_option(capsys):
    assert main(["explain", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: numpool explain" in out
    for option in ("--op", "--kernel", "--stride", "--padding", "--png"):
        assert option in out


def test_python_m_numpool_explain():
    proc = subprocess.run([sys.executable, "-m", "numpool", "explain"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert output(proc.stdout).tolist() == [[5, 7], [13, 15]]
    assert proc.stderr == ""
