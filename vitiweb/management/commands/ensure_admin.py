import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from vitiweb.roles import ADMIN


class Command(BaseCommand):
    help = "Create the local admin login if it does not exist, printing its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Login {username!r} exists (reset with: python manage.py changepassword {username}).")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(Group.objects.get(name=ADMIN))
        self.stdout.write(self.style.SUCCESS(f"Created login {username!r} with password: {password}"))
        self.stdout.write("This password is shown only once.")
