from django.db import migrations

from vitiweb.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("vitiweb", "0002_audit_permissions"),
        ("stacks", "0001_initial"),
        ("providers", "0001_initial"),
        ("machines", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
