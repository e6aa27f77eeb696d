"""Model files: saving them, and reading them back safely (vae.pth and MODEL.pth, gmm_params.pkl).

Nothing here executes code from a file it reads. ``vae.pth`` is what ``torch.save`` writes (a zip
holding a pickle and raw tensor storages). It is loadable with ``torch.load(path, weights_only=True)``;
we read it without importing torch (about 1.5 s of start-up here) through an unpickler that admits only
the tensor-rebuilding names that ``weights_only`` admits for plain tensors. ``gmm_params.pkl`` is
read by an unpickler that admits only what our writer writes: builtins and numpy arrays.
"""

import collections
import io
import pickle
import typing
import zipfile
from dataclasses import asdict, fields
from typing import Callable

import numpy as np

from vae.core.errors import InputError, first_line, open_for_reading
from vae.core.io import atomic_write

MODEL_FORMAT = "vae-checkpoint"
MIXTURE_FORMAT = "vae-gmm"
FAMILY_FORMAT = "vae-family-model"  # a model from ``vae.py fit``
REFERENCE_FORMAT = "vae-reference"  # the network samples are judged in, from ``vae.py reference``
WRITERS = {MODEL_FORMAT: "vae.py train", MIXTURE_FORMAT: "vae.py train", FAMILY_FORMAT: "vae.py fit",
           REFERENCE_FORMAT: "vae.py reference"}
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------- vae.pth


def save_model(path: str, config, state_dict, record: dict, mark: str = MODEL_FORMAT) -> None:
    """Save weights and the configuration (a dataclass) that rebuilds them (``record``: training facts)."""
    import torch  # only the commands that train pay its start-up (about 1.5 s)

    checkpoint = {
        "format": mark,
        "version": FORMAT_VERSION,
        "config": asdict(config),
        "record": record,
        "state_dict": {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()},
    }
    atomic_write(path, lambda handle: torch.save(checkpoint, handle))


def plain(value):
    """Dataclass dicts as builtins only (tuples to lists), so that a model file holds nothing exotic."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def read_model(path: str, mark: str, what: str, config_class, build=None, older: dict | None = None) -> tuple:
    """(its configuration, or ``build(configuration)``: a network; its weights as numpy arrays; its record) of a
    model file read safely; every way the configuration can fail to read or build is one InputError naming the
    file."""
    raw, state, record = read_checkpoint(path, mark, what)
    try:
        config = config_from_dict(config_class, raw, older)
        return (build(config) if build else config), state, record
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise InputError(f"{path}: damaged {what} configuration ({first_line(error)})") from None


def config_from_dict(cls, raw: dict, older: dict | None = None):
    """A config dataclass from a model file's dict, each value converted to its field's default's type.

    ``older``: {field: value} for fields that files written before the field existed lack (None is
    then kept as None). KeyError, TypeError or ValueError when the dict does not fit ``cls``.
    """
    defaults, older = cls(), older or {}
    values = {}
    for field in fields(cls):
        default = getattr(defaults, field.name)
        value = raw[field.name] if field.name in raw or field.name not in older else older[field.name]
        if value is None and field.name in older:
            values[field.name] = None
        elif isinstance(default, tuple):
            values[field.name] = tuple(_item_type(field.type)(item) for item in value)
        elif default is None:  # an ``int | None`` field: None means "chosen at fit time", a fitted file has it
            values[field.name] = None if value is None else _value_type(field.type)(value)
        else:
            values[field.name] = type(default)(value)
    return cls(**values)


def _value_type(annotation) -> type:
    """T of a ``T | None`` annotation."""
    return next(candidate for candidate in typing.get_args(annotation) if candidate is not type(None))


def _item_type(annotation) -> type:
    """The item type T of a tuple[T, ...] annotation (or of tuple[T, ...] | None); int by default."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is tuple:
            return typing.get_args(candidate)[0]
    return int


def read_checkpoint(path: str, mark: str, what: str) -> tuple[dict, dict[str, np.ndarray], dict]:
    """A model file's raw configuration dict, its weights as numpy arrays and its record, read safely."""
    checkpoint = _read_torch_file(path)
    _check_format(checkpoint, path, mark, what)
    try:
        raw = dict(checkpoint["config"])
        state = {str(name): value for name, value in dict(checkpoint["state_dict"]).items()}
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path}: damaged checkpoint configuration ({error})") from None
    if not all(isinstance(value, np.ndarray) for value in state.values()):
        raise InputError(f"{path}: damaged checkpoint (its weights are not all tensors)")
    record = checkpoint.get("record") if isinstance(checkpoint.get("record"), dict) else {}
    return raw, state, record


_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


def _read_torch_file(path: str):
    with open_for_reading(path, "a checkpoint") as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise InputError(f"{path}: not a torch checkpoint (not a readable torch.save zip archive)") from None
        return _unpickle_checkpoint(archive, path)


def _unpickle_checkpoint(archive: zipfile.ZipFile, path: str):
    with archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(pickles) != 1:
            raise InputError(f"{path}: not a torch checkpoint (no data.pkl in the archive)")
        prefix = pickles[0][: -len("data.pkl")]
        return _restricted_load(lambda: _load_tensors(archive, prefix, pickles[0], path), path, "damaged checkpoint")


def _load_tensors(archive: zipfile.ZipFile, prefix: str, name: str, path: str):
    if prefix + "byteorder" in archive.namelist() and archive.read(prefix + "byteorder") != b"little":
        raise InputError(f"{path}: big-endian checkpoints are not supported")
    return _TensorUnpickler(io.BytesIO(archive.read(name)), archive, prefix).load()


class _Forbidden(pickle.UnpicklingError):
    """The file asks for something our unpicklers do not admit (as opposed to being damaged)."""


def _restricted_load(load: Callable, path: str, damaged: str):
    """Run a restricted unpickling; every way it can fail becomes one InputError line."""
    try:
        return load()
    except InputError:
        raise
    except _Forbidden as error:
        raise InputError(f"{path}: refused: {error}") from None
    except Exception as error:  # damaged files fail in many ways; none may escape as a traceback
        raise InputError(f"{path}: {damaged} ({type(error).__name__}: {error})") from None


def _check_format(content, path: str, mark: str, what: str) -> None:
    if not isinstance(content, dict) or content.get("format") != mark:
        raise InputError(f"{path}: not a {what} (no '{mark}' format mark; was it written by '{WRITERS[mark]}'?)")
    if content.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: {what} version {content.get('version')!r} is not supported (expected "
                         f"{FORMAT_VERSION})")


class _TensorUnpickler(pickle.Unpickler):
    """Rebuilds torch tensors as numpy arrays; refuses every other global."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return np.dtype(_STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise _Forbidden(f"it refers to {module}.{name}, which a weights-only checkpoint never needs")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], np.dtype)):
            raise _Forbidden("it holds a persistent object that is not a tensor storage")
        _, dtype, key, _location, count = pid  # the location (cpu, cuda:0...) does not matter: numpy is on the CPU
        data = np.frombuffer(self.archive.read(f"{self.prefix}data/{key}"), dtype=dtype)
        if len(data) < count:
            raise pickle.UnpicklingError(f"tensor storage {key} is truncated")
        return data[:count]


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("a tensor without storage")
    size, stride = tuple(int(n) for n in size), tuple(int(n) for n in stride)
    if offset < 0 or len(size) != len(stride) or any(n < 0 for n in size + stride):
        raise pickle.UnpicklingError("a tensor with an invalid layout")
    if 0 not in size and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= len(storage):
        raise pickle.UnpicklingError("a tensor that reaches outside its storage")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    strides = tuple(s * storage.itemsize for s in stride)
    return np.lib.stride_tricks.as_strided(storage[offset:], size, strides).copy()


# -------------------------------------------------------------------------------- gmm_params.pkl


def save_mixture(path: str, params: dict) -> None:
    """Pickle a dict of builtins and numpy arrays (see :func:`vae.core.gmm.MixtureClassifier.to_params`)."""
    params = {"format": MIXTURE_FORMAT, "version": FORMAT_VERSION, **params}
    atomic_write(path, lambda handle: pickle.dump(params, handle, protocol=4))


def load_mixture(path: str) -> dict:
    """Read gmm_params.pkl with an unpickler that admits only numpy arrays and builtins."""
    with open_for_reading(path, "a mixture file") as handle:
        params = _restricted_load(_ArrayUnpickler(handle).load, path, "not a readable mixture file")
    _check_format(params, path, MIXTURE_FORMAT, "vae mixture file")
    return params


class _ArrayUnpickler(pickle.Unpickler):
    # What numpy's pickling of plain arrays refers to, under numpy 2 names and numpy 1 names.
    ALLOWED = {
        (module, name)
        for package in ("numpy.core", "numpy._core")
        for module, name in ((f"{package}.multiarray", "_reconstruct"), (f"{package}.numeric", "_frombuffer"))
    } | {("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise _Forbidden(f"it refers to {module}.{name}; only numpy arrays and builtins are allowed")
        return super().find_class(module, name)
