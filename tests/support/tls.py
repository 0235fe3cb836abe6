"""A CA and a server certificate made by the test with the openssl CLI (argv lists), for real TLS on loopback."""

from __future__ import annotations

import pathlib
import shutil
import ssl
import subprocess

import pytest


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca_and_server(directory: pathlib.Path, dns_name: str) -> tuple[pathlib.Path, ssl.SSLContext]:
    """(the CA bundle file, a server context whose certificate names ``dns_name`` only, signed by that CA)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed")
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt, ext = directory / "srv.key", directory / "srv.csr", directory / "srv.crt", directory / "srv.ext"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
             "-subj", "/CN=chaos test CA", "-keyout", str(ca_key), "-out", str(ca_crt))
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={dns_name}",
             "-keyout", str(key), "-out", str(csr))
    ext.write_text(f"subjectAltName=DNS:{dns_name}\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "1", "-extfile", str(ext), "-out", str(crt))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(crt), str(key))
    return ca_crt, context
