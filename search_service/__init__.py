"""The only package that builds Elasticsearch queries; also provisions the local node."""
from .client import local_engine, make_client
from .engine import EngineError, LocalEngine
from .queries import Criteria, build_query
from .search import Candidate, Found, SearchIncomplete, SearchOutcome, find, search, shortlist

__all__ = ["Candidate", "Criteria", "EngineError", "Found", "LocalEngine", "SearchIncomplete", "SearchOutcome",
           "build_query", "find", "local_engine", "make_client", "search", "shortlist"]
