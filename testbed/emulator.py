"""Start ``python -m emulator`` as a subprocess and drive its admin API from tests.

Typical use: ``with EmulatorProcess() as emu:`` then ``emu.seed(TEST_SEED)``, point a client at
``emu.base_url`` (or ``emu.host`` for tea-openapi), and inspect ``emu.journal()`` afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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
}


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
    """

    def __init__(
        self,
        state_path: str | os.PathLike[str] | None = None,
        seed_path: str | os.PathLike[str] | None = None,
        faults: dict[str, Any] | None = None,
        extra_args: list[str] | None = None,
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.state_path = state_path
        self.seed_path = seed_path
        self.faults = faults
        self.extra_args = list(extra_args or [])
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
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
        return cmd + self.extra_args

    def start(self) -> EmulatorProcess:
        """Start the process and wait for its base URL on the first stdout line."""
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
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.startup_timeout_s)
        url = line[0].strip() if line else ""
        if not url.startswith("http://"):
            self.kill()
            raise EmulatorError(f"emulator did not start: {url!r}\n{self.stderr_text()}")
        self.base_url = url
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

    def stderr_text(self) -> str:
        """Everything the emulator wrote to stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
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
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
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
