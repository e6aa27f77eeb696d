"""``vae.py disentanglement MODEL.pth SET.npz``: how well a model's latent means separate a set's known factors of
variation (MIG, DCI, SAP: vae/core/disentanglement.py), as JSON, and the latent traversal beside it, each row named
by the factor its dimension captures best."""

import json
import os

from vae.core.arrays import read_factors
from vae.core.disentanglement import best_factor, disentanglement_scores
from vae.core.io import atomic_write, check_writable
from vae.core.report import Outputs
from vae.family.inference import encode_set, load_autoencoder, load_images_for, trained_as
from vae.family.traversals import traverse

SCORES_FILE = "scores.json"


def disentanglement(model_path: str, set_path: str, out_path: str | None, outputs: Outputs, seed: int = 0) -> dict:
    """Score MODEL.pth's latent means on SET.npz's ``factors``; write the scores (JSON) and the traversal (PNG
    beside it: scores.json -> scores.png). The result."""
    out_path = out_path or SCORES_FILE
    picture = os.path.splitext(out_path)[0] + ".png"
    check_writable(out_path, (".json",))  # so that the figure beside it is never the same file
    check_writable(picture)
    model, record = load_autoencoder(model_path)
    image_set = load_images_for(model, set_path, model_path, outputs=outputs)
    factors, names = read_factors(set_path, len(image_set))
    latents = encode_set(model, image_set)
    scores = disentanglement_scores(latents, factors, seed)
    best = [names[index] for index in best_factor(latents, factors)]
    traversal = traverse(model, image_set, best)
    result = {**scores, "images": len(image_set), "factor_names": list(names), "model": trained_as(model, record),
              "best_factor": best}
    from vae.core.plots import save  # matplotlib: about a second of start-up
    from vae.family.figures import traversal_figure

    save(traversal_figure(traversal, model.config.channels, f"{os.path.basename(model_path)}: "
                                                            f"{result['model']}; MIG {scores['mig']:.3f}"), picture)
    atomic_write(out_path, lambda handle: handle.write((json.dumps(result, indent=1) + "\n").encode()))
    outputs.say(f"{model_path} ({result['model']}) on the {len(image_set):,} images of {set_path}, factors "
                f"{', '.join(names)}:\n" + "\n".join(f"  {key:<20} {scores[key]:.4f}" for key in scores) +
                f"\nwrote {out_path} and {picture} (latent traversals, rows by {traversal.measure})")
    return result
