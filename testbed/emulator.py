"""Start ``python -m emulator`` as a subprocess and drive its admin API from tests.

Typical use: ``with EmulatorProcess() as emu:`` then ``emu.seed(TEST_SEED)``, point a client at
``emu.base_url`` (or ``emu.host`` for tea-openapi), and inspect ``emu.journal()`` afterwards.

``EmulatorProcess(tls=True)`` serves HTTPS with a throwaway CA and certificate made in a
temporary directory (``emu.ca_bundle``; ``emu.client_env()`` gives ``SSL_CERT_FILE`` and
``REQUESTS_CA_BUNDLE`` for subprocesses); ``imds=True`` adds the plain-HTTP metadata listener
(``emu.imds_url``). :func:`make_oidc_token` signs OIDC tokens the seeded provider accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

TEST_REGION = "cn-hangzhou"
TEST_ACCOUNT_ID = "1000000000000042"
TEST_ACCESS_KEY_ID = "test-access-key-id"
TEST_ACCESS_KEY_SECRET = "test-access-key-secret"
TEST_STS_ACCESS_KEY_ID = "STS.test-sts-access-key-id"
TEST_STS_ACCESS_KEY_SECRET = "test-sts-access-key-secret"
TEST_STS_TOKEN = "test-sts-security-token"
TEST_APP_ID = "test-app-0000-0000-0000-000000000001"
TEST_ECC_IDS = ["test-ecc-0001-a", "test-ecc-0001-b"]
TEST_ENV_ID = "we-test00000000000000000001"
#: An SAE application (SAE ids are UUIDs) and an EDAS application in a Kubernetes cluster.
TEST_SAE_APP_ID = "5a3e0000-0000-4000-8000-000000000001"
TEST_K8S_APP_ID = "test-k8s-0000-0000-0000-000000000001"
#: STS and the metadata service: a RAM role of the test account, an OIDC provider (HS256, so
#: the stdlib emulator can verify its tokens; the key is test data) and an ECS instance role.
TEST_ROLE_ARN = f"acs:ram::{TEST_ACCOUNT_ID}:role/restart-trigger-deployer"
TEST_OIDC_PROVIDER_ARN = f"acs:ram::{TEST_ACCOUNT_ID}:oidc-provider/test-ci"
TEST_OIDC_ISSUER = "https://oidc.ci.example.test"
TEST_OIDC_AUDIENCE = "sts.aliyuncs.com"
TEST_OIDC_KEY = "test-oidc-hs256-shared-key"
TEST_ECS_ROLE_NAME = "restart-trigger-ecs"

#: A small world: one account with a permanent and an STS key, one EDAS app (ECS), one Web+
#: env, one SAE app and one EDAS app in a Kubernetes cluster.
TEST_SEED: dict[str, Any] = {
    "defaults": {"change_duration_s": 0.5},
    "accounts": [
        {
            "name": "test",
            "access_key_id": TEST_ACCESS_KEY_ID,
            "access_key_secret": TEST_ACCESS_KEY_SECRET,
            "account_id": TEST_ACCOUNT_ID,
        },
        {
            "name": "test-sts",
            "access_key_id": TEST_STS_ACCESS_KEY_ID,
            "access_key_secret": TEST_STS_ACCESS_KEY_SECRET,
            "security_token": TEST_STS_TOKEN,
            "account_id": TEST_ACCOUNT_ID,
        },
    ],
    "edas_applications": [
        {"app_id": TEST_APP_ID, "region": TEST_REGION, "name": "test-app", "ecc_ids": TEST_ECC_IDS}
    ],
    "webplus_environments": [
        {"env_id": TEST_ENV_ID, "region": TEST_REGION, "name": "test-env", "status": "RUNNING"}
    ],
    "sae_applications": [
        {"app_id": TEST_SAE_APP_ID, "region": TEST_REGION, "name": "test-sae", "instance_count": 2}
    ],
    "edas_k8s_applications": [
        {"app_id": TEST_K8S_APP_ID, "region": TEST_REGION, "name": "test-k8s"}
    ],
    "ram_roles": [{"arn": TEST_ROLE_ARN, "max_session_duration_s": 3600}],
    "oidc_providers": [
        {
            "arn": TEST_OIDC_PROVIDER_ARN,
            "issuer_url": TEST_OIDC_ISSUER,
            "client_ids": [TEST_OIDC_AUDIENCE],
            "hs256_key": TEST_OIDC_KEY,
        }
    ],
    "ecs_metadata": {
        "role_name": TEST_ECS_ROLE_NAME,
        "account_id": TEST_ACCOUNT_ID,
        "tokens_required": True,
    },
}


def make_oidc_token(
    *,
    key: str = TEST_OIDC_KEY,
    issuer: str = TEST_OIDC_ISSUER,
    audience: str | list[str] = TEST_OIDC_AUDIENCE,
    subject: str = "repo:example/restart-trigger:ref:refs/heads/main",
    lifetime_s: float = 600.0,
    now: float | None = None,
    algorithm: str = "HS256",
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 JWT as a CI's OIDC issuer would mint it (``exp`` = now + ``lifetime_s``;
    a negative lifetime makes an expired token)."""

    def part(data: Any) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    issued = time.time() if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued),
        "exp": int(issued + lifetime_s),
        **(extra or {}),
    }
    signing_input = part({"alg": algorithm, "typ": "JWT"}) + "." + part(claims)
    digest = hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return f"{signing_input}.{signature}"


def make_test_ca(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write a throwaway CA and a server certificate for 127.0.0.1 / localhost into
    ``directory``; return the paths ``ca`` (the bundle to trust), ``cert`` and ``key``.

    Uses the ``cryptography`` package (a dependency of the official SDKs in the dev set). The
    keys exist only in ``directory``, which the caller deletes.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(directory)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "restart-trigger test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(paths["key"], 0o600)
    return paths


#: A second app and env, for tests that need more than one target of each kind.
TEST_APP2_ID = "test-app-0000-0000-0000-000000000002"
TEST_ENV2_ID = "we-test00000000000000000002"
EXTRA_WORLD: dict[str, Any] = {
    "edas_applications": [
        {"app_id": TEST_APP2_ID, "region": TEST_REGION, "name": "test-app-2", "ecc_ids": ["ecc-2a"]}
    ],
    "webplus_environments": [
        {"env_id": TEST_ENV2_ID, "region": TEST_REGION, "name": "test-env-2", "status": "RUNNING"}
    ],
}

#: The journal's action names of the restart operations (SAE's is also RestartApplication).
RESTARTS = frozenset({"RestartApplication", "RestartAppEnv", "RestartK8sApplication"})
#: The journal codes of a restart refused because another change is in progress.
BUSY_CODES = frozenset({"603", "EnvOnChanging", "Application.ChangerOrderRunning"})


def target_of(entry: dict[str, Any]) -> str | None:
    """The AppId or EnvId a journal entry was about."""
    params = {**(entry.get("query") or {}), **(entry.get("form") or {})}
    return params.get("AppId") or params.get("EnvId")


class EmulatorError(RuntimeError):
    """The emulator did not start, or an admin call failed."""


class EmulatorProcess:
    """A ``python -m emulator`` subprocess on a free loopback port.

    ``state_path``/``seed_path`` map to ``--state``/``--seed``; ``faults`` to ``--faults``.
    ``tls`` serves HTTPS with a throwaway CA (``ca_bundle``); ``imds`` adds the plain-HTTP
    metadata listener (``--imds-port 0``, URL in ``imds_url``).
    """

    def __init__(
        self,
        state_path: str | os.PathLike[str] | None = None,
        seed_path: str | os.PathLike[str] | None = None,
        faults: dict[str, Any] | None = None,
        extra_args: list[str] | None = None,
        startup_timeout_s: float = 20.0,
        tls: bool = False,
        imds: bool = False,
    ) -> None:
        self.state_path = state_path
        self.seed_path = seed_path
        self.faults = faults
        self.extra_args = list(extra_args or [])
        self.startup_timeout_s = startup_timeout_s
        self.tls = tls
        self.imds = imds
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.imds_url = ""
        self.ca_bundle: str | None = None
        self._tls_dir: str | None = None
        self._tls_paths: dict[str, Path] = {}
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    # -- lifecycle ------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The command line used to start the emulator."""
        cmd = [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0"]
        if self.state_path:
            cmd += ["--state", str(self.state_path)]
        if self.seed_path:
            cmd += ["--seed", str(self.seed_path)]
        if self.faults is not None:
            cmd += ["--faults", json.dumps(self.faults)]
        if self._tls_paths:
            cmd += ["--tls-cert", str(self._tls_paths["cert"])]
            cmd += ["--tls-key", str(self._tls_paths["key"])]
        if self.imds:
            cmd += ["--imds-port", "0"]
        return cmd + self.extra_args

    def client_env(self) -> dict[str, str]:
        """Environment that makes a subprocess trust the emulator's CA the standard way."""
        if self.ca_bundle is None:
            return {}
        return {"SSL_CERT_FILE": self.ca_bundle, "REQUESTS_CA_BUNDLE": self.ca_bundle}

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting the emulator's CA (None without TLS)."""
        if self.ca_bundle is None:
            return None
        return ssl.create_default_context(cafile=self.ca_bundle)

    def start(self) -> EmulatorProcess:
        """Start the process and wait for its base URL on the first stdout line (and, with
        ``imds``, the metadata URL on the second)."""
        if self.tls and not self._tls_paths:
            self._tls_dir = tempfile.mkdtemp(prefix="emulator-tls-")
            self._tls_paths = make_test_ca(self._tls_dir)
            self.ca_bundle = str(self._tls_paths["ca"])
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        lines: list[str] = []
        wanted = 2 if self.imds else 1

        def read() -> None:
            for _ in range(wanted):
                lines.append(self.proc.stdout.readline())  # type: ignore[union-attr]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.startup_timeout_s)
        url = lines[0].strip() if lines else ""
        scheme = "https://" if self.tls else "http://"
        imds_line = lines[1].strip() if len(lines) > 1 else ""
        if not url.startswith(scheme) or (self.imds and not imds_line.startswith("imds http://")):
            self.kill()
            raise EmulatorError(f"emulator did not start: {lines!r}\n{self.stderr_text()}")
        self.base_url = url
        self.imds_url = imds_line.split(" ", 1)[1] if self.imds else ""
        return self

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what tea-openapi wants as ``endpoint``."""
        return self.base_url.split("//", 1)[1]

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.host.rsplit(":", 1)[1])

    def stop(self, timeout_s: float = 15.0) -> int:
        """Send SIGTERM and wait; return the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self._finish()

    def kill(self) -> int:
        """SIGKILL the process (a crash, for recovery tests); return the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self._finish()

    def _finish(self) -> int:
        assert self.proc is not None
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def cleanup_tls(self) -> None:
        """Delete the throwaway CA and keys (after :meth:`stop`)."""
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir, self._tls_paths, self.ca_bundle = None, {}, None

    def stderr_text(self) -> str:
        """Everything the emulator wrote to stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup_tls()
        self._stderr.close()

    # -- admin API ------------------------------------------------------------------------

    def admin(self, method: str, name: str, body: Any = None) -> Any:
        """Call ``/__emulator__/<name>`` and return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.base_url}/__emulator__/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        context = self.ssl_context()
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise EmulatorError(f"{method} {name}: HTTP {exc.code} {detail}") from None

    def seed(self, seed: dict[str, Any]) -> dict[str, Any]:
        """Merge a seed document; return the (redacted) state."""
        return self.admin("POST", "seed", seed)

    def state(self) -> dict[str, Any]:
        """The (redacted) state."""
        return self.admin("GET", "state")

    def reset(self) -> dict[str, Any]:
        """Forget all accounts, targets and changes."""
        return self.admin("DELETE", "state")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries with ``seq > since``, oldest first."""
        return self.admin("GET", f"journal?since={since}")["entries"]

    def clear_journal(self) -> None:
        """Forget all journal entries."""
        self.admin("DELETE", "journal")

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """Replace the fault configuration (unset knobs are off)."""
        return self.admin("PUT", "faults", faults)

    def patch_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """Change some fault knobs, keeping the others."""
        return self.admin("PATCH", "faults", faults)

    def get_faults(self) -> dict[str, Any]:
        """The active fault configuration."""
        return self.admin("GET", "faults")

    def clear_faults(self) -> dict[str, Any]:
        """Turn every fault off."""
        return self.admin("DELETE", "faults")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the emulator's clock forward (credentials and tokens expire; reset() undoes)."""
        return self.admin("POST", "clock", {"advance_s": seconds})
