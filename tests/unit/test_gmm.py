import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SklearnMixture

from vae.core.gmm import GaussianMixture, MixtureClassifier, fit, fit_classifier, seed_means

TRUE_MEANS = np.array([[0.0, 0.0], [6.0, 1.0], [-4.0, 5.0]])
TRUE_COVARIANCES = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 2.0]], [[1.5, -0.9], [-0.9, 1.0]]])
TRUE_WEIGHTS = np.array([0.5, 0.3, 0.2])


def sample(count=6000, seed=0):
    rng = np.random.default_rng(seed)
    component = rng.choice(3, size=count, p=TRUE_WEIGHTS)
    points = np.empty((count, 2))
    for k in range(3):
        members = component == k
        points[members] = rng.multivariate_normal(TRUE_MEANS[k], TRUE_COVARIANCES[k], members.sum())
    return points, component


def test_recovers_known_gaussians_from_rough_seeds():
    points, _ = sample()
    mixture, report = fit(points, TRUE_MEANS + [[0.8, -0.5], [-1.0, 0.7], [0.9, 0.9]], tol=1e-8, max_iter=500)
    assert report.converged
    np.testing.assert_allclose(mixture.means, TRUE_MEANS, atol=0.1)
    np.testing.assert_allclose(mixture.covariances, TRUE_COVARIANCES, atol=0.15)
    np.testing.assert_allclose(mixture.weights, TRUE_WEIGHTS, atol=0.02)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("seed", range(5))
def test_log_likelihood_never_decreases(seed, covariance_type):
    rng = np.random.default_rng(seed)
    points, _ = sample(3000, seed)
    _, report = fit(points, rng.normal(0, 3, size=(4, 2)), tol=0, max_iter=60, covariance_type=covariance_type)
    history = np.array(report.history)
    assert len(history) == 60
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_matches_sklearn_from_the_same_start(covariance_type):
    points, _ = sample(4000, 3)
    seeds = TRUE_MEANS + 1.0
    mixture, report = fit(points, seeds, tol=1e-6, max_iter=300, covariance_type=covariance_type)
    start = fit(points, seeds, max_iter=0)[0]  # our initial weights and covariances, handed to sklearn
    precisions = np.linalg.inv(start.covariances)
    reference = SklearnMixture(3, covariance_type=covariance_type, means_init=seeds, weights_init=start.weights,
                               precisions_init=precisions[0] if covariance_type == "tied" else precisions,
                               tol=1e-6, max_iter=300, reg_covar=1e-6).fit(points)
    assert report.iterations == reference.n_iter_
    assert mixture.score(points) == pytest.approx(reference.score(points), rel=1e-9)
    np.testing.assert_allclose(mixture.means, reference.means_, atol=1e-8)
    if covariance_type == "tied":
        np.testing.assert_allclose(mixture.covariances, np.repeat(reference.covariances_[None], 3, axis=0), atol=1e-8)


def test_unknown_covariance_type_is_refused():
    with pytest.raises(ValueError, match="covariance_type"):
        fit(np.zeros((5, 2)), np.zeros((1, 2)), covariance_type="diag")


@pytest.mark.parametrize(
    "points",
    [
        np.zeros((50, 2)),  # every point identical
        np.column_stack([np.arange(50.0), 2 * np.arange(50.0)]),  # all on one line
        np.array([[1.0, 2.0]]),  # a single point
        np.vstack([np.zeros((30, 2)), np.full((30, 2), 1e6)]),  # far apart, one seed never wins a point
    ],
)
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_degenerate_data_never_gives_nan(points, covariance_type):
    mixture, report = fit(points, np.array([[0.0, 0.0], [5.0, 5.0], [-3.0, 1.0]]), max_iter=50,
                          covariance_type=covariance_type)
    for array in (mixture.weights, mixture.means, mixture.covariances, np.array(report.history)):
        assert np.all(np.isfinite(array))
    assert np.isfinite(report.log_likelihood)
    resp, log_likelihood = mixture.responsibilities(points)
    assert np.all(np.isfinite(resp)) and np.all(np.isfinite(log_likelihood))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)


def test_responsibilities_are_stable_far_from_every_component():
    mixture = GaussianMixture(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 0.0]]),
                              np.array([np.eye(2) * 1e-3] * 2))
    resp, log_likelihood = mixture.responsibilities(np.array([[1e4, 1e4], [0.4, 0.0]]))
    assert np.all(np.isfinite(resp)) and np.all(np.isfinite(log_likelihood))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)


def test_classifier_maps_components_to_validation_labels():
    points, component = sample(3000, 4)
    labels = np.array([10, 20, 30])[component]
    val_index = np.concatenate([np.flatnonzero(component == k)[:5] for k in range(3)])
    classifier = fit_classifier(points, points[val_index], labels[val_index], components_per_class=2)
    assert list(classifier.classes) == [10, 20, 30]
    assert sorted(classifier.component_labels.tolist()) == [10, 10, 20, 20, 30, 30]
    assert np.mean(classifier.predict(points) == labels) > 0.97
    np.testing.assert_allclose(classifier.class_posteriors(points).sum(axis=1), 1.0)


def test_params_round_trip_and_validation():
    points, component = sample(2000, 5)
    classifier = fit_classifier(points, TRUE_MEANS, np.array([1, 4, 8]))
    again = MixtureClassifier.from_params(classifier.to_params())
    np.testing.assert_array_equal(again.predict(points), classifier.predict(points))
    broken = classifier.to_params() | {"covariances": -classifier.mixture.covariances}
    with pytest.raises(ValueError, match="positive definite"):
        MixtureClassifier.from_params(broken)
    with pytest.raises(ValueError, match="missing key"):
        MixtureClassifier.from_params({k: v for k, v in classifier.to_params().items() if k != "means"})


def test_seed_means_split_a_class_along_its_main_axis():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0], [5.0, 5.0]])
    labels = np.array([1, 1, 1, 1, 2])
    means, seed_labels = seed_means(points, labels, 2)
    np.testing.assert_allclose(means, [[0.5, 0.0], [10.5, 0.0], [5.0, 5.0]])
    assert seed_labels.tolist() == [1, 1, 2]
