"""The W&B Registry: org-level registries are projects named ``wandb-registry-<name>`` in
their organization's entity (the team entity named after the organization).

A registry's visibility maps onto the project visibility the policy already knows, so no
second permission model exists: an ``organization`` registry (the SDK sends access
``PRIVATE``) is an ORGANIZATION project, read by every member of the organization; a
``restricted`` one (``RESTRICTED``) is a PRIVATE project, reached only by the admins of the
organization entity (the organization's admins) and server admins.
"""

from __future__ import annotations

from tracklet.domain.policy import Visibility

#: The name prefix that makes a project of an organization entity a registry.
REGISTRY_PREFIX = "wandb-registry-"

#: Registry access as the SDK sends it -> the project visibility stored.
_ACCESS_TO_VISIBILITY = {"PRIVATE": Visibility.ORGANIZATION,
                         "RESTRICTED": Visibility.PRIVATE}


def is_registry(project: str) -> bool:
    """Whether a project name names a registry."""
    return project.startswith(REGISTRY_PREFIX) and len(project) > len(REGISTRY_PREFIX)


def registry_visibility(access: str | None) -> Visibility:
    """The project visibility for a registry created or updated with ``access`` (the SDK's
    ``PRIVATE`` = organization, ``RESTRICTED``; None: organization); ValueError otherwise."""
    if access is None:
        return Visibility.ORGANIZATION
    try:
        return _ACCESS_TO_VISIBILITY[access.strip().upper()]
    except KeyError:
        raise ValueError("registry access must be PRIVATE (organization) or RESTRICTED; "
                         f"not {access!r}") from None


def registry_access(visibility: Visibility) -> str:
    """The access a registry reports to the SDK for its stored project visibility."""
    return "RESTRICTED" if visibility is Visibility.PRIVATE else "PRIVATE"
