"""How likely a VAE finds images (``vae.py likelihood``): the negative ELBO and the importance-weighted bound (IWAE,
Burda et al. 2016), in nats per image, on dynamically binarised images, so that the numbers are discrete
likelihoods comparable with the literature (one stochastic layer on MNIST: VAE ≈ 86.8 nats, IWAE ≈ 84.8).

For an image x (each pixel set to 1 with its intensity's probability, a fixed seed) and K draws z_k ~ q(z|x):

    log w_k  = log p(x|z_k) + log N(z_k; 0, I) − log q(z_k|x)     p(x|z): Bernoulli pixels of the decoder's logits
    ELBO NLL = −(1/K) Σ_k log w_k                                   an upper bound on −log p(x)
    IWAE NLL = −log (1/K) Σ_k w_k                                   a tighter one; equal to the ELBO's at K = 1

The K draws go through the decoder a slice at a time, a running log-sum-exp holding the IWAE sum, so memory stays
bounded for K = 5,000.
"""

import json
import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from vae.core.data import PASS_BATCH, ImageSet, scaled_batch
from vae.core.errors import InputError
from vae.core.io import atomic_write, check_writable
from vae.core.report import Outputs
from vae.family.inference import load_autoencoder, load_images_for, trained_as

LOG_2PI = math.log(2 * math.pi)
MOST_SAMPLES = 100_000


def check_samples(samples: int) -> None:
    if not 1 <= samples <= MOST_SAMPLES:
        raise InputError(f"--samples {samples:,}: from 1 to {MOST_SAMPLES:,} importance samples per image")


@torch.no_grad()
def image_bounds(model, binary: torch.Tensor, samples: int, generator: torch.Generator,
                 decoded_at_once: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ELBO NLL (B,), IWAE NLL (B,)) of (B, C, H, W) binary images, from ``samples`` draws each, decoding at most
    ``decoded_at_once`` latent points at a time."""
    mu, logvar = model.encode(binary)
    count = len(binary)
    elbo_sum = torch.zeros(count, dtype=torch.float64)
    log_sum = torch.full((count,), -math.inf, dtype=torch.float64)
    per_slice = max(1, decoded_at_once // count)
    for start in range(0, samples, per_slice):
        draws = min(per_slice, samples - start)
        # a draw at a time: the same numbers however the draws are sliced
        noise = torch.stack([torch.randn(mu.shape, generator=generator) for _ in range(draws)])  # (k, B, D)
        latent = mu + noise * torch.exp(0.5 * logvar)
        logits = model.decode(latent.reshape(-1, mu.shape[1]))
        targets = binary.unsqueeze(0).expand(draws, *binary.shape).reshape(logits.shape)
        log_likelihood = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).sum(1)
        log_prior = -0.5 * (latent * latent + LOG_2PI).sum(-1)
        log_posterior = -0.5 * (noise * noise + logvar + LOG_2PI).sum(-1)
        log_weights = (log_likelihood.view(draws, count) + log_prior - log_posterior).double()  # (k, B)
        elbo_sum += log_weights.sum(0)
        log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_weights, 0))
    return -elbo_sum / samples, -(log_sum - math.log(samples))


def likelihood_bounds(model, image_set: ImageSet, samples: int, seed: int = 0, quiet: bool = True) -> dict:
    """{"elbo_nll", "iwae_nll": mean nats per image, "samples": K, "images": N, "seed"} of a VAE on ``image_set``,
    binarised and sampled from ``seed``'s generator; a progress bar unless ``quiet``."""
    check_samples(samples)
    generator = torch.Generator().manual_seed(seed)
    decoded_at_once = scaled_batch(PASS_BATCH, image_set.channels * image_set.side ** 2)
    images_at_once = max(1, min(decoded_at_once // min(samples, decoded_at_once), 256))
    elbo, iwae = [], []
    for batch in tqdm(image_set.batches(images_at_once), total=-(-len(image_set) // images_at_once),
                      desc="likelihood", unit="batch", disable=True if quiet else None):
        binary = torch.bernoulli(torch.from_numpy(batch).view(-1, *image_set.tensor_shape()), generator=generator)
        bounds = image_bounds(model, binary, samples, generator, decoded_at_once)
        elbo.append(bounds[0].numpy())
        iwae.append(bounds[1].numpy())
    elbo, iwae = np.concatenate(elbo), np.concatenate(iwae)
    return {"elbo_nll": float(elbo.mean()), "iwae_nll": float(iwae.mean()), "samples": samples,
            "images": len(image_set), "seed": seed}


def likelihood(model_path: str, data_path: str, samples: int, out_path: str | None, seed: int,
               outputs: Outputs) -> dict:
    """Print and write (JSON, default nll.json) the ELBO and IWAE bounds of MODEL.pth on DATA; the result."""
    out_path = out_path or "nll.json"
    check_samples(samples)
    check_writable(out_path, (".json",))
    model, record = load_autoencoder(model_path)
    if not model.variational:
        raise InputError(f"{model_path}: an AE has no likelihood (no prior, no posterior); fit a VAE (--model vae, "
                         "best with --loss elbo)")
    image_set = load_images_for(model, data_path, model_path, outputs=outputs)
    result = {**likelihood_bounds(model, image_set, samples, seed, outputs.quiet), "model": trained_as(model, record)}
    atomic_write(out_path, lambda handle: handle.write((json.dumps(result, indent=1) + "\n").encode()))
    outputs.say(f"{model_path} ({result['model']}) on the {len(image_set):,} images of {data_path}, each pixel "
                f"binarised with its intensity (seed {seed}), {samples:,} importance samples each:\n"
                f"  ELBO NLL  {result['elbo_nll']:.2f} nats per image\n"
                f"  IWAE NLL  {result['iwae_nll']:.2f} nats per image (K = {samples:,})\nwrote {out_path}")
    return result
