from django import forms

from gitops.models import GitSource
from vitiweb.models import Cluster


class GitSourceForm(forms.Form):
    name = forms.SlugField(max_length=100)
    url = forms.CharField(max_length=1000, required=False, label="Repository URL")
    local_path = forms.CharField(max_length=1000, required=False, label="or a local path")
    branch = forms.CharField(max_length=200, initial="main")
    path = forms.CharField(max_length=1000, required=False, label="Folder in the repository")
    clusters = forms.ModelMultipleChoiceField(queryset=Cluster.objects.all(), to_field_name="name")
    namespace = forms.CharField(max_length=253, required=False, help_text="Empty: every namespace.")
    auth = forms.ChoiceField(choices=GitSource.Auth.choices, initial=GitSource.Auth.NONE, label="Authentication")
    credentials = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}), max_length=20000,
        label="Token or SSH private key", help_text="Stored encrypted; never shown again.",
    )  # fmt: skip
    push_enabled = forms.BooleanField(required=False, label="Allow pushing new branches")

    def clean(self):
        data = super().clean()
        if bool(data.get("url")) == bool(data.get("local_path")):
            raise forms.ValidationError("Give either a repository URL or a local path.")
        if data.get("auth") != GitSource.Auth.NONE and not data.get("credentials"):
            self.add_error("credentials", "This authentication needs its token or key.")
        return data


class PromotionForm(forms.Form):
    source_cluster = forms.ModelChoiceField(queryset=Cluster.objects.all(), label="From cluster")
    source_namespace = forms.CharField(max_length=253, initial="staging", label="From namespace")
    from_environment = forms.SlugField(max_length=63, initial="staging")
    target_cluster = forms.ModelChoiceField(queryset=Cluster.objects.all(), label="To cluster")
    target_namespace = forms.CharField(max_length=253, initial="production", label="To namespace")
    to_environment = forms.SlugField(max_length=63, initial="production")
    batch_size = forms.IntegerField(
        min_value=0, max_value=1000, initial=0, label="Machines per batch",
        help_text="0: all at once. Otherwise each batch must be Ready before the next is applied.",
    )  # fmt: skip
