"""From probabilities to what every avemo tool reports: `{label: score}` dicts, the top label, and ensembles' weighted
means of several models' probabilities (labels matched by name)."""

# How many decimals the reported scores keep (JSON output, the Space, timelines).
SCORE_DIGITS = 6


class EnsembleError(ValueError):
    """Models that cannot be averaged (different label sets, bad weights)."""


def scores_of(probabilities, labels: list[str]) -> dict[str, float]:
    """`{label: probability}` in the labels' order, rounded to SCORE_DIGITS decimals, from a 1-D tensor or array."""
    return {label: round(float(p), SCORE_DIGITS) for label, p in zip(labels, probabilities)}


def top_label(probabilities, labels: list[str]) -> str:
    """The label of the largest probability (the first of equal ones)."""
    return labels[int(probabilities.argmax())]


def normalised_weights(weights, count: int) -> list[float]:
    """One weight per model, scaled to sum to 1 (equal when None). Raises EnsembleError for a wrong count, a
    negative weight or all zero."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(weight) for weight in weights]
    if len(weights) != count or any(weight < 0 for weight in weights) or sum(weights) <= 0:
        raise EnsembleError(f"give one non-negative weight per model ({count}), not all zero; got {weights}")
    return [weight / sum(weights) for weight in weights]


def label_orders(label_sets: list[list[str]], names: list[str]) -> list[list[int]]:
    """For each model, the index of each of the first model's labels among its own. Raises EnsembleError naming two
    models whose label sets differ."""
    first = label_sets[0]
    orders = []
    for labels, name in zip(label_sets, names):
        if sorted(labels) != sorted(first):
            raise EnsembleError(
                f"{name} predicts {labels} but {names[0]} predicts {first}: an ensemble averages one label set "
                "(relabel the models to the same labels first)"
            )
        orders.append([labels.index(label) for label in first])
    return orders


def weighted_mean(probabilities, orders, weights):
    """Sum over models of weight x probabilities, each model's (..., labels) tensor put in the first model's label
    order first; weights summing to 1 give the weighted mean, in the first model's order."""
    combined = None
    for member, order, weight in zip(probabilities, orders, weights):
        term = member[..., order] * weight
        combined = term if combined is None else combined + term
    return combined
