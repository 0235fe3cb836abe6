"""Discovery bodies for the API emulator: `/version`, `/api`, `/apis`, `/apis/G`, `/api/v1` and `/apis/G/V`.

Shaped like a real server's JSON (not the aggregated `apidiscovery.k8s.io/v2` form: kubectl falls back to
these when the server does not offer it). Subresources are listed as `plural/sub` with no short names, as
kubectl expects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chaos_sandbox.emulator import openapi
from chaos_sandbox.emulator.resources import ResKey, ResourceInfo, api_error

Entries = Iterable[tuple[ResKey, ResourceInfo]]
NOT_FOUND = "the server could not find the requested resource"
# Build metadata, not a pre-release (as k3s does): a chart's `kubeVersion: ">=1.28.0"` accepts it.
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+chaos-sandbox", "gitCommit": "",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "",
                  "compiler": "", "platform": "linux/amd64"}


def group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def _versions(entries: Entries) -> dict[str, list[str]]:
    """Served versions per named group, in the order they were declared (the first is preferred)."""
    found: dict[str, list[str]] = {}
    for res, _ in entries:
        if res.group and res.version not in found.setdefault(res.group, []):
            found[res.group].append(res.version)
    return found


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(entries: Entries) -> dict[str, Any]:
    groups = _versions(entries)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in sorted(groups.items())]}


def api_group(name: str, entries: Entries) -> dict[str, Any] | None:
    versions = _versions(entries).get(name)
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)} if versions else None


def api_resource_list(group: str, version: str, entries: Entries) -> dict[str, Any]:
    """The `APIResourceList` for one group/version, with subresources listed the way a real server does."""
    resources: list[dict[str, Any]] = []
    for res, info in sorted(entries, key=lambda entry: entry[0].plural):
        if res.group != group or res.version != version:
            continue
        resources.append({
            "name": res.plural, "singularName": info.singular, "namespaced": info.namespaced,
            "kind": info.kind, "verbs": sorted(info.verbs), "shortNames": sorted(info.shortnames),
            "categories": sorted(info.categories),
        })
        for sub in sorted(info.subresources):
            resources.append({"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                              "kind": "Scale" if sub == "scale" else info.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version),
            "resources": resources}


def root_paths(entries: Entries) -> dict[str, Any]:
    # No /openapi/v2: clients read v3 (kubectl, Helm's validation); listing what answers 404 misleads them.
    paths = {"/api", "/api/v1", "/apis", "/openapi/v3", "/version"}
    for name, versions in _versions(entries).items():
        paths.add(f"/apis/{name}")
        paths.update(f"/apis/{name}/{version}" for version in versions)
    return {"paths": sorted(paths)}


def discovery_body(parts: list[str], entries: Entries) -> Any:
    """The body of a discovery or OpenAPI GET of a path (split at "/"), or None when the path is not one."""
    entries = list(entries)
    if not parts:
        return root_paths(entries)
    if parts == ["version"]:
        return SERVER_VERSION
    if parts == ["api"]:
        return api_versions()
    if parts == ["apis"]:
        return api_group_list(entries)
    if parts == ["openapi", "v3"]:
        return openapi.openapi_root(entries)
    body: dict[str, Any] | None = None
    if parts[:2] == ["openapi", "v3"]:
        body = openapi.openapi_group_version("/".join(parts[2:]), entries)
    elif len(parts) == 2 and parts[0] == "apis":
        body = api_group(parts[1], entries)
    elif (len(parts) == 2 and parts[0] == "api") or (len(parts) == 3 and parts[0] == "apis"):
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        body = api_resource_list(group, version, entries)
        body = body if body["resources"] else None
    else:
        return None
    if body is None:
        raise api_error(404, "NotFound", NOT_FOUND)
    return body
