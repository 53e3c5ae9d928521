"""The client's model name -> the upstream model, via `proxy.model_mapping`.

An exact key wins; among `*` patterns the most specific one does: fewer wildcards, then the
longest literal text, then the earlier entry in the file. The mapping is read from the live
config on every call, so edits apply to the next request.
"""

from __future__ import annotations

from .pool.accounts import model_matches


def specificity(pattern: str, index: int) -> tuple[int, int, int, int]:
    """Sort key: larger is more specific."""
    stars = pattern.count("*")
    return (1 if stars == 0 else 0, -stars, len(pattern) - stars, -index)


def map_model(mapping: dict[str, str], model: str) -> str:
    if not mapping:
        return model
    exact = mapping.get(model)
    if exact is not None:
        return exact
    best: tuple[int, int, int, int] | None = None
    target = model
    for index, (pattern, to) in enumerate(mapping.items()):
        if "*" in pattern and model_matches(pattern, model):
            key = specificity(pattern, index)
            if best is None or key > best:
                best, target = key, to
    return target
