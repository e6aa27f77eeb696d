"""The command line's parser, in-process: the forms, the table from command to handler, and the settings it builds."""

import dataclasses

import pytest

from vae.assignment.config import LossWeights, MixtureOptions, ModelConfig, TrainConfig
from vae.cli.arguments import settings
from vae.cli.dispatch import COMMANDS, parse
from vae.cli.options import FIT_OPTIONS, given
from vae.core.errors import InputError
from vae.family.config import AutoencoderConfig, FitConfig, refuse_inapplicable

TRAIN = ["t.npz", "v.npz", "train", "vae.pth", "gmm.pkl"]


def test_every_form_names_a_command_of_the_table():
    forms = [TRAIN, ["r.npz", "test_reconstruction", "vae.pth"], ["t.npz", "test_classifier", "vae.pth", "g.pkl"],
             ["evaluate", "t.npz"], ["plot", "t.npz", "v.npz", "vae.pth", "g.pkl"], ["fit", "t.npz", "m.pth"],
             ["reconstruct", "d.npz", "m.pth"], ["denoise", "d.npz", "m.pth"], ["generate", "m.pth", "3"],
             ["classify", "d.npz", "m.pth"], ["anomaly", "d.npz", "m.pth"], ["sweep", "t.npz", "--grid", "beta=1"],
             ["reference", "t.npz", "r.pth"], ["likelihood", "m.pth", "d.npz"],
             ["disentanglement", "m.pth", "s.npz"]]
    assert sorted(parse(form).command for form in forms) == sorted(COMMANDS)


def test_the_assignment_form_takes_options_anywhere_among_its_words():
    args = parse(["t.npz", "--epochs", "3", "v.npz", "train", "vae.pth", "--seed", "2", "gmm.pkl"])
    assert args.command == "train" and args.paths == ["t.npz", "v.npz", "vae.pth", "gmm.pkl"]
    assert settings(TrainConfig, args).epochs == 3 and settings(TrainConfig, args).seed == 2


@pytest.mark.parametrize("form", [["t.npz", "train", "vae.pth", "g.pkl"], ["fly"], ["fit", "t.npz"]])
def test_a_wrong_form_is_a_usage_error(form, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(form)
    assert stop.value.code == 2 and "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("options, words", [
    (["--score", "lof"], ["--score", "invalid choice: 'lof'"]),
    (["--contamination", "0.1", "--threshold", "1"], ["--threshold", "not allowed with", "--contamination"]),
    (["--threshold", "nan"], ["--threshold", "a finite number"]),
])
def test_anomaly_refuses_an_unknown_score_and_two_thresholds(options, words, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(["anomaly", "d.npz", "m.pth", *options])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 2 and all(word in error for word in words), error


def test_unset_options_give_the_dataclasses_own_defaults():
    args = parse(TRAIN)
    assert settings(TrainConfig, args, loss=settings(LossWeights, args)) == TrainConfig()
    assert settings(ModelConfig, args) == ModelConfig() and settings(MixtureOptions, args) == MixtureOptions()
    family = parse(["fit", "t.npz", "m.pth"])
    assert settings(AutoencoderConfig, family) == AutoencoderConfig() and settings(FitConfig, family) == FitConfig()


def test_each_option_sets_its_own_field_even_where_the_names_differ():
    args = parse([*TRAIN, "--ssim-weight", "5", "--decoder-ssim-weight", "7", "--reconstruction-loss", "mse",
                  "--anchor-weight", "2", "--propagation-weight", "3", "--hidden", "64,32"])
    loss, train = settings(LossWeights, args), settings(TrainConfig, args)
    assert (loss.ssim, loss.reconstruction, loss.anchor, loss.propagation) == (5, "mse", 2, 3)
    assert train.decoder_ssim == 7 and settings(ModelConfig, args).hidden == (64, 32)
    family = parse(["fit", "t.npz", "m.pth", "--model", "ae", "--sparsity", "5", "--conv-channels", "8,16", "--head"])
    config, fit = settings(AutoencoderConfig, family), settings(FitConfig, family)
    assert (config.model, config.conv_channels, fit.sparsity, family.head) == ("ae", (8, 16), 5.0, True)


def test_every_fit_setting_a_user_may_set_has_an_option():
    family = parse(["fit", "t.npz", "m.pth"])
    derived = {"channels", "image_size", "sample_shape", "sparse", "head_classes", "head_hidden", "class_names"}
    for cls in (AutoencoderConfig, FitConfig):
        missing = {field.name for field in dataclasses.fields(cls)} - derived - set(vars(family))
        assert not missing, (cls.__name__, missing)


@pytest.mark.parametrize("options, refused", [
    (["--model", "ae", "--beta", "5"], "--beta 5.0: applies only with --model vae"),
    (["--sparsity", "5"], "--sparsity 5.0: applies only with --model ae"),
    (["--arch", "mlp", "--conv-hidden", "8"], "--conv-hidden 8: applies only with --arch conv"),
    (["--layers", "4"], "--layers 4: applies only with --arch mlp"),
    (["--head-weight", "3"], "--head-weight 3.0: applies only with --head"),
    (["--model", "ae", "--sparsity", "5", "--arch", "mlp", "--layers", "4", "--head", "--head-shift", "1"], None),
])
def test_an_option_the_network_does_not_use_is_refused(options, refused):
    args = parse(["fit", "t.npz", "m.pth", *options])
    config = settings(AutoencoderConfig, args)
    chosen = {"model": config.model, "arch": config.arch, "head": args.head}
    if refused is None:
        refuse_inapplicable(given(args, FIT_OPTIONS), chosen)
        return
    with pytest.raises(InputError, match=refused):
        refuse_inapplicable(given(args, FIT_OPTIONS), chosen)
