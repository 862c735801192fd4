"""``manage.py create_merchant --name N --email E``: prints id, key and secret as JSON."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import IntegrityError

from payments.models import ApiKey
from payments.services.api_keys import merchant_create


class Command(BaseCommand):
    help = "Create a merchant and its first API key; the secret is printed once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--live", action="store_true", help="issue a key_live_ key")

    def handle(self, *args, **options) -> None:
        try:
            validate_email(options["email"])
        except ValidationError as exc:
            raise CommandError(f"invalid email: {options['email']}") from exc
        mode = ApiKey.Mode.LIVE if options["live"] else ApiKey.Mode.TEST
        try:
            merchant, issued = merchant_create(name=options["name"], email=options["email"], mode=mode)
        except IntegrityError as exc:
            raise CommandError(f"a merchant with email {options['email']} already exists") from exc
        self.stdout.write(
            json.dumps(
                {
                    "merchant_id": str(merchant.id),
                    "name": merchant.name,
                    "email": merchant.email,
                    "api_key": issued.api_key.key_id,
                    "api_secret": issued.secret,
                }
            )
        )
