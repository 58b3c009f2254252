"""The Machine form: instance types, images, subnets and security groups offered from its provider."""

from vitiweb.editing.forms import ManifestForm, naming_slug


class MachineForm(ManifestForm):
    kind = "Machine"
    sections = (
        (
            "Provider and size",
            ("machineProvider", "instanceType", "machineImage"),
            "Instance types and images are offered from the chosen machine provider.",
        ),
        ("Networking", ("networking",), "Subnet and security groups come from the provider's networking."),
        ("SSH access", ("sshKeys",), "Public keys only."),
        ("Software", ("software",), "Packages to install and scripts to run."),
        ("Machine labels and annotations", ("labels", "annotations"), "Set on the machine itself (spec)."),
    )
    suggestions = (
        (r"spec\.machineProvider\.name", "suggest_machine_providers"),
        (r"spec\.machineProvider\.namespace", "suggest_namespaces"),
        (r"spec\.instanceType", "suggest_instance_types"),
        (r"spec\.machineImage", "suggest_images"),
        (r"spec\.networking\.subnet", "suggest_subnets"),
        (r"spec\.networking\.securityGroups", "suggest_security_groups"),
    )
    naming_pattern = "{role}-{environment}-{sequence}"

    def suggest_instance_types(self, name, match):
        return self.offers_of_provider("spec.machineProvider.name", "instanceTypes")

    def suggest_images(self, name, match):
        return self.offers_of_provider("spec.machineProvider.name", "machineImages")

    def suggest_subnets(self, name, match):
        return self.offers_of_provider("spec.machineProvider.name", "subnets")

    def suggest_security_groups(self, name, match):
        return self.offers_of_provider("spec.machineProvider.name", "securityGroups")

    def spec_label(self, key: str) -> str:
        for line in (self.data.get("spec.labels") or "").splitlines():
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip()
        return ""

    def naming_suggestion(self) -> str:
        role = self.spec_label("role") or self.label("role")
        environment = (
            self.label("environment")
            or self.spec_label("environment")
            or (self.data.get("metadata.namespace") or "").strip()
        )
        if not (role and environment):
            return ""
        prefix = naming_slug(role, environment)
        sequence = 1
        from machines.models import Machine

        taken = set(Machine.objects.filter(name__startswith=prefix + "-").values_list("name", flat=True)[:1000])
        while f"{prefix}-{sequence:03d}" in taken:
            sequence += 1
        return f"{prefix}-{sequence:03d}"
