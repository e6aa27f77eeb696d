import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from vae.assignment.config import ModelConfig
from vae.assignment.inference import Network, load_model
from vae.assignment.model import VAE
from vae.assignment.search import GridSearch, LatticeSearch
from vae.core import checkpoint
from vae.core.errors import InputError
from vae.core.metrics import mse, recon_score, ssim


@pytest.mark.parametrize("activation, decoder_hidden", [("relu", None), ("elu", (8, 16, 32)), ("silu", (40,))])
def test_numpy_passes_equal_the_torch_model(activation, decoder_hidden):
    torch.manual_seed(0)
    config = ModelConfig(hidden=(64, 32), decoder_hidden=decoder_hidden, activation=activation)
    model = VAE(config).eval()
    network = Network.from_state(config, {k: v.numpy() for k, v in model.state_dict().items()})
    images = torch.rand(50, 784)
    with torch.no_grad():
        mu, _ = model.encode(images)
        decoded = torch.sigmoid(model.decode(mu))
    np.testing.assert_allclose(network.encode(images.numpy()), mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(network.decode(mu.numpy()), decoded.numpy(), atol=1e-5)


def saved(tmp_path, config=ModelConfig(hidden=(16, 8))):
    torch.manual_seed(1)
    model = VAE(config)
    path = str(tmp_path / "vae.pth")
    checkpoint.save_model(path, config, model.state_dict(), {"note": "test"})
    return path, model


def test_checkpoint_reads_back_equal_to_torch_load_weights_only(tmp_path):
    path, model = saved(tmp_path)
    config, state, record = load_model(path)
    reference = torch.load(path, weights_only=True)
    assert config == ModelConfig(hidden=(16, 8)) and record == {"note": "test"}
    assert set(state) == set(reference["state_dict"]) == set(model.state_dict())
    for name, tensor in reference["state_dict"].items():
        np.testing.assert_array_equal(state[name], tensor.numpy())
    fresh = VAE(config)
    fresh.load_state_dict(reference["state_dict"])  # the usual load_state_dict pattern works too


def test_a_checkpoint_without_decoder_widths_has_a_mirrored_decoder(tmp_path):
    mirrored = ModelConfig(hidden=(16, 8), decoder_hidden=None)
    path, model = saved(tmp_path, mirrored)
    older = str(tmp_path / "older.pth")  # as written before decoder widths were saved: no such key
    rewrite_pickle(path, older,
                   lambda data: data.replace(b"\x0e\x00\x00\x00decoder_hidden", b"\x0e\x00\x00\x00unused_key____"))
    with zipfile.ZipFile(older) as archive:
        pickled = next(name for name in archive.namelist() if name.endswith("data.pkl"))
        assert b"decoder_hidden" not in archive.read(pickled)
    config, state, _ = load_model(older)
    assert config == mirrored and config.layer_sizes()[1] == [2, 8, 16, 784]
    Network.from_state(config, state)


def test_non_contiguous_and_offset_tensors_read_correctly(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {"transposed": base.T, "slice": base[1:, 2:5], "long": torch.arange(5), "empty": torch.zeros(0, 3)}
    path = tmp_path / "t.pth"
    torch.save({"format": "x", "state_dict": tensors}, path)
    loaded = checkpoint._read_torch_file(str(path))
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(loaded["state_dict"][name], tensor.numpy())


def rewrite_pickle(path, out, change):
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, change(data) if item.filename.endswith("data.pkl") else data)


def test_a_gpu_saved_checkpoint_loads_on_the_cpu(tmp_path):
    path, model = saved(tmp_path)
    gpu = str(tmp_path / "gpu.pth")
    # What torch.save writes for CUDA tensors differs only in the storages' location tag.
    rewrite_pickle(path, gpu, lambda data: data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"))
    with zipfile.ZipFile(gpu) as archive:
        assert b"cuda:0" in archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
    _, state, _ = load_model(gpu)
    np.testing.assert_array_equal(state["encoder.0.weight"], model.state_dict()["encoder.0.weight"].numpy())


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/should-not-exist",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    path, _ = saved(tmp_path)
    evil = str(tmp_path / "evil.pth")
    payload = pickle.dumps({"format": "vae-checkpoint", "x": RunsCode()}, protocol=2)
    rewrite_pickle(path, evil, lambda data: payload)
    with pytest.raises(InputError, match="refused.*posix.system|refused.*os.system"):
        load_model(evil)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)  # torch's own safe loader refuses it too


def untrained_search_inputs():
    """An untrained network, 40 random images and their latent means."""
    torch.manual_seed(0)
    config = ModelConfig(hidden=(32, 16))
    network = Network.from_state(config, {k: v.numpy() for k, v in VAE(config).state_dict().items()})
    images = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    return network, images, network.encode(images)


def test_lattice_search_decodes_each_lattice_point_once_and_is_deterministic():
    network, images, latent = untrained_search_inputs()
    search = LatticeSearch(network)
    first = search.refine(images, latent)
    decoded = len(search.rows)
    assert decoded == len(search.decoded) and decoded < 40 * 81  # shared, not one lattice per image
    np.testing.assert_array_equal(search.refine(images, latent), first)
    assert len(search.rows) == decoded  # the second pass found every lattice point decoded already
    np.testing.assert_array_equal(LatticeSearch(network).refine(images, latent), first)


def test_lattice_search_scores_well_against_the_grid_and_the_mean():
    """On an untrained network the best candidate is far from the mean; both searches must find better ones."""
    network, images, latent = untrained_search_inputs()

    def score(points):
        decoded = network.decode(points).reshape(-1, 28, 28)
        truth = images.reshape(-1, 28, 28)
        return recon_score(mse(truth, decoded), ssim(truth, decoded)).mean()

    lattice = score(LatticeSearch(network).refine(images, latent))
    grid = score(GridSearch(network).refine(images, latent))
    assert lattice > score(latent)
    assert lattice >= grid - 1e-3
