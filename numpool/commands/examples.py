"""``numpool examples``: the tutorials' pooling examples, computed by numpool, as text.

:func:`examples_text` returns the text, so tests can check it without a terminal.  It runs
the fixed code lines of :data:`EXAMPLES` (never user input) and prints each one with its
value, so the text cannot show code other than what produced its numbers.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np

NAME = "examples"


def add_parser(commands):
    parser = commands.add_parser(
        NAME,
        help="print the tutorials' pooling examples, computed by numpool",
        description=(
            "Print the pooling examples of the tutorials numpool grew from (d2l's pooling "
            "chapter, the Keras/TensorFlow shape examples, TensorFlow's max_pool_with_argmax, "
            "a NumPy forward/backward derivation), each computed by numpool with a caption."
        ),
    )
    parser.set_defaults(handler=run)
    return parser


def run(args):
    sys.stdout.write(examples_text())
    sys.stdout.flush()  # inside main's try, so a closed pipe is handled there
    return 0


# Each example is (caption, code lines): the lines run in order in one namespace,
# and the last line's value is printed, so the code shown is exactly the code that ran.
EXAMPLES = [
    ("Dive into Deep Learning, pooling chapter", "PyTorch conventions: nn.MaxPool2d, nn.AvgPool2d", [
        ("The hand-written pool2d on a 3x3 input: 2x2 windows, stride 1, maximum of each",
         ["X3 = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)",
          "numpool.max_pool2d(X3, 2, stride=1)[0, 0]"]),
        ("... and the mean of each window", ["numpool.avg_pool2d(X3, 2, stride=1)[0, 0]"]),
        ("The 4x4 input of the rest of the chapter",
         ["X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)", "X[0, 0]"]),
        ("nn.MaxPool2d(3): one 3x3 window, the stride defaults to the window size",
         ["numpool.max_pool2d(X, 3)"]),
        ("nn.MaxPool2d(3, padding=1, stride=2): padding acts as -inf, so it never wins",
         ["numpool.max_pool2d(X, 3, stride=2, padding=1)"]),
        ("nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1)): a 2x3 window, one column of padding each side",
         ["numpool.max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1))"]),
        ("Two channels, torch.cat((X, X + 1), 1): each channel is pooled on its own",
         ["numpool.max_pool2d(np.concatenate([X, X + 1], axis=1), 3, stride=2, padding=1)"]),
        ("Average pooling, 2x2 windows, stride 2", ["numpool.avg_pool2d(X, 2)"]),
        ("With padding, PyTorch divides by the whole 3x3 window, padding included ...",
         ["numpool.avg_pool2d(X, 3, stride=2, padding=1)"]),
        ("... or, with count_include_pad=False, by the cells inside the input only",
         ["numpool.avg_pool2d(X, 3, stride=2, padding=1, count_include_pad=False)"]),
    ]),
    ("TensorFlow 2 course: pooling and ReLU",
     "Keras layers.MaxPool2D, tf.nn.max_pool2d, tf.nn.relu; Keras arrays are channels-last (N, H, W, C)", [
        ("The slide's 4x4 input",
         ["S = np.array([[1, 3, 2, 4], [1, 3, 2, 4], [5, 7, 6, 8], [5, 7, 6, 8]], np.float32).reshape(1, 1, 4, 4)",
          "S[0, 0]"]),
        ("2x2 max pooling, stride 2", ["numpool.max_pool2d(S, 2)[0, 0]"]),
        ("2x2 average pooling, stride 2", ["numpool.avg_pool2d(S, 2)[0, 0]"]),
        ("2x2 max pooling, stride 1: the windows overlap", ["numpool.max_pool2d(S, 2, stride=1)[0, 0]"]),
        ("layers.MaxPool2D(2, strides=2) on a (1, 14, 14, 4) batch",
         ["x = np.zeros((1, 14, 14, 4), np.float32)",
          'numpool.max_pool2d(x, 2, stride=2, layout="channels_last").shape']),
        ("layers.MaxPool2D(3, strides=2): 'valid' padding, so floor((14 - 3) / 2) + 1 = 6 windows a side",
         ['numpool.max_pool2d(x, 3, stride=2, layout="channels_last").shape']),
        ("tf.nn.max_pool2d(x, 2, strides=2, padding='VALID')",
         ['numpool.max_pool2d(x, 2, stride=2, padding="VALID", layout="channels_last").shape']),
        ("tf.nn.relu and layers.ReLU() on the slide's values",
         ["r = np.array([[-1.533682, -2.7053335, 0.36354962], [0.00713745, 0.69756126, 0.8053344]], np.float32)",
          "numpool.relu(r)"]),
    ]),
    ("Kaggle, Maximum Pooling", "Keras layers.MaxPool2D(pool_size=2) after a ReLU", [
        ("A feature map of shape (1, 4, 4, 1), as a convolution might produce it",
         ["fmap = np.array([[-1, 2, -3, 0], [0, -1, -2, 1], [-2, -3, 4, -1], [-1, 0, -1, -2]], "
          "np.float32).reshape(1, 4, 4, 1)",
          "fmap[0, :, :, 0]"]),
        ("Detect: ReLU zeroes its negative cells", ["d = numpool.relu(fmap)", "d[0, :, :, 0]"]),
        ("Condense: 2x2 max pooling keeps each patch's strongest activation",
         ['c = numpool.max_pool2d(d, 2, layout="channels_last")', "c[0, :, :, 0]"]),
        ("Pooling raises the share of active (non-zero) cells",
         ['f"{np.count_nonzero(d)} of {d.size} before, {np.count_nonzero(c)} of {c.size} after"']),
    ]),
    ("TensorFlow's pooling functions",
     "tf.nn.avg_pool, max_pool, max_pool_with_argmax, avg_pool3d, max_pool3d; channels-last", [
        ("tf.nn.avg_pool(y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME'): SAME keeps the size",
         ["y = np.zeros((10, 9, 9, 2), np.float32)",
          'numpool.avg_pool2d(y, 2, stride=1, padding="SAME", count_include_pad=False, layout="channels_last").shape']),
        ("tf.nn.max_pool_with_argmax(y, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME')",
         ['out, argmax = numpool.max_pool_with_argmax(y, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")',
          "out.shape, argmax.shape, argmax.dtype.name"]),
        ("tf.nn.avg_pool3d(y3, ksize=[1, 1, 2, 2, 1], strides=[1, 2, 2, 1, 1], padding='SAME')",
         ["y3 = np.zeros((1, 1, 3, 5, 3), np.float32)",
          'numpool.avg_pool3d(y3, (1, 2, 2), stride=(2, 2, 1), padding="SAME", count_include_pad=False, '
          'layout="channels_last").shape']),
        ("tf.nn.max_pool3d with the same arguments",
         ['numpool.max_pool3d(y3, (1, 2, 2), stride=(2, 2, 1), padding="SAME", layout="channels_last").shape']),
        ("SAME average pooling on the 4x4 input: the padding cell goes at the end and is not counted",
         ['numpool.avg_pool2d(X.reshape(1, 4, 4, 1), 2, stride=1, padding="SAME", count_include_pad=False, '
          'layout="channels_last")[0, :, :, 0]']),
        ("max_pool_with_argmax indices on two channels, X and 15 - X. TensorFlow's flat index is "
         "(y * W + x) * C + c; channel 0:",
         ["T = np.stack([X[0, 0], 15 - X[0, 0]], axis=-1)[np.newaxis]",
          "out, argmax = numpool.max_pool_with_argmax(T, 2)",
          "argmax[0, :, :, 0]"]),
        ("channel 1, whose maximum is each window's top-left cell", ["argmax[0, :, :, 1]"]),
        ("The same windows with PyTorch's per-plane index y * W + x, channel 0 then channel 1",
         ['out, idx = numpool.max_pool2d(T, 2, return_indices=True, layout="channels_last")',
          "idx[0].transpose(2, 0, 1)"]),
    ]),
    ("NumPy forward and backward derivation", "the gradient of pooling", [
        ("Max pooling backward, 2x2 windows, stride 2: each window's gradient (here 1) goes to its maximum",
         ["numpool.max_pool2d_backward(np.ones((1, 1, 2, 2), np.float32), X, 2)[0, 0]"]),
        ("Stride 1 on the TF course's input: overlapping windows add up, and a tie goes to the first "
         "cell in row-major order (not to every tied cell)",
         ["numpool.max_pool2d_backward(np.ones((1, 1, 3, 3), np.float32), S, 2, stride=1)[0, 0]"]),
        ("Average pooling backward on the 3x3 input: each window shares its gradient equally, 1/4 a cell",
         ["numpool.avg_pool2d_backward(np.ones((1, 1, 2, 2), np.float32), X3, 2, stride=1)[0, 0]"]),
    ]),
]


def _wrap(text):
    return textwrap.fill(text, width=100, initial_indent="  ", subsequent_indent="  ")


def _show(value):
    text = np.array2string(value, separator=" ") if isinstance(value, np.ndarray) else str(value)
    return "\n".join("      " + line if line.strip() else "" for line in text.splitlines())


def examples_text():
    """Every tutorial example run by numpool, with captions, as one string.

    Examples
    --------
    >>> text = examples_text()
    >>> "numpool.max_pool2d(X, 3)" in text and "[[[[10.]]]]" in text
    True
    """
    import numpool

    namespace = {"np": np, "numpool": numpool}
    lines = [f"numpool {numpool.__version__}: the pooling examples of the tutorials numpool grew from, "
             "computed by numpool.",
             "Arrays are channels-first (N, C, H, W) unless a line says channels_last."]
    for title, source, examples in EXAMPLES:
        lines += ["", title, "=" * len(title), f"({source})", ""]
        for caption, code in examples:
            lines.append(_wrap(caption))
            for line in code[:-1]:
                exec(line, namespace)
                lines.append(f"    >>> {line}")
            lines += [f"    >>> {code[-1]}", _show(eval(code[-1], namespace)), ""]
    return "\n".join(lines).rstrip() + "\n"
