"""The published API's provider configurations: KubevirtConfig and ProxmoxConfig.

ProxmoxConfig carries an API token in plain text (``spec.token``); its kind
declares it a credential path, so the mirror drops it before anything else
sees the object (see vitiweb.credentials).
"""

from __future__ import annotations

from django.db import models

from clusters.models import named
from vitiweb.models import MirroredObject
from vitiweb.references import SECRET
from vitiweb.spec import as_str


class KubevirtConfig(MirroredObject):
    KIND = "KubevirtConfig"
    PLURAL = "kubevirtconfigs"

    secret_name = models.CharField("kubeconfig secret", max_length=253, blank=True)
    secret_namespace = models.CharField("secret namespace", max_length=253, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "KubeVirt configuration"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "secret_name": as_str(spec.get("kubeconfigSecretRef")),
            "secret_namespace": as_str(spec.get("secretNamespace")),
        }

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        ref = named(
            "secret",
            "spec.kubeconfigSecretRef",
            SECRET,
            spec.get("kubeconfigSecretRef"),
            as_str(spec.get("secretNamespace")) or namespace,
        )
        return [ref] if ref else []


class ProxmoxConfig(MirroredObject):
    KIND = "ProxmoxConfig"
    PLURAL = "proxmoxconfigs"

    endpoint = models.CharField("endpoint", max_length=500, blank=True)
    port = models.CharField("port", max_length=20, blank=True)
    username = models.CharField("user", max_length=253, blank=True)

    class Meta(MirroredObject.Meta):
        verbose_name = "Proxmox configuration"

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        return {
            "endpoint": as_str(spec.get("endpoint"), limit=500),
            "port": as_str(spec.get("port")),
            "username": as_str(spec.get("username")),
        }
