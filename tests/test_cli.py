"""The ``numpool`` command line: ``examples`` prints the tutorials' numbers; bad options fail cleanly.

Expected values are the ones the tutorials print (d2l's pooling chapter, the TF2 course's
slides), not numbers recomputed with numpool.
"""

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

from numpool.cli import main
from numpool.commands.examples import examples_text

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")


@pytest.fixture(scope="module")
def examples():
    return examples_text()


def result(text, code):
    """The numbers printed under the one ``>>> ...`` line of the examples that contains ``code``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("    >>> ") and code in line]
    assert len(starts) == 1, f"{len(starts)} example lines contain {code!r}"
    body = []
    for line in lines[starts[0] + 1:]:
        if not line.startswith("      ") and (line or not body):
            break
        body.append(line)
    return [float(v) for v in NUMBER.findall("\n".join(body))]


def test_main_examples_prints_the_examples(capsys):
    assert main(["examples"]) == 0
    captured = capsys.readouterr()
    assert captured.out == examples_text()
    assert captured.err == ""


@pytest.mark.parametrize("code, expected", [
    # d2l: the hand-written pool2d on the 3x3 input
    ("numpool.max_pool2d(X3, 2, stride=1)", [4, 5, 7, 8]),
    ("numpool.avg_pool2d(X3, 2, stride=1)", [2, 3, 5, 6]),
    # d2l: nn.MaxPool2d on np.arange(16).reshape(1, 1, 4, 4)
    ("numpool.max_pool2d(X, 3)", [10]),
    ("numpool.max_pool2d(X, 3, stride=2, padding=1)", [5, 7, 13, 15]),
    ("numpool.max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1))", [5, 7, 13, 15]),
    ("numpool.max_pool2d(np.concatenate([X, X + 1], axis=1), 3, stride=2, padding=1)",
     [5, 7, 13, 15, 6, 8, 14, 16]),
    ("numpool.avg_pool2d(X, 2)", [2.5, 4.5, 10.5, 12.5]),
    ("numpool.avg_pool2d(X, 3, stride=2, padding=1, count_include_pad=False)", [2.5, 4, 8.5, 10]),
    # TF2 course slides
    ("numpool.max_pool2d(S, 2)", [3, 4, 7, 8]),
    ("numpool.avg_pool2d(S, 2)", [2, 3, 6, 7]),
    ("numpool.max_pool2d(S, 2, stride=1)", [3, 3, 4, 7, 7, 8, 7, 7, 8]),
    ('numpool.max_pool2d(x, 2, stride=2, layout="channels_last").shape', [1, 7, 7, 4]),
    ('numpool.max_pool2d(x, 3, stride=2, layout="channels_last").shape', [1, 6, 6, 4]),
    ('padding="VALID", layout="channels_last").shape', [1, 7, 7, 4]),
    ("numpool.relu(r)", [0, 0, 0.36354962, 0.00713745, 0.69756126, 0.8053344]),
    # TF pooling functions: SAME keeps the size; 3-D SAME shapes; argmax formats
    ('numpool.avg_pool2d(y, 2, stride=1, padding="SAME"', [10, 9, 9, 2]),
    ("out.shape, argmax.shape, argmax.dtype.name", [10, 9, 9, 2, 10, 9, 9, 2, 64]),
    ("np.count_nonzero(d)", [3, 16, 3, 4]),
    ("numpool.avg_pool3d(y3,", [1, 1, 2, 5, 3]),
    ("numpool.max_pool3d(y3,", [1, 1, 2, 5, 3]),
    ("argmax[0, :, :, 0]", [10, 14, 26, 30]),
    ("argmax[0, :, :, 1]", [1, 5, 17, 21]),
    ("idx[0].transpose(2, 0, 1)", [5, 7, 13, 15, 0, 2, 8, 10]),
    # backward: where a gradient of ones goes
    ("numpool.max_pool2d_backward(np.ones((1, 1, 2, 2), np.float32), X, 2)",
     [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]),
    ("numpool.max_pool2d_backward(np.ones((1, 1, 3, 3), np.float32), S, 2, stride=1)",
     [0, 2, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2, 0, 0, 0, 0]),
    ("numpool.avg_pool2d_backward", [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]),
])
def test_examples_show_the_tutorials_numbers(examples, code, expected):
    assert result(examples, code) == pytest.approx(expected)


def test_examples_have_a_caption_above_every_one(examples):
    lines = examples.splitlines()
    for above, line in zip(lines, lines[1:]):
        if line.startswith("    >>> ") and not above.startswith("    >>> "):
            assert above.startswith("  ") and not above.startswith("   "), f"no caption above {line!r}"


def test_python_m_numpool_examples():
    proc = subprocess.run([sys.executable, "-m", "numpool", "examples"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Dive into Deep Learning" in proc.stdout
    assert result(proc.stdout, "numpool.max_pool2d(X, 3, stride=2, padding=1)") == [5, 7, 13, 15]


@pytest.mark.parametrize("argv, words", [
    (["examples", "--bogus"], "unrecognized arguments: --bogus"),
    (["bogus"], "invalid choice: 'bogus'"),
    ([], "missing COMMAND, one of: "),
    (["--frobnicate"], "--frobnicate"),
])
def test_bad_command_line_prints_one_line_and_fails(capsys, argv, words):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("numpool: error: ")
    assert words in captured.err


def test_bad_option_in_a_subprocess_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "numpool", "examples", "--bogus"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "numpool: error: unrecognized arguments: --bogus (see 'numpool --help')"
    ]


@pytest.mark.parametrize("argv, words", [
    (["--help"], "examples"),
    (["-h"], "COMMAND"),
    (["examples", "--help"], "usage: numpool examples"),
    (["--version"], "numpool 0.1"),
])
def test_help_and_version(capsys, argv, words):
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert words in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("name", ["README.md", "docs/semantics.md"])
def test_markdown_examples(name):
    """The ``>>>`` examples in the fenced Python blocks of the README and the semantics page run."""
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not in this tree")
    blocks = re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    source = "\n".join(block for block in blocks if ">>>" in block)
    assert source, f"{name} has no examples"
    test = doctest.DocTestParser().get_doctest(source, {}, name, str(path), 0)
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
