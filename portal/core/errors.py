"""Errors raised by services. Views map them to form errors or HTTP status codes."""
from __future__ import annotations


class ServiceError(Exception):
    """A business rule refused the request.

    Carries ``(field, message)`` pairs; ``field`` is None for errors that belong to no field.
    Messages are already translated (services call ``_()`` at request time).

    ``keep_changes``: the refusal itself wrote something that must stay (a failed password attempt counts
    towards the lockout), so the view commits instead of rolling back (``portal.web.submit``).
    """

    keep_changes = False

    def __init__(self, *errors: tuple[str | None, str]):
        self.errors = list(errors)
        # Each message is a sentence with its own full stop (。 or .): a space separates them in either language.
        super().__init__(" ".join(message for _, message in self.errors))

    @classmethod
    def single(cls, message: str, field: str | None = None) -> "ServiceError":
        return cls((field, message))

    def apply_to_form(self, form) -> None:
        """Attach the messages to the form's fields (form-level ones to ``form.form_errors``)."""
        for field, message in self.errors:
            target = getattr(form, field, None) if field else None
            if target is not None and hasattr(target, "errors"):
                errors = target.errors if isinstance(target.errors, list) else list(target.errors)
                errors.append(message)
                target.errors = errors
            else:
                form.form_errors.append(message)


class PermissionDenied(Exception):
    """The acting user may not do this (HTTP 403)."""


class NotFound(Exception):
    """The object does not exist, or the acting user may not know it exists (HTTP 404)."""


class Conflict(ServiceError):
    """Someone else changed the object first (HTTP 409)."""
