"""Files: atomic writes, and safe reading of vae.pth and gmm_params.pkl.

Every output goes through :func:`atomic_write`: a temporary file in the same folder, renamed into
place, so an interrupted run leaves the old file or the new one, never half of one.

Nothing here executes code from a file it reads. ``vae.pth`` is what ``torch.save`` writes (a zip
holding a pickle and raw tensor storages). It is loadable with ``torch.load(path, weights_only=True)``;
we read it without importing torch (about 1.5 s of start-up here) through an unpickler that admits only
the tensor-rebuilding names that ``weights_only`` admits for plain tensors. ``gmm_params.pkl`` is
read by an unpickler that admits only what our writer writes: builtins and numpy arrays.
"""

import collections
import io
import os
import pickle
import tempfile
import zipfile
from dataclasses import asdict
from typing import BinaryIO, Callable

import numpy as np

from vae.errors import InputError, open_for_reading
from vae.network import ModelConfig

MODEL_FORMAT = "vae-checkpoint"
MIXTURE_FORMAT = "vae-gmm"
FAMILY_FORMAT = "vae-family-model"  # a model from ``vae.py fit``
WRITERS = {MODEL_FORMAT: "vae.py train", MIXTURE_FORMAT: "vae.py train", FAMILY_FORMAT: "vae.py fit"}
FORMAT_VERSION = 1


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through ``write(handle)`` so that ``path`` is never seen half-written."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp", delete=False)
    except OSError as error:
        raise InputError(f"{path}: cannot write here ({error.strerror or error})") from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(handle.name, path)
    except BaseException as error:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise InputError(f"{path}: cannot write ({error.strerror or error})") from None
        raise


def write_images(path: str, image_set, pairs, score: Callable):
    """Write the outputs of (input batch, output batch) ``pairs``, in order, as float32 in ``image_set``'s
    own layout (vae.data.ImageSet.restore), and return ``score(pairs)``, computed on the way.

    A ``path`` ending in .npy is written a batch at a time, so memory stays bounded however many
    images there are; any other is an .npz with key 'data', written once the whole array is filled.
    """
    def passing(store):
        for truth, output in pairs:
            store(np.ascontiguousarray(image_set.restore(output.reshape(len(output), -1)), dtype=np.float32))
            yield truth, output

    if path.endswith(".npy"):
        scores = []

        def stream(handle):
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": tuple(image_set.stored_shape)}
            np.lib.format.write_array_header_1_0(handle, header)
            scores.append(score(passing(lambda batch: handle.write(batch.tobytes()))))

        atomic_write(path, stream)
        return scores[0]
    whole, filled = np.empty(image_set.stored_shape, np.float32), 0

    def keep(batch):
        nonlocal filled
        whole[filled:filled + len(batch)] = batch
        filled += len(batch)

    scores = score(passing(keep))
    atomic_write(path, lambda handle: np.savez(handle, data=whole))
    return scores


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------- vae.pth


def save_model(path: str, config, state_dict, record: dict, mark: str = MODEL_FORMAT) -> None:
    """Save weights and the configuration (a dataclass) that rebuilds them (``record``: training facts)."""
    import torch

    checkpoint = {
        "format": mark,
        "version": FORMAT_VERSION,
        "config": asdict(config),
        "record": record,
        "state_dict": {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()},
    }
    atomic_write(path, lambda handle: torch.save(checkpoint, handle))


def load_model(path: str) -> tuple[ModelConfig, dict[str, np.ndarray], dict]:
    """Read vae.pth: its configuration, its weights as numpy arrays, and its training record."""
    raw, state, record = read_checkpoint(path, MODEL_FORMAT, "vae checkpoint")
    try:
        config = ModelConfig(
            input_side=int(raw["input_side"]),
            latent_dim=int(raw["latent_dim"]),
            hidden=_widths(raw["hidden"]),
            decoder_hidden=None if raw.get("decoder_hidden") is None else _widths(raw["decoder_hidden"]),  # None: older files
            activation=str(raw["activation"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path}: damaged checkpoint configuration ({error})") from None
    return config, state, record


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


def _widths(values) -> tuple[int, ...]:
    return tuple(int(width) for width in values)


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
        raise InputError(f"{path}: {what} version {content.get('version')!r} is not supported (expected {FORMAT_VERSION})")


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
    """Pickle a dict of builtins and numpy arrays (see :func:`vae.gmm.MixtureClassifier.to_params`)."""
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
