"""Real datasets for examples, benchmarks and the demo.

Fashion-MNIST is read from the four IDX files that the Debian package
`dataset-fashion-mnist` installs (or from a folder named by the
`KERAS_KD_DATA` environment variable), and only falls back to
`keras.datasets.fashion_mnist`, which downloads, when neither exists.
The 8x8 digits come with scikit-learn. English text for character-level
language models is read from the fortune-cookie files of the Debian package
`fortunes` (`apt-get install fortunes`, about 2.8 MB of text).
"""

import gzip
import os

import numpy as np

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_FORTUNES_DIR = "/usr/share/games/fortunes"
# The characters of `load_fortunes`: newline and printable ASCII; id = index.
CHARACTERS = "\n" + "".join(chr(c) for c in range(32, 127))

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# IDX type codes (the third byte of the magic number) to NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}


def read_idx(path):
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array.

    Args:
        path: Path of a `.idx*-ubyte` file, or the same with `.gz`.

    Returns:
        A NumPy array with the shape and dtype recorded in the file.

    Example:

    >>> labels = read_idx("train-labels-idx1-ubyte.gz")
    >>> labels.ndim, labels.dtype
    (1, dtype('uint8'))
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        header = f.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0:
            raise ValueError(
                f"{path} is not an IDX file: its magic number is "
                f"{header.hex()!r}, expected 0x0000 followed by a type code."
            )
        type_code, ndim = header[2], header[3]
        if type_code not in _IDX_DTYPES:
            raise ValueError(f"{path}: unknown IDX type code {type_code:#x}.")
        shape = tuple(int.from_bytes(f.read(4), "big") for _ in range(ndim))
        data = np.frombuffer(f.read(), dtype=_IDX_DTYPES[type_code])
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated: its header promises shape {shape} "
            f"({int(np.prod(shape))} values) but it holds {data.size}."
        )
    return data.reshape(shape)


def _find_idx(folder, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    return None


def fashion_mnist_source(path=None):
    """The folder the IDX files will be read from, or `None` (download)."""
    for folder in (path, os.environ.get("KERAS_KD_DATA"), DEBIAN_FASHION_MNIST_DIR):
        if folder and all(_find_idx(folder, stem) for stem in _FASHION_MNIST_FILES.values()):
            return folder
    if path:
        raise FileNotFoundError(
            f"No Fashion-MNIST IDX files in {path!r}: expected "
            f"{sorted(_FASHION_MNIST_FILES.values())} (optionally .gz)."
        )
    return None


def load_fashion_mnist(path=None, flatten=False):
    """Loads Fashion-MNIST as float32 images in [0, 1] and int32 labels.

    Args:
        path: Optional folder holding the four IDX files. Defaults to
            `$KERAS_KD_DATA`, then the Debian package's folder, then
            `keras.datasets.fashion_mnist` (which downloads).
        flatten: If True, images are `(N, 784)`; else `(N, 28, 28, 1)`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: 60,000 and 10,000 images.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    >>> x_train.shape[1:], x_train.dtype, y_train.dtype
    ((28, 28, 1), dtype('float32'), dtype('int32'))
    >>> bool(x_train.min() >= 0.0 and x_train.max() <= 1.0)
    True
    """
    folder = fashion_mnist_source(path)
    if folder is not None:
        arrays = {
            key: read_idx(_find_idx(folder, stem)) for key, stem in _FASHION_MNIST_FILES.items()
        }
    else:
        import keras

        (x_tr, y_tr), (x_te, y_te) = keras.datasets.fashion_mnist.load_data()
        arrays = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    shape = (-1, 784) if flatten else (-1, 28, 28, 1)

    def images(key):
        return (arrays[key].astype("float32") / 255.0).reshape(shape)

    return (
        (images("x_train"), arrays["y_train"].astype("int32")),
        (images("x_test"), arrays["y_test"].astype("int32")),
    )


def load_digits(test_fraction=0.25, seed=0, flatten=False):
    """Loads scikit-learn's real 8x8 handwritten digits (1,797 images).

    Args:
        test_fraction: Share of each class held out for testing.
        seed: Seed of the stratified split.
        flatten: If True, images are `(N, 64)`; else `(N, 8, 8, 1)`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, float32 in [0, 1] and
        int32 labels.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape
    (1347, 8, 8, 1)
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(
            "load_digits() needs scikit-learn: pip install 'keras-kd[data]'."
        ) from None
    digits = sklearn_digits()
    x = (digits.images.astype("float32") / 16.0)[..., None]
    y = digits.target.astype("int32")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[: int(round(len(members) * test_fraction))]] = True
    if flatten:
        x = x.reshape(len(x), -1)
    return (x[~test], y[~test]), (x[test], y[test])


def load_fortunes(path=None, test_fraction=0.1, max_chars=None, seed=0):
    """Loads the fortune cookies of Debian's `fortunes` package as char ids.

    Every text file of the folder (not the `.dat` indexes or `.u8` links)
    is split into its `%`-separated fortunes; these are shuffled with
    `seed`, the last `test_fraction` of them are held out, and each side is
    joined with blank lines. Characters outside `CHARACTERS` (newline and
    printable ASCII) are dropped, tabs become spaces.

    Args:
        path: Folder of fortune files. Defaults to the Debian package's
            `/usr/share/games/fortunes` (`apt-get install fortunes`).
        test_fraction: Share of the fortunes held out.
        max_chars: If set, each side is cut to at most this many
            characters (the test side to `test_fraction` of it).
        seed: Seed of the shuffle.

    Returns:
        `(train_ids, test_ids)`: int32 arrays of indices into `CHARACTERS`.

    Example:

    >>> train_ids, test_ids = load_fortunes(max_chars=10_000)
    >>> len(train_ids), len(test_ids), len(CHARACTERS)
    (10000, 1000, 96)
    >>> "".join(CHARACTERS[i] for i in train_ids[:22]), train_ids.dtype
    ('Put your Nose to the G', dtype('int32'))
    """
    folder = path or DEBIAN_FORTUNES_DIR
    names = sorted(
        name
        for name in (os.listdir(folder) if os.path.isdir(folder) else [])
        if "." not in name and os.path.isfile(os.path.join(folder, name))
    )
    if not names:
        raise FileNotFoundError(
            f"No fortune files in {folder!r}. Install them with "
            "`apt-get install fortunes` (Debian/Ubuntu), or pass `path=` a "
            "folder of text files whose entries are separated by '%' lines."
        )
    fortunes = []
    for name in names:
        with open(os.path.join(folder, name), encoding="latin-1") as f:
            text = f.read().replace("\t", " ")
        fortunes += [part.strip("\n") for part in text.split("\n%\n") if part.strip()]
    order = np.random.default_rng(seed).permutation(len(fortunes))
    held_out = int(round(len(fortunes) * test_fraction))
    lookup = np.full(256, -1, dtype=np.int32)
    lookup[[ord(c) for c in CHARACTERS]] = np.arange(len(CHARACTERS))

    def encode(indices, limit):
        text = "\n\n".join(fortunes[i] for i in indices)
        ids = lookup[np.frombuffer(text.encode("latin-1"), dtype=np.uint8)]
        ids = ids[ids >= 0]
        return ids if limit is None else ids[:limit]

    test_limit = None if max_chars is None else int(max_chars * test_fraction)
    return (
        encode(order[held_out:], max_chars),
        encode(order[:held_out], test_limit),
    )
