"""Forms of the dashboard's own objects."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from vitiweb import policy
from vitiweb.kube.errors import KubeError
from vitiweb.kube.kubeconfig import list_contexts, minimal_kubeconfig, parse_kubeconfig
from vitiweb.models import Cluster

MAX_KUBECONFIG_BYTES = 256 * 1024


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never sends its value back: a pasted kubeconfig holds credentials."""

    def format_value(self, value):
        return None


class ClusterAddForm(forms.Form):
    """A cluster from a kubeconfig, uploaded or pasted; only one context of it is kept."""

    name = forms.SlugField(max_length=100, help_text="How the dashboard names this cluster (letters, digits, -).")
    kubeconfig_file = forms.FileField(required=False, label="Kubeconfig file")
    kubeconfig_text = forms.CharField(
        required=False,
        label="…or paste it",
        widget=WriteOnlyTextarea(
            attrs={
                "rows": 8,
                "spellcheck": "false",
                "autocomplete": "off",
                "placeholder": "apiVersion: v1\nkind: Config\nclusters: …",
            }
        ),
    )
    context = forms.CharField(
        required=False, max_length=200, help_text="Leave empty for the kubeconfig's current context."
    )
    save_unreachable = forms.BooleanField(required=False, label="Save even if the connection test fails")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if Cluster.objects.filter(name=name).exists():
            raise ValidationError("A cluster with this name exists.")
        return name

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("kubeconfig_file")
        text = cleaned.get("kubeconfig_text") or ""
        if upload:
            if upload.size > MAX_KUBECONFIG_BYTES:
                raise ValidationError("The kubeconfig is larger than 256 KiB.")
            text = upload.read().decode("utf-8", "replace")
        if not text.strip():
            raise ValidationError("Upload a kubeconfig or paste one.")
        try:
            parse_kubeconfig(text)
            contexts = list_contexts(text)
            kubeconfig = minimal_kubeconfig(text, cleaned.get("context") or None)
        except KubeError as exc:
            raise ValidationError(str(exc)) from None
        problems = policy.cluster_address_problems(kubeconfig["clusters"][0]["cluster"])
        if problems:
            raise ValidationError(problems)
        cleaned["contexts"] = contexts
        cleaned["kubeconfig"] = kubeconfig
        return cleaned
