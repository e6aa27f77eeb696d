"""A classifier head on the latent mean: a small MLP trained jointly with the autoencoder."""

import torch.nn as nn


class ClassifierHead(nn.Module):
    """(B, latent_dim) latent means -> (B, classes) logits, through one hidden ReLU layer."""

    def __init__(self, latent_dim: int, hidden: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, latent):
        return self.body(latent)
