"""Request schemas. Unknown fields are refused, so nothing else can be smuggled in."""
from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

from access_control import PURPOSES
from registry import cpid
from registry.models import SENSITIVE_CATEGORIES
from registry.fields import GenderField, Name, PostcodeField, birth_date_of_a_child

MINIMUM_CRITERIA = ("give a family name plus a given name or a date of birth (or year of birth), "
                    "or a ContactPoint ID")


class SearchSchema(Schema):
    class Meta:
        unknown = RAISE

    given_name = Name()
    family_name = Name()
    date_of_birth = fields.Date(validate=birth_date_of_a_child)
    birth_year = fields.Integer(strict=False)
    birth_month = fields.Integer(strict=False, validate=validate.Range(1, 12, error="must be a month from 1 to 12"))
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

    @validates("birth_year")
    def year_of_a_child(self, value, **kwargs):
        this_year = dt.date.today().year
        if value > this_year:
            raise ValidationError("must not be in the future")
        if value < this_year - 18:
            raise ValidationError("is too long ago: ContactPoint only holds children under 18")

    @validates_schema
    def enough_criteria(self, data, **kwargs):
        if "birth_month" in data and "birth_year" not in data:
            raise ValidationError("needs birth_year too", "birth_month")
        if "birth_year" in data and "date_of_birth" in data:
            raise ValidationError("give either date_of_birth or birth_year, not both", "birth_year")
        if data.get("cp_id"):
            return
        if not data.get("family_name") or not (data.get("given_name") or data.get("date_of_birth")
                                               or data.get("birth_year")):
            raise ValidationError(MINIMUM_CRITERIA, "_schema")


class ShieldingSchema(Schema):
    class Meta:
        unknown = RAISE

    shielded = fields.Boolean(required=True)
    reason_category = fields.String(required=True)


class PurposeSchema(Schema):
    """Why a record is being opened: one of a fixed list."""

    class Meta:
        unknown = RAISE

    purpose = fields.String(required=True, validate=validate.OneOf(
        list(PURPOSES), error="choose why you need this record: " + ", ".join(PURPOSES)))


class InvolvementSchema(Schema):
    """A practitioner registering that they (their service) work with the child."""

    class Meta:
        unknown = RAISE

    role = fields.String(required=True, validate=validate.Length(1, 100, error="must be 1 to 100 characters"))
    phone = fields.String(validate=validate.Regexp(r"^[0-9 +()-]{6,40}$", error="must be a phone number"))
    email = fields.Email(validate=validate.Length(max=254))
    start_date = fields.Date(load_default=dt.date.today)
    lead_professional = fields.Boolean(load_default=False)
    caf_held = fields.Boolean(load_default=False)
    info_to_share = fields.Boolean(load_default=False)
    assessment_undertaken = fields.Boolean(load_default=False)
    sensitive_category = fields.String(validate=validate.OneOf(
        SENSITIVE_CATEGORIES, error="must be one of " + ", ".join(SENSITIVE_CATEGORIES)))
    consent_recorded = fields.Boolean(load_default=False)

    @validates("start_date")
    def not_in_the_future(self, value, **kwargs):
        if value > dt.date.today():
            raise ValidationError("must not be in the future")

    @validates_schema
    def consent_for_sensitive_services(self, data, **kwargs):
        if data.get("sensitive_category") and not data.get("consent_recorded"):
            raise ValidationError("a sensitive service can only be recorded with the child's or carer's explicit "
                                  "consent: confirm that consent was given", "consent_recorded")


class EndInvolvementSchema(Schema):
    class Meta:
        unknown = RAISE

    end_date = fields.Date(load_default=dt.date.today)


class InfoToShareSchema(Schema):
    class Meta:
        unknown = RAISE

    info_to_share = fields.Boolean(required=True)
