"""manage.py change_address ORDER_ID [--postal-code …] --reason "…": the admin's *Change address*
for people with shell access. Fields not given keep the order's current value; the address is
checked by the API's rules, and the change is journalled under --by (default: the shell user).
"""

import getpass
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fulfillment.address_change import ADDRESS_FIELDS, address_words, order_address_change
from fulfillment.api.serializers import AddressIn
from fulfillment.models import Order
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.journal import ActorType


class Command(BaseCommand):
    help = "Change an order's shipping address until it is picked (its label is made again if it exists)."

    def add_arguments(self, parser):
        parser.add_argument("order_id")
        for name in ADDRESS_FIELDS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"The new {name}.")
        parser.add_argument("--reason", required=True, help="Written to the order's journal.")
        parser.add_argument("--by", default=getpass.getuser(), help="Who asks, for the journal.")

    def handle(self, *args, **options):
        try:
            order = Order.objects.get(pk=options["order_id"])
        except (Order.DoesNotExist, ValidationError, ValueError) as error:
            raise CommandError(f"No order {options['order_id']!r} ({type(error).__name__}).") from None
        wanted = {name: options[name] for name in ADDRESS_FIELDS if options[name] is not None}
        checked = AddressIn(data={**order.shipping_address, **wanted})
        if not checked.is_valid():
            raise CommandError(f"The address is not valid: {json.dumps(checked.errors)}")
        if not options["reason"].strip():
            raise CommandError("Give a reason: it is written to the order's journal.")
        try:
            order = order_address_change(
                order_id=order.pk,
                address=dict(checked.validated_data),
                actor=Actor(ActorType.OPERATOR, options["by"]),
                reason=options["reason"].strip(),
            )
        except ProcessStateError as error:
            raise CommandError(str(error)) from None
        redone = " (its label is made again)" if order.direction == "redo" else ""
        self.stdout.write(
            f"Order {order.pk}: shipping address {address_words(order.shipping_address)}{redone}."
        )
