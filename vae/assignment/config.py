"""Every setting of the assignment pipeline and its default, in plain dataclasses (no torch here: the CLI reads
them at start-up).

The defaults are what validated best in the ablation recorded in docs/assignment.md.
"""

from dataclasses import dataclass, field

from vae.core.data import IMAGE_SIDE


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network; saved inside vae.pth."""

    input_side: int = IMAGE_SIDE
    latent_dim: int = 2
    # encoder widths: 512,256 cost 20% more per VAE epoch for no better selection scores (docs/assignment.md)
    hidden: tuple[int, ...] = (256, 128)
    # Decoder widths from the latent outwards; None mirrors the encoder. Deep and narrow near the
    # latent is cheap (the last layer dominates the cost) and decodes sharper digits.
    decoder_hidden: tuple[int, ...] | None = (128, 256, 512)
    activation: str = "relu"

    @property
    def input_dim(self) -> int:
        return self.input_side * self.input_side

    def layer_sizes(self) -> tuple[list[int], list[int]]:
        """Widths of the encoder (input to mu and logvar side by side) and of the decoder."""
        encoder = [self.input_dim, *self.hidden, 2 * self.latent_dim]
        decoder_hidden = reversed(self.hidden) if self.decoder_hidden is None else self.decoder_hidden
        decoder = [self.latent_dim, *decoder_hidden, self.input_dim]
        return encoder, decoder

    def parameter_count(self) -> int:
        return sum(
            width_in * width_out + width_out
            for sizes in self.layer_sizes()
            for width_in, width_out in zip(sizes[:-1], sizes[1:])
        )


@dataclass
class LossWeights:
    """The VAE phase's loss: pixel loss + beta * KL (+ ssim * (1 - SSIM)) (+ anchor * anchoring KL)
    (+ propagation * the propagated labels' cross-entropy)."""

    beta: float = 3.0  # weight of the KL term at the first step (beta-VAE) ...
    beta_final: float = 0.3  # ... and at the last, geometrically in between: clusters first, detail later
    ssim: float = 0.0  # weight of (1 - SSIM) per image, next to the pixel loss
    reconstruction: str = "bce"  # "bce" (Bernoulli likelihood) or "mse"
    # The prior: 0 is the standard normal; K > 1 is K unit Gaussians evenly spaced on a circle of
    # prior_radius; None means one per class of the validation set (train fills it in).
    prior_components: int | None = None
    prior_radius: float = 4.0
    # Semi-supervised anchoring: weight of KL(q(z | x) || the prior component of x's class) for
    # each of the validation set's labelled images, added to every training step. It fixes which
    # prior component holds which class. 0: none; else needs one prior component per class.
    anchor: float = 100.0
    # Weight of the cross-entropy between each training image's propagated label (VAL's labels
    # spread over the training images' neighbour graph, vae/assignment/propagation.py) and the prior component its
    # latent falls in. Unlike the KL it is not annealed: it keeps the classes apart to the end.
    # 0: no propagation; else needs one prior component per class.
    propagation: float = 100.0

    def beta_at(self, fraction: float) -> float:
        """The KL weight after ``fraction`` (0..1) of the VAE phase: geometric, or linear when an end is 0."""
        if min(self.beta, self.beta_final) <= 0:
            return self.beta + (self.beta_final - self.beta) * fraction
        return self.beta * (self.beta_final / self.beta) ** fraction


@dataclass
class TrainConfig:
    epochs: int = 30  # phase 1: the whole VAE
    # phase 2: the decoder alone, on the frozen encoder's posterior means (+ offsets); 25 gave +0.0027 SSIM for 4 s more
    decoder_epochs: int = 20
    decoder_ssim: float = 5000.0  # weight of (1 - SSIM) in phase 2
    batch_size: int = 256  # images per step of phase 1
    decoder_batch_size: int = 256  # ... and of phase 2 (512: selection SSIM 0.005 lower, seeds 0-1; README)
    lr: float = 2e-3  # peak of a cosine schedule, in each phase
    latent_lr: float = 4e-2  # peak learning rate of each training image's latent offset in phase 2; 0: none
    loss: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu


@dataclass
class MixtureOptions:
    components_per_class: int = 1
    # "tied": one covariance shared by all components, so the boundaries between classes are straight
    # lines, as between the prior's equal unit Gaussians that the propagation loss trains the encoder
    # for; "full": one per component.
    covariance_type: str = "tied"
    reg_covar: float = 1e-6
    tol: float = 1e-3
    max_iter: int = 200
