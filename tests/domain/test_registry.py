"""Registry names and the mapping of the SDK's registry access onto project visibility."""

from __future__ import annotations

import pytest

from tracklet.domain.policy import Visibility
from tracklet.domain.registry import is_registry, registry_access, registry_visibility


def test_registry_names() -> None:
    assert is_registry("wandb-registry-models")
    assert not is_registry("wandb-registry-")
    assert not is_registry("models")


@pytest.mark.parametrize(("access", "visibility"), [
    ("PRIVATE", Visibility.ORGANIZATION), ("private", Visibility.ORGANIZATION),
    (None, Visibility.ORGANIZATION), ("RESTRICTED", Visibility.PRIVATE)])
def test_access_maps_onto_visibility_and_back(access: str | None,
                                              visibility: Visibility) -> None:
    assert registry_visibility(access) is visibility
    assert registry_visibility(registry_access(visibility)) is visibility


def test_other_access_is_refused() -> None:
    with pytest.raises(ValueError, match="PRIVATE \\(organization\\) or RESTRICTED"):
        registry_visibility("TEAM")
