"""Page through a client's orders: `?page=N&page_size=M`, refusing values that are not numbers."""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}\Z")


class OrderPagination(PageNumberPagination):
    """Twenty orders a page by default, at most a hundred; a bad page or size is a 400."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_number(self, request, paginator):
        return str(self._whole_number(request, self.page_query_param, 999_999_999) or 1)

    def get_page_size(self, request):
        return self._whole_number(request, self.page_size_query_param, self.max_page_size) or self.page_size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            upper = self.max_page_size if parameter["name"] == self.page_size_query_param else 999_999_999
            parameter["schema"].update(minimum=1, maximum=upper)
        return parameters

    def _whole_number(self, request, name: str, upper: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not WHOLE_NUMBER.match(raw) or not 1 <= int(raw) <= upper:
            raise ValidationError({name: [f"Must be a whole number from 1 to {upper}."]})
        return int(raw)
