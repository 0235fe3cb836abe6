#!/bin/sh
# Makes the Debian bookworm + Python 3.11 base image the Dockerfile builds on when no registry is reachable
# (`make image`). It stands in for python:3.11-slim-bookworm: python3 and pip on PATH (a venv at
# /opt/python, because Debian's own python3 refuses `pip install` outside a venv, PEP 668), ca-certificates.
# debootstrap runs once: the root filesystem is cached as a tarball under $CACHE, so later builds only
# re-import it (and skip even that while the image is still in buildah's storage).
set -eu
CACHE=$1      # cache directory (the tarball lives here)
BASE=$2       # image name to create, e.g. localhost/bookworm-python:3.11
shift 2       # the rest: buildah global options (storage root, driver)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if buildah "$@" inspect --type image "$BASE" >/dev/null 2>&1; then
    echo "base image $BASE already built"; exit 0
fi
mkdir -p "$CACHE"
TARBALL=$CACHE/bookworm-python.tar
if [ ! -f "$TARBALL" ]; then
    ROOTFS=$CACHE/rootfs
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" "$MIRROR"
    chroot "$ROOTFS" /usr/bin/python3 -m venv /opt/python
    # apt lists and caches are downloaded again by the Dockerfile's own apt-get update.
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb
    tar -C "$ROOTFS" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
    rm -rf "$ROOTFS"
fi
CTR=$(buildah "$@" from scratch)
buildah "$@" add "$CTR" "$TARBALL" /
buildah "$@" config --env PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$CTR"
buildah "$@" commit --rm "$CTR" "$BASE"
