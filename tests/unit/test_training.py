"""The two training phases: what each may change."""

import numpy as np
import torch

from vae.assignment.config import LossWeights, ModelConfig, TrainConfig
from vae.assignment.training import train_model


def weights(model, prefix):
    return {name: tensor.clone() for name, tensor in model.state_dict().items() if name.startswith(prefix)}


def test_the_decoder_phase_leaves_the_encoder_alone_and_uses_the_latent_offsets():
    images = np.random.default_rng(0).random((300, 784), dtype=np.float32)
    model_config = ModelConfig(hidden=(32, 16), decoder_hidden=(8, 16, 32))

    def trained(decoder_epochs, latent_lr):
        config = TrainConfig(epochs=2, decoder_epochs=decoder_epochs, batch_size=64, latent_lr=latent_lr,
                             loss=LossWeights(prior_components=0, anchor=0))
        return train_model(images, model_config, config, quiet=True)[0]

    vae_only, with_offsets, without_offsets = trained(0, 0.0), trained(3, 4e-2), trained(3, 0.0)
    for name, tensor in weights(vae_only, "encoder").items():
        assert torch.equal(tensor, with_offsets.state_dict()[name])
        assert torch.equal(tensor, without_offsets.state_dict()[name])
    for name, tensor in weights(vae_only, "decoder").items():
        assert not torch.equal(tensor, with_offsets.state_dict()[name])
    decoder = weights(with_offsets, "decoder").items()
    assert any(not torch.equal(tensor, without_offsets.state_dict()[name]) for name, tensor in decoder)
