"""What fit chooses from TRAIN when not told (vae/family/choices.py), and the early stopping it trains with."""

import numpy as np
import pytest
import torch

from vae.core.errors import InputError
from vae.family.choices import (
    choose_network,
    conv_widths,
    decoder_for,
    default_model,
    implied_model,
    latent_size,
    training_plan,
)
from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.fitting import fit_autoencoder
from vae.family.models import Autoencoder
from vae.nn.training import EarlyStopping

from helpers import shapes


def test_sizes_grow_with_the_images_and_keep_the_digits_network():
    assert latent_size(28, 1) == 10 and conv_widths(28) == (32, 64)  # the network tuned on MNIST, unchanged
    assert (latent_size(64, 1), latent_size(64, 3), latent_size(128, 3), latent_size(256, 3)) == (21, 64, 128, 128)
    assert conv_widths(64) == (16, 32, 64) and conv_widths(128) == (16, 32, 64, 128) and conv_widths(8) == (32,)
    config, why = choose_network(AutoencoderConfig(latent_dim=7, conv_channels=(4, 8)), 64, 3)
    assert (config.latent_dim, config.conv_channels, why) == (7, (4, 8), [])  # given: kept, nothing to say
    config, why = choose_network(AutoencoderConfig(), 64, 3)
    assert (config.latent_dim, config.conv_channels) == (64, (16, 32, 64)) and len(why) == 2


def test_the_model_is_the_one_the_options_imply_else_an_ae_for_a_head():
    assert default_model(head=False) == "vae" and default_model(head=True) == "ae"
    assert implied_model({}) is None and implied_model({"latent_dim": 4}) is None
    assert implied_model({"beta": 5.0}) == "vae" and implied_model({"sparsity": [0.0, 5.0]}) == "ae"
    assert implied_model({"beta": 5.0, "sparsity": 5.0}) is None  # both: one of them is refused
    config, why = choose_network(AutoencoderConfig(), 28, 1, head=True)
    assert config.model == "ae" and why[0].startswith("model:    ae")
    assert choose_network(AutoencoderConfig(model="vae"), 28, 1, head=True)[0].model == "vae"  # given: kept


def test_the_conv_decoder_starts_from_a_broadcast_for_the_elbo_and_dense_otherwise():
    config, why = choose_network(AutoencoderConfig(), 64, 1, loss="elbo")
    assert config.decoder == "broadcast" and why[-1].startswith("decoder:  broadcast")
    config, why = choose_network(AutoencoderConfig(), 64, 1, loss="ssim")
    assert config.decoder == "dense" and not any(line.startswith("decoder") for line in why)
    assert choose_network(AutoencoderConfig(), 64, 1, loss=None)[0].decoder is None  # a sweep's cells decide
    assert choose_network(AutoencoderConfig(decoder="dense"), 64, 1, loss="elbo")[0].decoder == "dense"  # given: kept
    assert decoder_for(AutoencoderConfig(arch="mlp"), "elbo").decoder is None  # an MLP has no such start
    assert Autoencoder(AutoencoderConfig()).config.decoder == "dense"  # a file from before the choice: dense
    with pytest.raises(InputError, match="--decoder wide: must be one of dense, broadcast"):
        AutoencoderConfig(decoder="wide")


@pytest.mark.parametrize("count, side, epochs, held_out", [
    (17748, 28, 11, 0),  # MNIST as the bench combines it: the 11 epochs on every image of before
    (1800, 64, 115, 180),  # a small photograph set trains as many steps as a large one
    (2000, 128, 52, 200),  # above 64 the budget shrinks with the side: 1,500 steps at 128
    (100_000, 64, 2, 0),  # a large set stops at its budget
    (150, 28, 1000, 0),  # too few to hold 20 out: every image trains
    (9000, 28, 23, 500),  # 20 epochs or more: stopped early
])
def test_the_training_length_comes_from_a_budget_of_steps(count, side, epochs, held_out):
    plan = training_plan(count, side, FitConfig())
    assert (plan.epochs, plan.held_out) == (epochs, held_out)
    batches = -(-(count - held_out) // 64)
    assert abs(plan.epochs * batches - plan.steps) <= batches / 2 or plan.epochs == 1  # whole epochs nearest
    given = training_plan(count, side, FitConfig(epochs=3))
    assert (given.epochs, given.held_out, given.steps) == (3, 0, 0)  # --epochs: as before, all of TRAIN
    assert training_plan(count, side, FitConfig()).shift == round(side / 14)
    assert training_plan(count, side, FitConfig(steps=100)).steps == 100
    assert training_plan(count, side, FitConfig(loss="elbo")).steps == 2 * plan.steps  # the ELBO's longer budget
    with pytest.raises(InputError, match="--epochs 3 and --steps 100: give one"):
        FitConfig(epochs=3, steps=100)


def test_early_stopping_keeps_the_best_epochs_weights():
    module = torch.nn.Linear(1, 1)
    losses = iter([3.0, 1.0, 2.0, 2.5, 4.0, 5.0])
    stopping = EarlyStopping(module, lambda: next(losses), patience=2, earliest=5)
    stops = []
    for epoch in range(1, 7):
        if epoch == 2:
            best = module.weight.detach().clone()
        stops.append(stopping.should_stop(epoch))
        module.weight.data += 1  # the next epoch's training moves the weights
    assert stops == [False, False, False, False, True, True] and stopping.best_epoch == 2  # not before epoch 5
    stopping.restore()
    assert torch.equal(module.weight, best)  # the weights epoch 2 was judged on, not the last ones


def test_a_default_fit_holds_out_a_slice_and_stops_early_on_it():
    images = (shapes(400, seed=5)[0].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    config = AutoencoderConfig(model="ae", arch="mlp", layers=2, latent_dim=4)
    fitted = fit_autoencoder(images, config, FitConfig(batch_size=128, lr=0.05, steps=600), quiet=True)
    record = fitted.record()
    assert record["held_out"] == 40 and record["epochs_planned"] == 200 and record["patience"] == 20
    assert record["epochs_run"] < record["epochs_planned"]  # stopped long before its budget
    assert record["best_epoch"] == int(np.argmin(record["held_out_loss"])) + 1
    again = fit_autoencoder(images, config, FitConfig(batch_size=128, lr=0.05, steps=600), quiet=True)
    assert again.record() == record  # the same seed, the same slice, the same stop


def test_a_budget_without_a_held_out_slice_trains_as_the_same_epochs_given():
    images = (shapes(150, seed=6)[0].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    config = AutoencoderConfig(model="ae", arch="mlp", layers=2, latent_dim=4)
    budget = fit_autoencoder(images, config, FitConfig(steps=9), quiet=True)  # 3 batches an epoch: 3 epochs
    given = fit_autoencoder(images, config, FitConfig(epochs=3), quiet=True)
    assert budget.plan.held_out == 0 and budget.plan.epochs == 3
    for name, value in given.model.state_dict().items():
        assert torch.equal(value, budget.model.state_dict()[name]), name  # MNIST's default fits: as before, bit for bit
