"""``numpool demo``: Kaggle's feature-extraction lesson (filter, detect, condense) as one PNG.

The lesson's pipeline, with numpool's layers on a channels-last ``(1, H, W, 1)`` image:

1. **filter**: ``Conv2D(1, 3, padding="same", use_bias=False)`` with the fixed edge
   kernel ``[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]``;
2. **detect**: ``ReLU()``, which zeroes every negative response;
3. **condense**: ``MaxPooling2D(2, strides=2, padding="same")``, which keeps each 2x2
   patch's strongest response.

Two more rows of the picture show why pooling is used.  *Translation invariance*: the
same image shifted by a few pixels gives an edge map that differs almost everywhere, but
the maps agree more and more after each 2x2 pooling (measured as the relative
difference ``||a - b|| / ||a||``).  *Max against average*: max pooling keeps each patch's
peak, average pooling dilutes it with the patch's zeros.

:func:`feature_extraction` computes every number and map (no plotting, so it is
testable); :func:`draw` makes the PNG; :func:`run` is the command.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

NAME = "demo"
EDGE_KERNEL = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32)
MAX_SIDE = 512  # larger images are scaled down to this longest side
DEFAULT_PNG = "numpool-demo.png"


def add_parser(commands):
    parser = commands.add_parser(
        NAME,
        help="draw the feature-extraction lesson (filter, detect, condense) as a PNG",
        description=(
            "Kaggle's feature-extraction lesson with numpool's layers: an image goes through a "
            "3x3 edge-detection Conv2D, a ReLU and a 2x2 MaxPool2D ('same' padding), drawn side "
            "by side in one PNG, with a row on translation invariance (a shifted image gives "
            "nearly the same pooled map) and a row comparing max with average pooling. "
            "Needs the demo extras: pip install 'numpool[demo]'."
        ),
    )
    parser.add_argument("--image", metavar="PATH",
                        help="a PNG or JPEG image (default: scikit-image's 'camera' photograph); "
                             f"colour is converted to grey, and an image larger than {MAX_SIDE} "
                             "pixels a side is scaled down with numpool.interpolate")
    parser.add_argument("--out", metavar="DIR", default=".",
                        help=f"directory for {DEFAULT_PNG} (default: the current directory; "
                             "created if missing)")
    parser.add_argument("--shift", metavar="PIXELS", type=int, default=2,
                        help="how far the translation-invariance row shifts the image (default 2)")
    parser.set_defaults(handler=run)
    return parser


def run(args):
    from ._support import CommandError, output_directory

    if not 1 <= args.shift <= 16:
        raise CommandError(f"--shift must be between 1 and 16 pixels; got {args.shift}")
    image, name = load_image(args.image)
    result = feature_extraction(image, shift=args.shift)
    path = output_directory(args.out) / DEFAULT_PNG
    draw(result, path, name)
    print(summary(result, name))
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------
# the image


def load_image(path=None):
    """A grey image as float32 in [0, 1] and a name for it; scikit-image's camera by default.

    Colour images become grey with ITU-R 601 weights (what ``PIL.Image.convert("L")``
    uses); an alpha channel is dropped.  An image whose longer side exceeds
    :data:`MAX_SIDE` is scaled down to it with ``numpool.interpolate(mode="bilinear",
    antialias=True)``.
    """
    from ._support import CommandError, require

    if path is None:
        data = require("skimage.data")
        image, name = data.camera(), "scikit-image's 'camera'"
    else:
        pil = require("PIL.Image")
        if not os.path.isfile(path):
            raise CommandError(f"no such image file: {path}")
        try:
            with warnings.catch_warnings():
                # Pillow warns, then refuses at twice the limit: one line either way
                warnings.simplefilter("error", pil.DecompressionBombWarning)
                with pil.open(path) as opened:
                    image = np.asarray(opened.convert("L"))
        except (pil.DecompressionBombWarning, pil.DecompressionBombError) as exc:
            raise CommandError(f"refusing {path}: {' '.join(str(exc).split())}") from None
        except (pil.UnidentifiedImageError, OSError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise CommandError(f"cannot read {path} as an image (PNG or JPEG expected): {reason}") from None
        name = os.path.basename(path)
    image = np.asarray(image, np.float32) / 255.0
    if max(image.shape) > MAX_SIDE:
        import numpool

        scale = MAX_SIDE / max(image.shape)
        size = tuple(max(1, round(n * scale)) for n in image.shape)
        image = numpool.interpolate(image[None, None], size=size, mode="bilinear", antialias=True)[0, 0]
        image = np.clip(image, 0.0, 1.0)
    return image, name


# ---------------------------------------------------------------------------------------
# the numbers


def _layers():
    from .. import layers

    conv = layers.Conv2D(1, 3, padding="same", use_bias=False)
    conv.build((None, None, None, 1))
    conv.set_weights([EDGE_KERNEL.reshape(3, 3, 1, 1)])
    pools = {"max": layers.MaxPooling2D(2, strides=2, padding="same"),
             "avg": layers.AveragePooling2D(2, strides=2, padding="same")}
    return conv, layers.ReLU(), pools


def active_share(a):
    """The share of cells that are not zero (the lesson's 'active pixels')."""
    return float(np.count_nonzero(a)) / a.size


def relative_difference(a, b):
    """``||a - b|| / ||a||`` (0 for identical maps)."""
    norm = float(np.linalg.norm(a))
    return float(np.linalg.norm(a - b)) / norm if norm else float(np.linalg.norm(b) > 0)


def feature_extraction(image, shift=2, levels=4):
    """Every map and number the demo draws, for a grey ``(H, W)`` image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey values, float.
    shift : int
        The translation-invariance row compares the image with itself shifted by this many
        pixels right and down.  Both are cut from the same image, ``4 * shift`` pixels in
        from every edge, so neither has a border the other lacks.
    levels : int
        How many times the shifted pair is pooled (each time 2x2, stride 2).

    Returns
    -------
    dict
        ``image``, ``filtered`` (the convolution), ``detected`` (after ReLU), ``pooled``
        (``{"max": ..., "avg": ...}``), ``shifted`` (the shifted crop), and
        ``difference`` (``{"max": [...], "avg": [...]}``: the relative difference between the
        original and shifted maps after ReLU, then after each pooling), plus the shifted
        pair's maps after ReLU and after two max poolings.
    """
    from .._errors import ParameterError

    h, w = np.shape(image)
    if min(h, w) < 8 * shift + 8:
        raise ParameterError(f"the image is too small ({w}x{h} pixels) for a shift of {shift} px; "
                             f"it needs at least {8 * shift + 8} pixels a side")
    conv, relu, pools = _layers()
    x = np.asarray(image, np.float32)[None, :, :, None]
    filtered = conv(x)
    detected = relu(filtered)
    pooled = {op: pool(detected) for op, pool in pools.items()}

    e = 4 * shift
    a = x[:, e:-e, e:-e]
    b = x[:, e - shift:-e - shift, e - shift:-e - shift]  # a shifted right and down
    pair = (relu(conv(a))[0, :, :, 0], relu(conv(b))[0, :, :, 0])
    difference, pooled_pair = {}, None
    for op, pool in pools.items():
        da, db = pair
        difference[op] = [relative_difference(da, db)]
        for level in range(1, levels + 1):
            da, db = (pool(m[None, :, :, None])[0, :, :, 0] for m in (da, db))
            difference[op].append(relative_difference(da, db))
            if op == "max" and level == 2:
                pooled_pair = (da, db)
    return {
        "image": image, "filtered": filtered[0, :, :, 0], "detected": detected[0, :, :, 0],
        "pooled": {op: p[0, :, :, 0] for op, p in pooled.items()},
        "shift": shift, "shifted": b[0, :, :, 0], "difference": difference,
        "detected_pair": pair, "pooled_pair": pooled_pair,
    }


def summary(result, name):
    """The demo's numbers as text, printed under the PNG's path."""
    d, p = result["detected"], result["pooled"]
    h, w = result["image"].shape
    lines = [
        f"numpool demo: feature extraction on {name} ({w}x{h} pixels)",
        f"  filter   Conv2D 3x3 edge kernel, 'same' padding  -> {d.shape[1]}x{d.shape[0]} map",
        f"  detect   ReLU: {active_share(d):.1%} of the cells stay active (non-zero)",
        f"  condense MaxPool2D 2x2, stride 2, 'same'          -> {p['max'].shape[1]}x{p['max'].shape[0]} map, "
        f"{active_share(p['max']):.1%} active",
        f"  peak response {d.max():.3f}: kept by max pooling ({p['max'].max():.3f}), "
        f"diluted by average pooling ({p['avg'].max():.3f})",
        f"  translation by {result['shift']} px, relative difference of the maps "
        "(after ReLU, then after each 2x2 pooling):",
    ]
    for op in ("max", "avg"):
        steps = " -> ".join(f"{v:.2f}" for v in result["difference"][op])
        lines.append(f"    {op} pooling: {steps}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# the picture


def _crop(a, frac=8):
    """The central ``1/frac`` of a map's height and width, aligned to even indices."""
    h, w = a.shape
    ch, cw = max(2, h // frac) & ~1, max(2, w // frac) & ~1
    y, x = (h - ch) // 2 & ~1, (w - cw) // 2 & ~1
    return (slice(y, y + ch), slice(x, x + cw))


def _half(window):
    return tuple(slice(s.start // 2, s.stop // 2) for s in window)


def draw(result, path, name):
    """Write the demo's three-row figure to ``path`` (PNG)."""
    from ._support import require

    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 12.5), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    rows = fig.subfigures(3, 1)
    d, p = result["detected"], result["pooled"]

    bright = float(np.percentile(d[d > 0], 99)) if d.any() else 1.0  # a few edges would dim the rest

    def show(ax, a, title, cmap="magma", vmax=None):
        ax.imshow(a, cmap=cmap, interpolation="nearest", vmin=0 if cmap == "magma" else None, vmax=vmax)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])

    rows[0].suptitle("Feature extraction: filter -> detect -> condense", fontweight="bold")
    ax = rows[0].subplots(1, 4)
    show(ax[0], result["image"], f"input: {name}\n{d.shape[1]}x{d.shape[0]} grey", cmap="gray")
    ax[1].imshow(EDGE_KERNEL, cmap="coolwarm", vmin=-8, vmax=8)
    for (i, j), v in np.ndenumerate(EDGE_KERNEL):
        ax[1].text(j, i, f"{v:g}", ha="center", va="center", fontsize=14)
    ax[1].set_title("filter: Conv2D 3x3 edge kernel\n(padding 'same', no bias)", fontsize=10)
    ax[1].set_xticks([])
    ax[1].set_yticks([])
    show(ax[2], d, f"detect: ReLU(conv)\n{active_share(d):.0%} of cells active", vmax=bright)
    show(ax[3], p["max"], f"condense: MaxPool2D 2x2 'same' -> {p['max'].shape[1]}x{p['max'].shape[0]}\n"
                          f"{active_share(p['max']):.0%} of cells active", vmax=bright)

    shift = result["shift"]
    rows[1].suptitle(f"Translation invariance: the image shifted by {shift} px right and down",
                     fontweight="bold")
    ax = rows[1].subplots(1, 4)
    da, db = result["detected_pair"]
    window = _crop(da)
    show(ax[0], np.abs(da - db)[window],
         f"|ReLU map - shifted ReLU map| (centre crop)\nrelative difference {result['difference']['max'][0]:.2f}")
    pa, pb = result["pooled_pair"]
    window2 = tuple(slice(s.start // 4, s.stop // 4) for s in window)
    show(ax[1], pa[window2], "after two 2x2 max poolings: original")
    show(ax[2], pb[window2], f"... and shifted: relative difference {result['difference']['max'][2]:.2f}")
    for op, style in (("max", "o-"), ("avg", "s--")):
        ax[3].plot(result["difference"][op], style, label=f"{op} pooling")
    ax[3].set_xticks(range(len(result["difference"]["max"])))
    ax[3].set_xlabel("number of 2x2 poolings")
    ax[3].set_ylabel("relative difference, original vs shifted")
    ax[3].set_ylim(0, 1.05)
    ax[3].grid(alpha=0.3)
    ax[3].legend()

    rows[2].suptitle("Max against average pooling of the same ReLU map (centre crop)", fontweight="bold")
    ax = rows[2].subplots(1, 4)
    window = _crop(d)
    vmax = float(d[window].max()) or 1.0
    show(ax[0], d[window], f"ReLU map, peak {d.max():.2f}")
    show(ax[1], p["max"][_half(window)], f"max pooling keeps each patch's peak ({p['max'].max():.2f})")
    show(ax[2], p["avg"][_half(window)], f"average pooling dilutes it ({p['avg'].max():.2f})")
    for a in (ax[0], ax[1], ax[2]):
        a.images[0].set_clim(0, vmax)
    bins = np.linspace(0, max(float(d.max()), 1e-6), 40)
    for label, a in (("ReLU map", d), ("max pooled", p["max"]), ("average pooled", p["avg"])):
        ax[3].hist(a[a > 0], bins=bins, histtype="step", density=True, label=label, linewidth=1.5)
    ax[3].set_yscale("log")
    ax[3].set_xlabel("activation (non-zero cells)")
    ax[3].set_ylabel("density")
    ax[3].legend()
    fig.savefig(path)
