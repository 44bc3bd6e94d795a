"""``numpool train lenet`` and :mod:`numpool.datasets`: IDX files, the digits split, augmentation.

The command runs on a tiny synthetic MNIST written as IDX files, for one epoch. The full
default training (about 30 s to a minute on two cores) runs only with ``NUMPOOL_TRAIN_FULL=1``.
"""

import gzip
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from numpool import ParameterError
from numpool.cli import main
from numpool.commands.train import CosineAdam
from numpool.datasets import (MNIST_FILES, DatasetError, load_digits32, load_mnist, read_idx, shift_augment,
                              write_idx)
from numpool.nn import lenet5

ACCURACY = re.compile(r"^held-out accuracy: (\d+\.\d+)% \((\d+)/(\d+)\) after (\d+) epochs; wall time [\d.]+ s$",
                      re.M)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------
# IDX files


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", "int32", "float32", ">f8"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) * 7 - 50).astype(dtype)
    if array.dtype.kind == "u":
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
    path = tmp_path / f"data-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable copy


def test_idx_layout_is_big_endian_with_a_magic_number(tmp_path):
    path = tmp_path / "x-idx2-short"
    write_idx(path, np.array([[1, -2, 3], [4, 5, 256]], dtype=np.int16))
    assert path.read_bytes() == bytes.fromhex("00000b02 00000002 00000003 0001 fffe 0003 0004 0005 0100")


def test_gzip_is_recognised_by_its_magic_bytes_not_the_name(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4])))
    np.testing.assert_array_equal(read_idx(path), [5, 0, 4])


@pytest.mark.parametrize("dtype", ["int64", "bool", "float16", "uint16"])
def test_write_idx_rejects_a_dtype_without_a_type_code(tmp_path, dtype):
    with pytest.raises(ParameterError, match=f"no type code for dtype {dtype}"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))


@pytest.mark.parametrize("data, words", [
    (b"", "not an IDX file; its magic number (empty)"),
    (bytes([0, 1, 8, 1, 0, 0, 0, 1, 9]), "not an IDX file; its magic number 00 01 08 01"),
    (bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 9]), "not an IDX file"),
    (b"P5\n28 28\n255\n", "not an IDX file"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "truncated IDX header; 3 dimensions need 16 bytes, the file has 8"),
    (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3]), "IDX data truncated; shape (2, 3) of uint8 needs 6 bytes"),
    (bytes([0, 0, 0x0D, 1, 0, 0, 0, 2]) + b"\0" * 7,
     "shape (2,) of float32 needs 8 bytes after the header, the file has 7"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]), "IDX data longer than its header says"),
    (b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
    (gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1]))[:-6], "not a valid gzip file"),
])
def test_malformed_idx_gives_one_line_naming_the_file(tmp_path, data, words):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert words in message


# ---------------------------------------------------------------------------------------
# MNIST


def write_mnist(directory, train=48, test=20, gz=True):
    """A tiny synthetic MNIST: 28x28 ubyte images with a bright bar whose row is the label."""
    rng = np.random.default_rng(1)
    for split, count in (("train", train), ("test", test)):
        labels = np.arange(count, dtype=np.uint8) % 10
        images = rng.integers(0, 40, size=(count, 28, 28), dtype=np.uint8)
        images[np.arange(count), 3 + 2 * labels, 4:24] = 255
        suffix = ".gz" if gz and split == "train" else ""
        images_name, labels_name = MNIST_FILES[split]
        write_idx(directory / (images_name + suffix), images)
        write_idx(directory / (labels_name + suffix), labels)
    return directory


def test_load_mnist_pads_to_32_and_scales(tmp_path):
    write_mnist(tmp_path)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path)
    assert x_train.shape == (48, 32, 32, 1) and x_test.shape == (20, 32, 32, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    raw = read_idx(tmp_path / "t10k-images-idx3-ubyte")
    np.testing.assert_array_equal(x_test[:, 2:30, 2:30, 0], raw.astype(np.float32) / np.float32(255))
    assert not x_test[:, :2].any() and not x_test[:, 30:].any() and not x_test[:, :, :2].any()
    np.testing.assert_array_equal(y_test, np.arange(20) % 10)
    (x_first, _), _ = load_mnist(tmp_path, dtype="float64", layout="channels_first")
    assert x_first.shape == (48, 1, 32, 32) and x_first.dtype == np.float64
    np.testing.assert_allclose(x_first[:, 0], x_train[..., 0], rtol=1e-7)


@pytest.mark.parametrize("name, array, words", [
    ("train-labels-idx1-ubyte.gz", np.zeros(47, np.uint8),
     "train-images-idx3-ubyte.gz holds 48 images but {dir}/train-labels-idx1-ubyte.gz 47 labels."),
    ("t10k-images-idx3-ubyte", np.zeros((20, 32, 32), np.uint8),
     "t10k-images-idx3-ubyte: expected ubyte images of shape (N, 28, 28); got uint8 of shape (20, 32, 32)."),
    ("t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.float32), "expected ubyte images"),
    ("t10k-labels-idx1-ubyte", np.full(20, 10, np.uint8), "expected a 1-D array of ubyte labels 0 to 9"),
])
def test_load_mnist_rejects_inconsistent_files(tmp_path, name, array, words):
    write_mnist(tmp_path)
    write_idx(tmp_path / name, array)
    with pytest.raises(DatasetError) as info:
        load_mnist(tmp_path)
    assert words.format(dir=tmp_path) in str(info.value)


def test_load_mnist_names_a_missing_file(tmp_path):
    write_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(DatasetError, match=r"no MNIST file t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\)"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------------------------------
# the digits


@pytest.fixture(scope="module")
def digits():
    return load_digits32()


def test_digits32_shapes_range_and_balance(digits):
    (x_train, y_train), (x_test, y_test) = digits
    assert x_train.shape == (1438, 32, 32, 1) and x_test.shape == (359, 32, 32, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0 and x_train.max() == 1 and 0 <= x_test.min() and x_test.max() <= 1
    counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_less(np.abs(counts - 0.2 * (counts + np.bincount(y_train, minlength=10))), 0.51)


def test_digits32_split_is_fixed_and_disjoint(digits):
    (x_train, y_train), (x_test, _) = digits
    (_, y_train2), (x_test2, _) = load_digits32(seed=0)
    np.testing.assert_array_equal(x_test, x_test2)
    np.testing.assert_array_equal(y_train, y_train2)
    train = {image.tobytes() for image in x_train}
    assert len(train) == len(x_train) and not train & {image.tobytes() for image in x_test}
    (_, _), (x_test_other, _) = load_digits32(seed=1, test_fraction=0.1, dtype="float64",
                                             layout="channels_first")
    assert x_test_other.shape == (179, 1, 32, 32) and x_test_other.dtype == np.float64


@pytest.mark.parametrize("kwargs, words", [
    ({"test_fraction": 1.0}, "`test_fraction` must lie in (0, 1)"),
    ({"dtype": "int32"}, "`dtype` must be a float dtype"),
    ({"layout": "NHWC?"}, "`layout` must be"),
])
def test_digits32_bad_arguments(kwargs, words):
    with pytest.raises(ParameterError) as info:
        load_digits32(**kwargs)
    assert words in str(info.value)


# ---------------------------------------------------------------------------------------
# augmentation and the learning-rate schedule


def test_shift_augment_moves_each_copy_by_at_most_max_shift():
    x = np.zeros((6, 9, 9, 1), np.float32)
    x[np.arange(6), 4, 4] = 1
    xa, ya = shift_augment(x, np.arange(6), copies=5, max_shift=2, seed=3)
    assert xa.shape == (36, 9, 9, 1)
    np.testing.assert_array_equal(xa[:6], x)
    np.testing.assert_array_equal(ya, np.tile(np.arange(6), 6))
    rows, columns = np.nonzero(xa[..., 0])[1:]
    assert len(rows) == 36 and np.abs(rows - 4).max() == 2 and np.abs(columns - 4).max() == 2
    again, _ = shift_augment(x, np.arange(6), copies=5, max_shift=2, seed=3)
    np.testing.assert_array_equal(again, xa)
    first, _ = shift_augment(x.transpose(0, 3, 1, 2), np.arange(6), 5, 2, seed=3, layout="channels_first")
    np.testing.assert_array_equal(first, xa.transpose(0, 3, 1, 2))


def test_cosine_adam_falls_from_the_learning_rate_to_zero():
    optimizer = CosineAdam(0.002, steps=4)
    rates = []
    for _ in range(6):
        optimizer.step([])
        rates.append(optimizer.learning_rate)
    expected = [0.002 * (1 + math.cos(math.pi * min(t / 4, 1))) / 2 for t in range(6)]
    assert rates == pytest.approx(expected) and rates[-1] == 0


# ---------------------------------------------------------------------------------------
# the command


def one_error_line(capsys, status, argv):
    assert main(argv) == status
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and captured.err.startswith("numpool train: error: ")
    return captured.err


def test_train_lenet_on_a_tiny_mnist(tmp_path, capsys):
    data, out, again = write_mnist(tmp_path), tmp_path / "new" / "out", tmp_path / "again"
    argv = ["train", "lenet", "--data", str(data), "--epochs", "1", "--batch-size", "16", "--pool", "avg"]
    assert main(argv + ["--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "MNIST from" in stdout and 'Model: "lenet5_avg"' in stdout and "Total params: 61,706" in stdout
    accuracy, correct, total, epochs = ACCURACY.search(stdout).groups()
    assert (int(total), int(epochs)) == (20, 1) and float(accuracy) == pytest.approx(100 * int(correct) / 20, abs=0.01)
    weights, curves = out / "lenet5_avg.npz", out / "lenet5_avg-curves.png"
    assert f"weights: {weights}\n" in stdout and f"curves:  {curves}\n" in stdout
    assert curves.read_bytes().startswith(PNG_SIGNATURE)
    lenet5("avg").load_weights(weights)
    # the same seed trains the same weights; --quiet prints only the result
    assert main(argv + ["--out", str(again), "--quiet"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    with np.load(weights) as first, np.load(again / "lenet5_avg.npz") as second:
        assert len(first.files) == len(second.files) == 10
        for key, key2 in zip(first.files, second.files):  # layer names differ: auto-numbered per process
            np.testing.assert_array_equal(first[key], second[key2])


def test_train_missing_data_directory(tmp_path, capsys):
    err = one_error_line(capsys, 1, ["train", "lenet", "--data", str(tmp_path / "nowhere")])
    assert err == f"numpool train: error: --data {tmp_path / 'nowhere'}: no such directory\n"


def test_train_malformed_idx_file(tmp_path, capsys):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 20, 1, 2]))
    err = one_error_line(capsys, 1, ["train", "lenet", "--data", str(tmp_path)])
    assert "t10k-labels-idx1-ubyte: IDX data truncated" in err


def test_train_output_directory_that_is_a_file(tmp_path, capsys):
    write_mnist(tmp_path)
    (tmp_path / "taken").write_text("")
    err = one_error_line(capsys, 1, ["train", "lenet", "--data", str(tmp_path), "--out", str(tmp_path / "taken")])
    assert "cannot create the output directory" in err


@pytest.mark.parametrize("argv, words", [
    (["train"], "the following arguments are required: MODEL"),
    (["train", "resnet"], "argument MODEL: invalid choice: 'resnet'"),
    (["train", "lenet", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["train", "lenet", "--batch-size", "many"], "argument --batch-size: expected an integer, got 'many'"),
    (["train", "lenet", "--learning-rate", "nan"], "argument --learning-rate: must be a finite number > 0"),
    (["train", "lenet", "--pool", "min"], "argument --pool: invalid choice: 'min'"),
    (["train", "lenet", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
])
def test_train_bad_command_line(capsys, argv, words):
    assert words in one_error_line(capsys, 2, argv)


def test_train_help(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: numpool train") and "--data DIR" in out and "{max,avg}" in out
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out


def test_optional_dependencies_are_imported_lazily():
    """Without scikit-learn and matplotlib, the modules import and the command fails in one line."""
    code = ("import sys; sys.modules['sklearn'] = sys.modules['matplotlib'] = None; "
            "import numpool.datasets, numpool.commands.train; from numpool.cli import main; "
            "sys.exit(main(['train', 'lenet']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout == ""
    message = ("numpool train: error: this command needs scikit-learn, which is not installed; "
               "install the demo extras: pip install 'numpool[demo]'")
    assert proc.stderr.splitlines() == [message]


@pytest.mark.skipif(os.environ.get("NUMPOOL_TRAIN_FULL") != "1",
                    reason="the full default training takes 30 s to a minute; set NUMPOOL_TRAIN_FULL=1")
def test_default_training_reaches_97_percent(tmp_path, capsys):
    assert main(["train", "lenet", "--out", str(tmp_path), "--quiet"]) == 0
    stdout = capsys.readouterr().out
    print(stdout)
    assert float(ACCURACY.search(stdout).group(1)) >= 97
