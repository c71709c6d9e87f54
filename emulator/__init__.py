"""A local stand-in for the Alibaba Cloud EDAS (ECS and Kubernetes apps), Web+ and SAE OpenAPI
endpoints, and for STS (AssumeRole, AssumeRoleWithOIDC) and the ECS instance metadata service
that temporary credentials come from. It can serve HTTPS (``--tls-cert``/``--tls-key``).

Run it with ``python -m emulator --host 127.0.0.1 --port 0``. It verifies request signatures
exactly as the cloud gateway does (V3 ACS3-HMAC-SHA256, legacy ROA HMAC-SHA1 and the tea "v2"
HMAC-SHA1 flavour), models applications, environments and their change orders, and lets tests
inject faults through an unsigned admin API under ``/__emulator__/``.

This package imports nothing from the client package (``restart_trigger``): it is an
independent implementation.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
