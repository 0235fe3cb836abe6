"""The emulator's HTTPS endpoint: a certificate authority made for one run, and a server certificate it signs.

Pods of the operator's image find the API server the way a pod on a cluster does (`load_incluster_config`):
`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, verified against the mounted `ca.crt`. So the
emulator serves HTTPS too (beside its plain HTTP for tests and kubectl), with a CA this run generates; the server
certificate names 127.0.0.1, localhost and the in-cluster names. EC P-256 keys, made with the `openssl` command
(argv, no shell), so the sandbox needs no cryptography package; the key files live in a temporary directory only
while they are made.
"""

from __future__ import annotations

import pathlib
import ssl
import subprocess
import tempfile
from dataclasses import dataclass

DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local")
DAYS = "2"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class ServingCert:
    ca_pem: bytes  # what pods mount as ca.crt
    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # load_cert_chain reads files only: write them to a file that is gone once loaded.
        with tempfile.NamedTemporaryFile(suffix=".pem") as chain:
            chain.write(self.cert_pem + self.key_pem)
            chain.flush()
            context.load_cert_chain(chain.name)
        return context


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_serving_cert() -> ServingCert:
    with tempfile.TemporaryDirectory(prefix="chaos-sandbox-tls-") as name:
        where = pathlib.Path(name)
        _openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", DAYS,
                 "-subj", "/CN=chaos-sandbox-ca", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=where)
        _openssl("req", *EC_KEY, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver",
                 cwd=where)
        names = ",".join(["IP:127.0.0.1", *(f"DNS:{n}" for n in DNS_NAMES)])
        (where / "ext.cnf").write_text(f"subjectAltName={names}\nextendedKeyUsage=serverAuth\n"
                                       "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "server.crt", "-days", DAYS, "-extfile", "ext.cnf", cwd=where)
        return ServingCert(ca_pem=(where / "ca.crt").read_bytes(), cert_pem=(where / "server.crt").read_bytes(),
                           key_pem=(where / "server.key").read_bytes())
