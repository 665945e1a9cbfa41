"""Stored linkage models: versioned like relevance profiles, one version active, the shipped default until then."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import profiles as versions
from ..models import Child, LinkageModelRow
from .model import DEFAULT_BODY, LinkageModel
from .training import counted_term_frequencies, with_term_frequencies


class ModelError(ValueError):
    """No such model version, or a body that is not a valid model."""


def default_model() -> LinkageModel:
    return LinkageModel.from_body(DEFAULT_BODY)


def active_model(session: Session) -> LinkageModel:
    """The model every load uses: the activated version, else the shipped default."""
    body = versions.active_body(session, LinkageModelRow)
    return LinkageModel.from_body(body) if body is not None else default_model()


SMALLEST_DIRECTORY = 10_000


def directory_size(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Child).where(Child.status == "active")) or 0


def for_directory(session: Session, model: LinkageModel) -> LinkageModel:
    """An untrained model as the directory stands: its prior (a new row is one of its children at best) and,
    when the model holds none, how common each name is in it.

    A trained model keeps the prior and frequencies it learnt. The directory is taken to hold at least
    SMALLEST_DIRECTORY children, so a nearly empty one does not make every pair look likely; below that
    size name frequencies say little and are left out.
    """
    if model.to_body().get("trained"):
        return model
    children = directory_size(session)
    model = model.with_prior(1 / max(children, SMALLEST_DIRECTORY))
    if children < SMALLEST_DIRECTORY or any(model.to_body()["term_frequencies"].values()):
        return model
    # How common each name is, so a shared "Khan" weighs less than a shared rare name (one GROUP BY per kind).
    active = Child.status == "active"
    given, family = (session.execute(select(column, func.count()).where(active).group_by(column)).tuples().all()
                     for column in (Child.given_name, Child.family_name))
    return with_term_frequencies(model, counted_term_frequencies(given, family, children))


GROWTH = 1.5


class GrowingDirectory:
    """An untrained model kept in step with a directory that grows while it is used.

    A first load of a million rows starts from an empty directory: judged all the way with the prior and
    name frequencies of an empty one, every sibling and every common name would look like the same child.
    The model is read again from the directory each time it has grown by half (a dozen times up to a
    million children), not every batch: the frequencies cost a GROUP BY over every child.
    """

    def __init__(self, session: Session, model: LinkageModel):
        self.base, self.model = model, for_directory(session, model)
        self.trained = bool(model.to_body().get("trained"))
        self.sized_at = self.size = directory_size(session)

    def added(self, session: Session, children: int) -> LinkageModel:
        """``children`` more were made: the model to use from now on."""
        self.size += children
        if not self.trained and self.size >= GROWTH * max(self.sized_at, SMALLEST_DIRECTORY):
            self.model = for_directory(session, self.base)
            self.sized_at = self.size = directory_size(session)
        return self.model


def find_model(session: Session, name: str, version: int | None = None) -> LinkageModel:
    body = versions.stored_body(session, name, version, LinkageModelRow)
    if body is not None:
        return LinkageModel.from_body(body)
    default = default_model()
    if name == default.name and version in (None, default.version):
        return default
    raise ModelError(f"model: no linkage model {name!r}" + (f" version {version}" if version else ""))


def save_model(session: Session, model: LinkageModel, created_by: str) -> LinkageModel:
    """Store ``model`` as the next version of its name (never overwrites one); returns it as stored."""
    shipped = default_model()
    latest = versions.latest_version(session, model.name, LinkageModelRow) \
        or (shipped.version if model.name == shipped.name else 0)
    stored = LinkageModel.from_body({**model.to_body(), "version": latest + 1})
    versions.add_version(session, stored.to_body(), created_by, LinkageModelRow)
    return stored


def activate_model(session: Session, model: LinkageModel, created_by: str) -> None:
    versions.activate_version(session, model.to_body(), created_by, LinkageModelRow)
