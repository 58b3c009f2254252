from django.core.management.base import BaseCommand
from django.db import transaction

from vitiweb import crypto
from vitiweb.models import Cluster


class Command(BaseCommand):
    help = "Re-encrypt every cluster's credentials with the first key of VITIWEB_CREDENTIALS_KEYS."

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for cluster in Cluster.objects.select_for_update().exclude(credentials_encrypted=b""):
                cluster.credentials_encrypted = crypto.rotate(bytes(cluster.credentials_encrypted))
                cluster.save(update_fields=["credentials_encrypted"])
                rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the credentials of {rotated} cluster(s)."))
