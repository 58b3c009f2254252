"""The provider forms: generated from the CRDs; the chosen type's own block is the one shown."""

from vitiweb.editing.forms import ManifestForm, naming_slug


class _ProviderForm(ManifestForm):
    variant_key = "type"
    naming_pattern = "{provider-type}-{region}-provider"

    def naming_suggestion(self) -> str:
        provider_type = (self.data.get("spec.type") or "").strip()
        region = (self.data.get("spec.region") or "").strip() or self.label("region")
        return naming_slug(provider_type, region, "provider") if provider_type and region else ""


class MachineProviderForm(_ProviderForm):
    kind = "MachineProvider"
    sections = (
        ("General", ("type", "region"), "The cloud or platform this provider provisions machines on."),
        ("Health monitoring", ("healthCheck",), "Intervals and timeouts are durations such as 30s or 10m."),
        ("Auto-scaling", ("autoScaling",), ""),
        ("Lifecycle management", ("lifecycle",), "Draining before delete and the update strategy."),
        ("Failover", ("failover",), "Providers to fail over to, by priority, and the conditions that trigger it."),
        ("Sharing and shared storage", ("shareWith", "storage"), "Vitistacks that may use this provider."),
    )
    suggestions = (
        (r"spec\.failover\.targets\.\d+\.name", "suggest_machine_providers"),
        (r"spec\.shareWith\.\d+\.vitistack", "suggest_vitistacks"),
        (r"spec\..*\.namespace", "suggest_namespaces"),
        (r"spec\.(?:.*\.)?region", "suggest_regions"),
    )


class KubernetesProviderForm(_ProviderForm):
    kind = "KubernetesProvider"
    sections = (
        ("General", ("type", "version", "region"), "The Kubernetes distribution, its version and region."),
        ("Networking", ("networking",), "CNI, service and pod CIDRs, network policies and service mesh."),
        ("Security", ("security",), "RBAC, pod security standards and network security policies."),
        ("Add-ons", ("addons",), "Add-on settings under Config are free-form YAML."),
        ("Monitoring", ("monitoring",), "Prometheus, Grafana and Alertmanager."),
        ("Backup", ("backup",), "The schedule is a cron expression such as 0 1 * * *."),
    )
    suggestions = (
        (r"spec\.version", "suggest_kubernetes_versions"),
        (r"spec\.\w+\.nodeGroups\.\d+\.machineProvider\.name", "suggest_machine_providers"),
        (r"spec\.\w+\.nodeGroups\.\d+\.instanceType", "suggest_instance_types"),
        (r"spec\.\w+\.nodeGroups\.\d+\.subnets", "suggest_subnets"),
        (r"spec\..*\.namespace", "suggest_namespaces"),
        (r"spec\.region", "suggest_regions"),
    )

    def suggest_instance_types(self, name, match):
        return self.offers_of_provider(name.rsplit(".", 1)[0] + ".machineProvider.name", "instanceTypes")

    def suggest_subnets(self, name, match):
        return self.offers_of_provider(name.rsplit(".", 1)[0] + ".machineProvider.name", "subnets")
