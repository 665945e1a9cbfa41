"""Request schemas. Unknown fields are refused, so nothing else can be smuggled in.

Field ``metadata`` (descriptions, patterns, examples) only feeds the OpenAPI document built by
``webapp/api/openapi.py``; validation is the fields' and validators' own.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

from access_control import PURPOSES
from analyzers import clock
from registry import cpid
from registry.fields import GenderField, IsoDate, Name, NhsNumberField, PostcodeField, UpnField, birth_date_to_search_by
from registry.models import SENSITIVE_CATEGORIES, SHIELDING_REASONS
from search_service.criteria import meets_minimum, minimum_criteria_message

PHONE = validate.Regexp(r"^[0-9 +()-]{6,40}$", error="must be a phone number")
MINIMUM_CRITERIA = minimum_criteria_message()  # every combination PDS documents that ContactPoint accepts
NAME_RULE = ("letters of any script, spaces, hyphens, apostrophes and full stops, with at least one letter "
             "(at most 100 characters)")
# JSON Schema patterns (ECMA-262) for what the fields below accept, for the OpenAPI document only.
CP_ID_PATTERN = r"^[\s-]*([0-9][\s-]*){10}$"  # 10 digits; spaces and hyphens of the printed form are ignored
GENDER_PATTERN = (r"^\s*([Ff]([Ee][Mm][Aa][Ll][Ee])?|[Mm]([Aa][Ll][Ee])?|[Oo]([Tt][Hh][Ee][Rr])?"
                  r"|[Uu]([Nn][Kk][Nn][Oo][Ww][Nn])?|[Xx]|[0129])\s*$")
POSTCODE_PATTERN = r"^\s*[A-Za-z]\s*([A-Za-z]\s*)?[0-9]\s*([A-Za-z0-9]\s*)?[0-9]\s*[A-Za-z]\s*[A-Za-z]\s*$"
NHS_NUMBER_PATTERN = r"^[ -]*([0-9][ -]*){10}$"  # spaces and hyphens of the printed form '943 476 5919' are dropped
UPN_LETTER = "[A-HJ-NP-RT-Za-hj-np-rt-z]"  # the check-letter alphabet: no I, O or S
UPN_PATTERN = rf"^[ -]*{UPN_LETTER}([ -]*[0-9]){{11}}[ -]*([0-9]|{UPN_LETTER})[ -]*$"


def _criterion(field, **metadata):
    """A search criterion, described for the OpenAPI document. ``drop_blank`` removes nulls before any
    field sees them (null means "not given"), so marking the field nullable changes nothing but the document."""
    field.allow_none = True
    field.metadata.update(metadata)
    return field


class SearchSchema(Schema):
    class Meta:
        unknown = RAISE

    given_name = _criterion(Name(), description="Given name: " + NAME_RULE, minLength=1, maxLength=100,
                            example="Jo")
    family_name = _criterion(Name(), description="Family name: " + NAME_RULE, minLength=1, maxLength=100,
                             example="Smith")
    date_of_birth = _criterion(IsoDate(validate=birth_date_to_search_by),
                               description="YYYY-MM-DD: a child's date of birth (under 18, not in the future), or "
                                           "one a slip away from a child's (day and month swapped, one digit off)")
    birth_year = _criterion(fields.Integer(strict=False), description="Year of birth when the full date is not "
                            "known (one of the last 18 years); not together with date_of_birth")
    birth_month = _criterion(fields.Integer(strict=False, validate=validate.Range(
        1, 12, error="must be a month from 1 to 12")), description="Month of birth, with birth_year")
    gender = _criterion(GenderField(), description="female, male, other or unknown; the codes F, M, O, U, X, 1, 2, "
                        "9 and 0 are accepted too, in either case", pattern=GENDER_PATTERN)
    postcode = _criterion(PostcodeField(), description="A UK postcode, e.g. LS6 2AB (spacing and case do not matter)",
                          pattern=POSTCODE_PATTERN)
    cp_id = _criterion(fields.String(), description="ContactPoint ID: 10 digits whose last is the check digit; the "
                       "printed form '123 456 7890' is accepted", pattern=CP_ID_PATTERN)
    nhs_number = _criterion(NhsNumberField(), description="NHS number: 10 digits whose last is the modulus-11 check "
                            "digit ('943 476 5919' is accepted); with date_of_birth, which must agree too",
                            pattern=NHS_NUMBER_PATTERN, example="943 476 5919")
    upn = _criterion(UpnField(), description="Unique pupil number: a check letter, 11 digits and a digit (or, "
                     "for a temporary UPN, a letter), in either case; with date_of_birth, which must agree too",
                     pattern=UPN_PATTERN, example="B801200005001")

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
        this_year = clock.today().year
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
        if not meets_minimum(data):
            raise ValidationError(MINIMUM_CRITERIA, "_schema")


class ShieldingSchema(Schema):
    class Meta:
        unknown = RAISE

    shielded = fields.Boolean(required=True, metadata={"description": "true to shield the child, false to lift it"})
    reason_category = fields.String(required=True, metadata={
        "description": "Why (required when lifting shielding too)", "enum": list(SHIELDING_REASONS)})


class PurposeSchema(Schema):
    """Why a record is being opened: one of a fixed list."""

    class Meta:
        unknown = RAISE

    purpose = fields.String(required=True, validate=validate.OneOf(
        list(PURPOSES), error="choose why you need this record: " + ", ".join(PURPOSES)),
        metadata={"description": "Why the record is being opened (recorded in the audit trail)"})


class InvolvementSchema(Schema):
    """A practitioner registering that they (their service) work with the child."""

    class Meta:
        unknown = RAISE

    role = fields.String(required=True, validate=validate.Length(1, 100, error="must be 1 to 100 characters"),
                         metadata={"description": "The practitioner's role with the child",
                                   "example": "Health visitor"})
    phone = fields.String(validate=PHONE,
                          metadata={"description": "Contact phone number"})
    email = fields.Email(validate=validate.Length(max=254), metadata={"description": "Contact email address"})
    start_date = IsoDate(load_default=clock.today,
                             metadata={"description": "Not in the future; today if left out"})
    lead_professional = fields.Boolean(load_default=False, metadata={"description": "The lead professional"})
    caf_held = fields.Boolean(load_default=False, metadata={"description": "Holds a Common Assessment Framework"})
    info_to_share = fields.Boolean(load_default=False, metadata={"description": "Has information to share"})
    assessment_undertaken = fields.Boolean(load_default=False, metadata={"description": "An assessment was done"})
    sensitive_category = fields.String(validate=validate.OneOf(
        SENSITIVE_CATEGORIES, error="must be one of " + ", ".join(SENSITIVE_CATEGORIES)), metadata={
        "description": "For a sensitive service only: seen only by its own organisation, the owning "
                       "authority's team and national administrators; needs consent_recorded"})
    consent_recorded = fields.Boolean(load_default=False, metadata={
        "description": "The child's or carer's explicit consent was given (required for a sensitive service)"})

    @validates("start_date")
    def not_in_the_future(self, value, **kwargs):
        if value > clock.today():
            raise ValidationError("must not be in the future")

    @validates_schema(skip_on_field_errors=False)  # say everything that is wrong at once
    def consent_for_sensitive_services(self, data, **kwargs):
        if data.get("sensitive_category") and not data.get("consent_recorded"):
            raise ValidationError("a sensitive service can only be recorded with the child's or carer's explicit "
                                  "consent: confirm that consent was given", "consent_recorded")


class EndInvolvementSchema(Schema):
    class Meta:
        unknown = RAISE

    end_date = IsoDate(load_default=clock.today, metadata={"description": "Today if left out"})


class InfoToShareSchema(Schema):
    class Meta:
        unknown = RAISE

    info_to_share = fields.Boolean(required=True, metadata={"description": "Whether there is information to share"})


class OrganisationContactSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 200, error="must be 1 to 200 characters"))
    phone = fields.String(validate=PHONE)
    email = fields.Email(validate=validate.Length(max=254))


class ReviewQueueSchema(Schema):
    """Which page of the linkage review queue."""

    class Meta:
        unknown = RAISE

    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000, error="must be a number from 1 to 10000"),
                          metadata={"description": "Page of the queue (25 items a page), from 1"})


class ReviewDecisionSchema(Schema):
    """A person's decision on a linkage review item."""

    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(
        ("merge", "different", "skip"), error="must be merge, different or skip"), metadata={
        "description": "merge: the same child (the older ContactPoint ID survives); different: different children "
                       "(never proposed again); skip: leave it for someone else"})
    expected_version = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1), metadata={
        "description": "The item's version as read: if someone decided since, the answer is 409 and nothing changes"})
    candidate_cp_id = fields.String(validate=validate.Regexp(CP_ID_PATTERN, error="must be a ContactPoint ID"),
                                    metadata={"description": "The candidate meant (required for merge when the item "
                                              "has more than one); not with skip", "pattern": CP_ID_PATTERN})


class MergeSchema(Schema):
    """Two children found to be one."""

    class Meta:
        unknown = RAISE

    other_cp_id = fields.String(required=True, validate=validate.Regexp(
        CP_ID_PATTERN, error="must be a ContactPoint ID"), metadata={
        "description": "The other child's ContactPoint ID; the older ID survives", "pattern": CP_ID_PATTERN})
