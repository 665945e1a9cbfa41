"""The authoritative schema. Deliberately no field for case notes, assessments or opinions."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text,
    TypeDecorator, UniqueConstraint, func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from analyzers import clock

GENDERS = ("female", "male", "other", "unknown")
CHILD_STATUSES = ("active", "archived", "merged", "deleted")
ORG_KINDS = ("local_authority", "school", "gp_practice", "service")
NAME_KINDS = ("primary", "alias", "previous", "source")
SENSITIVE_CATEGORIES = ("sexual_health", "mental_health", "substance_misuse")
# How a source record came to belong to its child: it made the child, linkage joined it automatically, a
# reviewer merged it, or an administrator moved it.
LINK_DECISIONS = ("created", "auto", "reviewed", "manual")
REVIEW_STATUSES = ("open", "merged", "different", "skipped")
SHIELDING_REASONS = ("risk_of_harm", "domestic_abuse", "adoption", "witness_protection", "court_order", "other")

class UTCDateTime(TypeDecorator):
    """A timestamp that always comes back timezone-aware in UTC (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


# SQLite only gives 64-bit autoincrement keys to INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer, "sqlite")


def _utcnow() -> dt.datetime:
    return clock.now()


class Base(DeclarativeBase):
    pass


class VersionedBody:
    """A JSON body stored version by version (relevance profiles, linkage models); one version is active."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (
        UniqueConstraint("kind", "code", name="uq_organisations_kind_code"),
        CheckConstraint(f"kind IN {ORG_KINDS}", name="ck_organisations_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    postcode: Mapped[str | None] = mapped_column(String(10))
    # The local authority the organisation belongs to (a local authority belongs to itself); NULL is a
    # national organisation. An LA team administers users only in its own authority's organisations.
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))

    # post_update: a local authority's row points at itself, which one INSERT cannot do in a plain flush.
    local_authority: Mapped["Organisation | None"] = relationship(remote_side=[id], post_update=True)


class Child(Base):
    __tablename__ = "children"
    __table_args__ = (
        CheckConstraint(f"gender IN {GENDERS}", name="ck_children_gender"),
        CheckConstraint(f"status IN {CHILD_STATUSES}", name="ck_children_status"),
        Index("ix_children_dob", "date_of_birth"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cp_id: Mapped[str] = mapped_column(String(10), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(10), default="unknown")
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10))
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    gp_practice_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    shielded: Mapped[bool] = mapped_column(Boolean, default=False)
    shielding_reason: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default="active")
    # Made up by `contactpoint demo-data`; cleared as soon as any source feed writes to the child.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"))
    # Optional strong identifiers, validated (analyzers.identifiers) and derived from source records.
    nhs_number: Mapped[str | None] = mapped_column(String(10), index=True)
    upn: Mapped[str | None] = mapped_column(String(13), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)

    local_authority: Mapped[Organisation | None] = relationship(foreign_keys=[local_authority_id])
    school: Mapped[Organisation | None] = relationship(foreign_keys=[school_id])
    gp_practice: Mapped[Organisation | None] = relationship(foreign_keys=[gp_practice_id])
    names: Mapped[list["ChildName"]] = relationship(back_populates="child", cascade="all, delete-orphan",
                                                   order_by="ChildName.id")
    carers: Mapped[list["Carer"]] = relationship(back_populates="child", cascade="all, delete-orphan",
                                                 order_by="Carer.id")
    involvements: Mapped[list["Involvement"]] = relationship(back_populates="child", cascade="all, delete-orphan",
                                                             order_by="Involvement.id")


class ChildName(Base):
    """Every name a child is known by: primary, aliases, previous names and source-record names."""
    __tablename__ = "child_names"
    __table_args__ = (CheckConstraint(f"kind IN {NAME_KINDS}", name="ck_child_names_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    given_name: Mapped[str] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(100))
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))

    child: Mapped[Child] = relationship(back_populates="names")


class Carer(Base):
    __tablename__ = "carers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    relationship_to_child: Mapped[str] = mapped_column(String(40))
    parental_responsibility: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))

    child: Mapped[Child] = relationship(back_populates="carers")


class Involvement(Base):
    """A service or practitioner working with the child. Sensitive services need recorded consent."""
    __tablename__ = "involvements"
    __table_args__ = (
        CheckConstraint(f"sensitive_category IS NULL OR sensitive_category IN {SENSITIVE_CATEGORIES}",
                        name="ck_involvements_sensitive_category"),
        CheckConstraint("sensitive_category IS NULL OR "
                        "(consent_recorded_by IS NOT NULL AND consent_recorded_at IS NOT NULL)",
                        name="ck_involvements_sensitive_needs_consent"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_involvements_dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    practitioner_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    lead_professional: Mapped[bool] = mapped_column(Boolean, default=False)
    caf_held: Mapped[bool] = mapped_column(Boolean, default=False)
    info_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    assessment_undertaken: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive_category: Mapped[str | None] = mapped_column(String(20))
    consent_recorded_by: Mapped[str | None] = mapped_column(String(200))
    consent_recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))
    # The user (or case-management system and practitioner) who registered it through ContactPoint.
    registered_by: Mapped[str | None] = mapped_column(String(100))

    child: Mapped[Child] = relationship(back_populates="involvements")
    organisation: Mapped[Organisation] = relationship()


class SourceRecord(Base):
    """One row received from a source feed, kept so reloads are idempotent and linkage can be revisited."""
    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("source", "source_record_id", name="uq_source_records_source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    source_record_id: Mapped[str] = mapped_column(String(100))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)  # the validated fields, as JSON
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)
    # Copied out of the payload so linkage finds a record by identifier without reading every payload.
    nhs_number: Mapped[str | None] = mapped_column(String(10), index=True)
    upn: Mapped[str | None] = mapped_column(String(13), index=True)
    # The link: how this record came to its child, the match weight and each field's contribution
    # (so every link can be explained), and the linkage model that decided it.
    link_decision: Mapped[str] = mapped_column(String(10), default="created")
    match_weight: Mapped[float | None] = mapped_column(Float)
    link_contributions: Mapped[dict | None] = mapped_column(JSON)
    linkage_model: Mapped[str | None] = mapped_column(String(60))
    # The child this record made or first joined: unmerge gives it back to that child.
    origin_child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"))


class ChildAddress(Base):
    """Every address a source gave for a child, kept when the child moves (linkage compares with all of them)."""
    __tablename__ = "child_addresses"
    __table_args__ = (UniqueConstraint("child_id", "source_record_id", "postcode", "address_line_1",
                                       name="uq_child_addresses"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id", ondelete="CASCADE"))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10))
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class ReviewItem(Base):
    """A feed row that may be a child already known: it made a new child, which waits here for a person."""
    __tablename__ = "linkage_review_items"
    __table_args__ = (CheckConstraint(f"status IN {REVIEW_STATUSES}", name="ck_linkage_review_items_status"),
                      Index("ix_linkage_review_items_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("source_records.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    linkage_model: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The candidate a "same child" decision merged with.
    merged_with_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"))
    # Bumped by every decision: two people deciding at once get one winner and one conflict.
    version: Mapped[int] = mapped_column(Integer, default=1)

    candidates: Mapped[list["ReviewCandidate"]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ReviewCandidate.match_weight.desc()")

    __mapper_args__ = {"version_id_col": version}


class ReviewCandidate(Base):
    """A child the review item's row may be, with the weight and per-field contributions that say why."""
    __tablename__ = "linkage_review_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("linkage_review_items.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    match_weight: Mapped[float] = mapped_column(Float)
    contributions: Mapped[dict] = mapped_column(JSON)

    item: Mapped[ReviewItem] = relationship(back_populates="candidates")


class NonMatch(Base):
    """Two children a reviewer said are different: the pair is never proposed again."""
    __tablename__ = "linkage_non_matches"

    low_child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), primary_key=True)
    high_child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), primary_key=True)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class ChildMerge(Base):
    """One merge, with what it moved, so unmerge can give each child back what was its own."""
    __tablename__ = "child_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    # {"source_records": [...], "involvements": [...], "names": [...], "carers": [...],
    #  "shielded": {"survivor": bool, "merged": bool}, "shielding_reason": {...}}
    moved: Mapped[dict] = mapped_column(JSON)
    review_item_id: Mapped[int | None] = mapped_column(ForeignKey("linkage_review_items.id"))
    merged_by: Mapped[str] = mapped_column(String(100))
    merged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    unmerged_by: Mapped[str | None] = mapped_column(String(100))
    unmerged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LinkageModelRow(VersionedBody, Base):
    """A version of a record-linkage model (levels, m and u, term frequencies, thresholds); one is active."""
    __tablename__ = "linkage_models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_linkage_models_name_version"),)


class ChangeLog(Base):
    """Transactional outbox: one row per change to a child, written in the same transaction."""
    __tablename__ = "change_log"
    # (child_id, seq): a child's changes and its newest one, from the index alone (rebuild, compaction).
    # (change, seq): the shieldings after a checkpoint, which every search asks for (shielded_since_indexed).
    __table_args__ = (Index("ix_change_log_child_id_seq", "child_id", "seq"),
                      Index("ix_change_log_change_seq", "change", "seq"))

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    child_id: Mapped[int] = mapped_column(Integer)
    # Kept so a purged child's document can still be found and removed from the index.
    cp_id: Mapped[str | None] = mapped_column(String(10))
    change: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, server_default=func.now())


class IndexCheckpoint(Base):
    """How far an indexer has applied the change log."""
    __tablename__ = "index_checkpoints"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow, onupdate=_utcnow)
    # The worker allowed to advance this checkpoint, until when (others stand by).
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RelevanceProfileRow(VersionedBody, Base):
    """A version of a relevance profile; editing creates a new version, one version is active."""
    __tablename__ = "relevance_profiles"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_relevance_profiles_name_version"),)


class IndexDeadLetter(Base):
    """A child whose document could not be built or was refused; retried by every sync."""
    __tablename__ = "index_dead_letters"

    child_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cp_id: Mapped[str | None] = mapped_column(String(10))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)
    last_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


NOTIFICATION_EVENT_KINDS = ("involvement_started", "authority_changed")


class EventReferences:
    """What a notification is about, by reference only (no foreign keys: a purged child's notices just say so)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    child_id: Mapped[int] = mapped_column(Integer)
    involvement_id: Mapped[int | None] = mapped_column(Integer)
    old_la_id: Mapped[int | None] = mapped_column(Integer)
    new_la_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_utcnow)


class NotificationEvent(EventReferences, Base):
    """Something practitioners or LA teams are told about, written in the transaction that made it (an outbox).

    Only references: who is told what is worked out, and what they may see decided, when it is delivered
    (webapp.notifications), from the database as it is then.
    """
    __tablename__ = "notification_events"
    __table_args__ = (CheckConstraint(f"kind IN {NOTIFICATION_EVENT_KINDS}", name="ck_notification_events_kind"),)
