"""Refusals a person can read; the API turns each into its HTTP status."""


class ServiceError(Exception):
    status = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422


class Unavailable(ServiceError):
    status = 503


class RowsInvalid(Invalid):
    """Several rows of an import refused at once: `errors` names each row and its problem."""

    def __init__(self, errors: list[dict[str, str]]):
        first = errors[0]
        more = f" ({len(errors) - 1} more in errors)" if len(errors) > 1 else ""
        super().__init__(f"Nothing was imported: {first['row']}: {first['message']}{more}")
        self.errors = errors


class FieldsInvalid(Invalid):
    """Several fields of one change refused at once: `errors` names each field and why."""

    def __init__(self, errors: list[dict[str, str]]):
        more = f" ({len(errors) - 1} more in errors)" if len(errors) > 1 else ""
        super().__init__(f"Nothing was changed: {errors[0]['message']}{more}")
        self.errors = errors
