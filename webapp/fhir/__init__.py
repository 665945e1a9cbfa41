"""FHIR R4 façade under /fhir: the JSON API's searches and record views, translated to and from FHIR.

Nothing here decides who may see what: every read goes through webapp.services, as the JSON API's do.
"""
from .views import bp

__all__ = ["bp"]
