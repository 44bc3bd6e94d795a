"""``numpool explain``: the tutorials' 4x4 pooling example, step by step.

d2l's ``X = np.arange(16).reshape(4, 4)`` is pooled by numpool's own functions and the text
walks through it: each window with its cells, its maximum (and argmax) or mean, the output,
then where a gradient of ones on the output goes in the backward pass.  :func:`explain_text`
returns that text, so tests can check it without a terminal; :func:`draw` draws the same
into a PNG file (``--png``), importing matplotlib only then.

Only the display is done here (the padded input is sliced to show a window's cells); every
result shown comes from :func:`numpool.max_pool2d`, :func:`numpool.avg_pool2d` and their
``_backward`` functions.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import ParameterError
from .._params import pool_spec
from ._support import CommandError, require

NAME = "explain"
OPS = ("max", "avg")
SIZE = 4  # the input is SIZE x SIZE
MAX_KERNEL = 8  # a larger window is mostly padding, and too wide to print
WIDTH = 100

X = np.arange(SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE)
X.setflags(write=False)


def add_parser(commands):
    parser = commands.add_parser(
        NAME,
        help="walk through max or average pooling of the tutorials' 4x4 example, step by step",
        description=(
            "Pool d2l's 4x4 input X = arange(16) with numpool and explain it step by step: each "
            "window, its maximum and argmax or its mean, the output, and how a gradient of ones "
            "on the output is routed back (max) or spread (avg) to the input."
        ),
    )
    parser.add_argument("--op", choices=OPS, default="max",
                        help="max pooling or average pooling (default: max)")
    parser.add_argument("--kernel", type=int, default=2, metavar="K",
                        help=f"window size K x K, from 1 to {MAX_KERNEL} (default: 2)")
    parser.add_argument("--stride", type=int, metavar="S",
                        help="step between windows (default: the kernel size, as in PyTorch and Keras)")
    parser.add_argument("--padding", type=int, default=0, metavar="P",
                        help="cells of padding on every side, at most K // 2 as in PyTorch (default: 0)")
    parser.add_argument("--png", metavar="FILE",
                        help="also draw the windows, the output and the input gradient into the PNG "
                             "file FILE (needs matplotlib)")
    parser.set_defaults(handler=run)
    return parser


def run(args):
    text = explain_text(args.op, args.kernel, args.stride, args.padding)
    if args.png:
        text += f"\nDrawing written to {draw(args.op, args.kernel, args.stride, args.padding, args.png)}\n"
    sys.stdout.write(text)
    sys.stdout.flush()  # inside main's try, so a closed pipe is handled there
    return 0


# ---------------------------------------------------------------------------------------
# the computation, shared by the text and the drawing


@dataclass(frozen=True)
class Walk:
    """One pooling of :data:`X` by numpool, with what the explanation shows of it."""

    op: str
    kernel: int
    stride: int
    padding: int
    output: np.ndarray  # (n, n), from numpool's forward
    indices: np.ndarray | None  # (n, n) PyTorch flat indices, max only
    grad: np.ndarray  # (SIZE, SIZE), numpool's backward of a gradient of ones
    padded: np.ndarray  # X padded with -inf (max) or 0 (avg), for display only

    @property
    def n(self):
        """Output cells per side."""
        return self.output.shape[0]

    def corner(self, i, j):
        """The input cell (row, col) at the top left of output (i, j)'s window; negative in the padding."""
        return i * self.stride - self.padding, j * self.stride - self.padding

    def cells(self, i, j):
        """The cells of output (i, j)'s window, padding included, as a ``(kernel, kernel)`` array."""
        r, c = i * self.stride, j * self.stride
        return self.padded[r:r + self.kernel, c:c + self.kernel]

    def total(self, i, j):
        """Avg only: the sum of the cells of output (i, j)'s window, padding counted as 0."""
        return float(self.cells(i, j).sum(dtype=np.float64))

    def argmax(self, i, j):
        """Max only: the input cell (row, col) that output (i, j) came from."""
        return divmod(int(self.indices[i, j]), SIZE)


def walk(op="max", kernel=2, stride=None, padding=0):
    """Validate the options and pool :data:`X` forward and backward with numpool.

    Parameters
    ----------
    op : {"max", "avg"}
        Max pooling or average pooling (PyTorch's default ``count_include_pad=True``).
    kernel : int
        Window size, from 1 to :data:`MAX_KERNEL`.
    stride : int or None
        Step between windows; None means ``kernel``.
    padding : int
        Cells of padding on every side, from 0 to ``kernel // 2`` (PyTorch's rule).

    Returns
    -------
    Walk

    Raises
    ------
    ParameterError
        For a bad value, with a one-line message naming the argument.
    """
    import numpool

    if op not in OPS:
        raise ParameterError(f"`op` must be one of {OPS}; got op={op!r}.")
    name = f"{op}_pool2d"
    x = X[np.newaxis, np.newaxis]
    spec = pool_spec(name, X.shape, kernel, stride, padding, input_shape=x.shape)  # numpool's own checks
    stride = spec.stride[0]
    if padding > kernel // 2:
        raise ParameterError(
            f"`padding` must be at most half the window, kernel_size // 2 = {kernel // 2} (PyTorch's rule); "
            f"got padding={padding} with kernel_size={kernel} for {name}."
        )
    if kernel > MAX_KERNEL:
        raise ParameterError(
            f"`kernel_size` must be <= {MAX_KERNEL} to explain the {SIZE}x{SIZE} example; got kernel_size={kernel}."
        )
    geometry = dict(stride=stride, padding=padding)
    if op == "max":
        output, indices = numpool.max_pool2d(x, kernel, return_indices=True, **geometry)
        indices = indices[0, 0]
    else:
        output, indices = numpool.avg_pool2d(x, kernel, **geometry), None
    grad = getattr(numpool, f"{name}_backward")(np.ones_like(output), x, kernel, **geometry)
    padded = np.pad(X, padding, constant_values=-np.inf if op == "max" else 0.0)
    return Walk(op, kernel, stride, padding, output[0, 0], indices, grad[0, 0], padded)


# ---------------------------------------------------------------------------------------
# the text


def _num(value):
    """A number as the explanation prints it: up to 4 significant digits, ``-inf`` as is."""
    return f"{float(value):.4g}"


def _grid(cells, first_row=0, first_col=0):
    """Lines of a grid of strings, its rows and columns labelled from ``first_row``, ``first_col``."""
    cols = range(first_col, first_col + len(cells[0]))
    width = max(len(s) for s in [*map(str, cols), *(s for row in cells for s in row)]) + 2
    lines = ["  row\\col" + "".join(f"{c:>{width}}" for c in cols)]
    for r, row in enumerate(cells, first_row):
        lines.append(f"{r:>9}" + "".join(f"{s:>{width}}" for s in row))
    return lines


def _numbers(array):
    return [[_num(v) for v in row] for row in array]


def _wrap(text, indent=""):
    return textwrap.wrap(text, width=WIDTH, initial_indent=indent, subsequent_indent=indent)


def _span(first, last):
    """``first..last``, or one number when they are the same."""
    return f"{first}..{last}" if last != first else str(first)


def _heading(title):
    return ["", title, "-" * len(title)]


def _window_lines(w, i, j):
    """The explanation of output (i, j): the window's cells and what came out of them."""
    k = w.kernel
    r0, c0 = w.corner(i, j)
    cells = w.cells(i, j)
    inside = [[0 <= r < SIZE and 0 <= c < SIZE for c in range(c0, c0 + k)] for r in range(r0, r0 + k)]
    pad = "-inf" if w.op == "max" else "(0)"
    shown = [[_num(v) if ok else pad for v, ok in zip(row, oks)] for row, oks in zip(cells, inside)]
    lines = [f"Window ({i}, {j}): rows {_span(r0, r0 + k - 1)}, cols {_span(c0, c0 + k - 1)}", *_grid(shown, r0, c0)]
    if w.op == "max":
        r, c = w.argmax(i, j)
        lines.append(f"  max = {_num(w.output[i, j])} at ({r}, {c}): PyTorch flat index "
                     f"{r} * {SIZE} + {c} = {int(w.indices[i, j])}")
    else:
        lines.append(f"  mean = sum / {k * k} = {_num(w.total(i, j))} / {k * k} = {_num(w.output[i, j])}")
    return lines + [""]


def _setup_lines(w):
    """The input, the call, the output size formula and what the padding is."""
    k, s, p, n = w.kernel, w.stride, w.padding, w.n
    call = f"numpool.{w.op}_pool2d(X, {k}, stride={s}, padding={p}{', return_indices=True' * (w.op == 'max')})"
    torch = f"nn.{'MaxPool2d' if w.op == 'max' else 'AvgPool2d'}({k}, stride={s}, padding={p})"
    lines = ["Input: d2l's X = np.arange(16, dtype=np.float32).reshape(4, 4), as a (1, 1, 4, 4) array, pooled by",
             f"  numpool: {call}", f"  PyTorch: {torch}", "", *_grid(_numbers(X)), "",
             "Output size per side: floor((4 + 2 * padding - kernel) / stride) + 1",
             f"                    = floor((4 + 2 * {p} - {k}) / {s}) + 1 = {n}, so the output is {n}x{n}: "
             f"{n * n} window{'s' * (n > 1)}.", ""]
    if p:
        where = f"rows and cols {_span(-p, -1)} and {_span(SIZE, SIZE + p - 1)}"
        fill = ("filled with -inf, so it never wins a max" if w.op == "max" else
                "shown as (0): zeros that count in the divisor")
        lines += _wrap(f"Padding: {p} cell{'s' * (p > 1)} on every side ({where}), {fill}.")
    else:
        lines.append("No padding: every window lies inside the input.")
    if w.op == "avg":
        lines += _wrap(f"Divisor: every window divides its sum by kernel * kernel = {k * k}"
                       + (", padding cells included (PyTorch's default count_include_pad=True; with "
                          "count_include_pad=False it would divide by the cells inside the input only)." if p
                          else "."))
    return lines


def _backward_lines(w):
    """The gradient of ones on the output, the rule, and the input gradient."""
    k, s = w.kernel, w.stride
    if s < k:
        overlap = "The windows overlap (stride < kernel), so a cell can receive from several windows."
    elif s > k:
        overlap = "Some cells are in no window (stride > kernel), so their gradient is 0."
    else:
        overlap = "The windows do not overlap (stride = kernel)."
    if w.op == "max":
        rule = ("Rule: each window sends its gradient (here 1) to its argmax, the cell its output came from; "
                "its other cells get 0. Overlapping windows with the same argmax add up, and a tie goes to "
                "the first tied cell in row-major order (PyTorch's rule), never to every tied cell.")
        routes = [[str(w.argmax(i, j)) for j in range(w.n)] for i in range(w.n)]
        extra = ["", "Routing: the input cell (row, col) that each window's 1 goes to", *_grid(routes)]
    else:
        rule = (f"Rule: each window spreads its gradient (here 1) evenly over its {k * k} cells, "
                f"1/{k * k} = {_num(1 / (k * k))} each (the share of a padding cell is dropped); "
                "a cell adds up the shares of every window that covers it.")
        extra = []
    return [*_heading("Backward: a gradient of ones on the output"),
            f"grad_output, {w.n}x{w.n}:", *_grid(_numbers(np.ones_like(w.output))), "",
            *_wrap(f"{rule} {overlap}"), *extra, "",
            f"Input gradient, from numpool.{w.op}_pool2d_backward(grad_output, X, {k}, stride={s}, "
            f"padding={w.padding}):", *_grid(_numbers(w.grad))]


def explain_text(op="max", kernel=2, stride=None, padding=0):
    """The step-by-step explanation of pooling d2l's 4x4 example, as one string.

    Parameters
    ----------
    op, kernel, stride, padding
        As for :func:`walk`; the stride defaults to the kernel size.

    Returns
    -------
    str
        Plain text, no line wider than 100 characters, ending with a newline.

    Raises
    ------
    ParameterError
        For a bad value (see :func:`walk`).

    Examples
    --------
    >>> text = explain_text("max", 3, 2, 1)
    >>> "max = 15 at (3, 3): PyTorch flat index 3 * 4 + 3 = 15" in text
    True
    """
    w = walk(op, kernel, stride, padding)
    name = "max" if op == "max" else "average"
    title = f"numpool explain: {name} pooling, kernel {w.kernel}x{w.kernel}, stride {w.stride}, padding {w.padding}"
    lines = [title, "=" * len(title), "", *_setup_lines(w),
             *_heading("Forward: one window per output cell"), ""]
    for i in range(w.n):
        for j in range(w.n):
            lines += _window_lines(w, i, j)
    lines += [f"Output ({'the max' if op == 'max' else 'the mean'} of each window), {w.n}x{w.n}:",
              *_grid(_numbers(w.output))]
    if op == "max":
        lines += ["", f"Indices (return_indices=True): the argmax as PyTorch's flat index row * {SIZE} + col",
                  *_grid([[str(int(v)) for v in row] for row in w.indices])]
    lines += _backward_lines(w)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# the drawing


def _panel(ax, text, faces, first, title, fontsize):
    """Draw a grid of annotated cells on ``ax``, labelled from ``first`` along both axes."""
    from matplotlib.patches import Rectangle

    rows, cols = len(text), len(text[0])
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((first + c - 0.5, first + r - 0.5), 1, 1, facecolor=faces[r][c],
                                   edgecolor="0.75"))
            ax.text(first + c, first + r, text[r][c], ha="center", va="center", fontsize=fontsize)
    ax.set(xlim=(first - 0.5, first + cols - 0.5), ylim=(first + rows - 0.5, first - 0.5), aspect="equal",
           xticks=range(first, first + cols), yticks=range(first, first + rows), xlabel="col", ylabel="row")
    ax.set_title(title, fontsize=11)


def draw(op, kernel, stride, padding, path):
    """Draw the explanation into the PNG file ``path``: the padded input with every window
    outlined in its own colour, the output (each cell in its window's colour) and the
    input gradient, each cell annotated with its number.

    Parameters
    ----------
    op, kernel, stride, padding
        As for :func:`walk`.
    path : str or os.PathLike
        The PNG file to write; its directory must exist.

    Returns
    -------
    pathlib.Path
        The absolute path written.

    Raises
    ------
    ParameterError
        For a bad value (see :func:`walk`).
    CommandError
        If the directory of ``path`` does not exist, or matplotlib is not installed.
    """
    w = walk(op, kernel, stride, padding)
    path = Path(path).absolute()
    if not path.parent.is_dir():
        raise CommandError(f"cannot write {path}: the directory {path.parent} does not exist")
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    k, p, n = w.kernel, w.padding, w.n
    colour = [f"C{m % 10}" for m in range(n * n)]
    fontsize = max(5, min(12, 80 // len(w.padded)))
    fig = Figure(figsize=(15, 5.6), layout="constrained")
    FigureCanvasAgg(fig)
    left, middle, right = fig.subplots(1, 3)

    pad = "-inf" if op == "max" else "0"
    size = len(w.padded)
    is_pad = [[not (p <= r < p + SIZE and p <= c < p + SIZE) for c in range(size)] for r in range(size)]
    _panel(left, [[pad if out else _num(v) for v, out in zip(row, outs)] for row, outs in zip(w.padded, is_pad)],
           [["0.88" if out else "white" for out in outs] for outs in is_pad], -p,
           f"input X{' with padding (grey)' * bool(p)}, one outline per window", fontsize)
    for m in range(n * n):
        r0, c0 = w.corner(*divmod(m, n))
        inset = 0.04 + 0.3 * m / (n * n)  # so that overlapping outlines stay apart
        left.add_patch(Rectangle((c0 - 0.5 + inset, r0 - 0.5 + inset), k - 2 * inset, k - 2 * inset,
                                 fill=False, edgecolor=colour[m], linewidth=2))

    if op == "max":
        text = [[f"{_num(w.output[i, j])}\nfrom {w.argmax(i, j)}" for j in range(n)] for i in range(n)]
    else:
        text = [[f"{_num(w.output[i, j])}\n= {_num(w.total(i, j))} / {k * k}"
                 for j in range(n)] for i in range(n)]
    _panel(middle, text, [[to_rgba(colour[i * n + j], 0.3) for j in range(n)] for i in range(n)], 0,
           f"output: the {'max' if op == 'max' else 'mean'} of each window", 12)

    scale = w.grad.max() or 1.0
    _panel(right, _numbers(w.grad), [[to_rgba("C1", 0.6 * v / scale) for v in row] for row in w.grad], 0,
           "input gradient of a gradient of ones\n" + ("routed to each window's argmax" if op == "max"
                                                        else f"each window spreads 1/{k * k} per cell"), 12)
    fig.suptitle(f"{'max' if op == 'max' else 'average'} pooling of d2l's 4x4 X: kernel {k}, "
                 f"stride {w.stride}, padding {p}", fontsize=13)
    fig.savefig(path, format="png", dpi=100)
    return path
