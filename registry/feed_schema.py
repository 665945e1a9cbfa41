"""What a source-feed row may contain. Unknown columns are refused: no case information gets in."""
from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from .fields import (
    Flag, GenderField, IsoDate, Name, NhsNumberField, PostcodeField, Text, UpnField, birth_date_of_a_child, printable,
)
from .models import SENSITIVE_CATEGORIES

CARER_COLUMNS = ("carer_given_name", "carer_family_name", "carer_relationship",
                 "carer_parental_responsibility", "carer_phone", "carer_email")
INVOLVEMENT_COLUMNS = ("service_code", "service_name", "practitioner_name", "practitioner_role",
                       "practitioner_phone", "practitioner_email", "involvement_start", "involvement_end",
                       "lead_professional", "caf_held", "info_to_share", "assessment_undertaken",
                       "sensitive_category", "consent_recorded_by", "consent_recorded_at")


class FeedRowSchema(Schema):
    class Meta:
        unknown = RAISE

    source_record_id = fields.String(required=True, validate=[validate.Length(min=1, max=100), printable])
    given_name = Name(required=True)
    middle_names = Name(length=200)
    family_name = Name(required=True)
    date_of_birth = IsoDate(required=True, validate=birth_date_of_a_child)
    gender = GenderField()
    address_line_1 = Text()
    address_line_2 = Text()
    town = Text(100)
    postcode = PostcodeField()
    la_code = Text(20)
    nhs_number = NhsNumberField()
    upn = UpnField()
    school_code = Text(20)
    school_name = Text()
    gp_practice_code = Text(20)
    gp_practice_name = Text()
    carer_given_name = Name()
    carer_family_name = Name()
    carer_relationship = Text(40)
    carer_parental_responsibility = Flag()
    carer_phone = Text(40)
    carer_email = fields.Email(validate=validate.Length(max=254))
    service_code = Text(20)
    service_name = Text()
    practitioner_name = Name(length=200)
    practitioner_role = Text(100)
    practitioner_phone = Text(40)
    practitioner_email = fields.Email(validate=validate.Length(max=254))
    involvement_start = IsoDate()
    involvement_end = IsoDate()
    lead_professional = Flag()
    caf_held = Flag()
    info_to_share = Flag()
    assessment_undertaken = Flag()
    sensitive_category = fields.String(validate=validate.OneOf(SENSITIVE_CATEGORIES))
    consent_recorded_by = Name(length=200)
    consent_recorded_at = fields.AwareDateTime(default_timezone=dt.timezone.utc)

    @pre_load
    def drop_blank(self, data, **kwargs):
        """CSV has no null: an empty cell means the column was not given."""
        if not isinstance(data, dict):
            raise ValidationError("each row must be an object of column: value", "_schema")
        cleaned = {}
        for key, value in data.items():
            if key is None:
                raise ValidationError("the row has more cells than the header has columns", "_row")
            if isinstance(value, str):
                value = value.strip()
                if value == "":
                    continue
            if value is not None:
                cleaned[key] = value
        return cleaned

    @validates_schema
    def related_columns(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        if any(c in data for c in CARER_COLUMNS):
            for column in ("carer_given_name", "carer_family_name", "carer_relationship"):
                if column not in data:
                    errors.setdefault(column, []).append("is required when any carer column is given")
        if any(c in data for c in INVOLVEMENT_COLUMNS):
            for column in ("service_code", "practitioner_role", "involvement_start"):
                if column not in data:
                    errors.setdefault(column, []).append("is required when any involvement column is given")
        if "sensitive_category" in data:
            for column in ("consent_recorded_by", "consent_recorded_at"):
                if column not in data:
                    errors.setdefault(column, []).append(
                        "a sensitive service is recorded only with explicit consent: give who and when")
        start, end = data.get("involvement_start"), data.get("involvement_end")
        if start and end and end < start:
            errors.setdefault("involvement_end", []).append("must not be before involvement_start")
        if start and start < data.get("date_of_birth", start):
            errors.setdefault("involvement_start", []).append("must not be before the date of birth")
        if "school_name" in data and "school_code" not in data:
            errors.setdefault("school_code", []).append("is required when school_name is given")
        if "gp_practice_name" in data and "gp_practice_code" not in data:
            errors.setdefault("gp_practice_code", []).append("is required when gp_practice_name is given")
        if errors:
            raise ValidationError(errors)


COLUMNS = tuple(FeedRowSchema().fields)
REQUIRED_COLUMNS = tuple(name for name, field in FeedRowSchema().fields.items() if field.required)

__all__ = ["COLUMNS", "FeedRowSchema", "REQUIRED_COLUMNS"]
