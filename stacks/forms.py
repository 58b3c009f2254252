"""The Vitistack form: generated from the CRD, grouped as the seed guide groups it."""

from vitiweb.editing.forms import ManifestForm, naming_slug


class VitistackForm(ManifestForm):
    kind = "Vitistack"
    sections = (
        (
            "General",
            ("region", "description", "role"),
            "Where this Vitistack runs and what part it plays in the fleet.",
        ),
        ("Networking", ("networking",), "VPCs with their subnets, load balancers and firewall rules."),
        ("Security", ("security",), "Encryption, RBAC and audit logging."),
        ("Resource quotas", ("resourceQuotas",), "Upper bounds for machines, clusters, providers and capacity."),
        ("Providers", ("machineProviders", "kubernetesProviders"), "The providers this Vitistack uses, by priority."),
        (
            "Monitoring, logging and backup",
            ("monitoring", "logging", "backup"),
            "Backup schedules are cron expressions.",
        ),
        (
            "Disaster recovery",
            ("disasterRecovery", "primaryVitistack"),
            "Replication targets for a primary; the primary for a disaster-recovery Vitistack.",
        ),
        (
            "Edge",
            ("edgeManagement", "managementVitistack", "edge"),
            "Edge locations managed centrally, or an edge location's link to its management Vitistack.",
        ),
        (
            "Hierarchy and global policies",
            ("childVitistacks", "parentVitistack", "inheritPolicies", "globalPolicies"),
            "",
        ),
    )
    suggestions = (
        (r"spec\.machineProviders\.\d+\.name", "suggest_machine_providers"),
        (r"spec\.kubernetesProviders\.\d+\.name", "suggest_kubernetes_providers"),
        (
            r"spec\.(?:childVitistacks|disasterRecovery\.replicationTargets|edgeManagement\.edgeLocations)\.\d+\.name",
            "suggest_vitistacks",
        ),
        (r"spec\.(?:parentVitistack|primaryVitistack|managementVitistack)\.name", "suggest_vitistacks"),
        (r"spec\..*\.namespace", "suggest_namespaces"),
        (r"spec\.(?:.*\.)?region", "suggest_regions"),
    )
    naming_pattern = "{environment}-{region}-vitistack"

    def naming_suggestion(self) -> str:
        environment = self.label("environment") or (self.data.get("metadata.namespace") or "").strip()
        region = (self.data.get("spec.region") or "").strip() or self.label("region")
        return naming_slug(environment, region, "vitistack") if environment and region else ""
