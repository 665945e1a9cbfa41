"""Request schemas. Unknown fields are refused, so nothing else can be smuggled in."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validates, validates_schema

from registry import cpid
from registry.fields import GenderField, Name, PostcodeField, birth_date_of_a_child

MINIMUM_CRITERIA = ("give a family name plus a given name or a date of birth, "
                    "or a ContactPoint ID")


class SearchSchema(Schema):
    class Meta:
        unknown = RAISE

    given_name = Name()
    family_name = Name()
    date_of_birth = fields.Date(validate=birth_date_of_a_child)
    gender = GenderField()
    postcode = PostcodeField()
    cp_id = fields.String()

    @pre_load
    def drop_blank(self, data, **kwargs):
        """null means the criterion was not given; a blank name is an error the caller should see."""
        if not isinstance(data, dict):
            raise ValidationError("the request body must be a JSON object of search criteria", "_schema")
        return {k: v for k, v in data.items() if v is not None}

    @validates("cp_id")
    def valid_cp_id(self, value, **kwargs):
        if not cpid.is_valid(value):
            raise ValidationError("is not a valid ContactPoint ID: 10 digits whose last is the check digit")

    @validates_schema
    def enough_criteria(self, data, **kwargs):
        if data.get("cp_id"):
            return
        if not data.get("family_name") or not (data.get("given_name") or data.get("date_of_birth")):
            raise ValidationError(MINIMUM_CRITERIA, "_schema")
