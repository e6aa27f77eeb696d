"""What a command tells its user: printed lines (or none, with --quiet), scores, and where figures go.

Under torchrun (vae.nn.distributed) only rank 0 reports: the others train their shard in silence.
"""

import os
from dataclasses import dataclass

SCORE_NAMES = {
    "mse": "MSE", "ssim": "SSIM", "score": "(1 - MSE + SSIM) / 2", "psnr": "PSNR (dB)",
    "accuracy": "accuracy", "precision_macro": "precision (macro)", "recall_macro": "recall (macro)",
    "f1_macro": "F1 (macro)", "f1_micro": "F1 (micro)", "f1_average": "F1 average (macro+micro)/2",
    "fd": "Fréchet distance", "precision": "precision", "recall": "recall",
}


def world_size() -> int:
    """How many processes train together: torchrun's WORLD_SIZE, 1 for a plain run."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_writer() -> bool:
    """Whether this process writes files and prints: always, unless it is a rank other than 0."""
    return rank() == 0


@dataclass
class Outputs:
    quiet: bool = False
    plots: str | None = None  # a folder; None: the default for the command, "": no plots

    def __post_init__(self):
        self.quiet = self.quiet or not is_writer()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def plots_dir(self, model_path: str, default: str = "plots") -> str:
        """The folder for a command's figures: --plots, else ``default`` beside the model file ("" for none)."""
        if self.plots is None:
            return os.path.join(os.path.dirname(os.path.abspath(model_path)), default)
        return self.plots


def counted(count: int, noun: str) -> str:
    """"1 epoch", "30 epochs": a count and its noun."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def format_scores(scores: dict) -> str:
    """One indented line per score, named for people: "  SSIM    0.7547"."""
    return "\n".join(f"  {SCORE_NAMES[key]:<28} {value:.4f}" for key, value in scores.items())


def shown(value) -> str:
    """A setting's value as a user would type it: 256,128 for a tuple."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
